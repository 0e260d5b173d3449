"""Verifier role: endorse the updates this member is drawn for, after the submitter's reveal.

For one update: fetch and decrypt the mapped delta and the revealed unmapped first layer
(``BAD_BLOB`` when either does not open to an update: it does not decrypt, is not laid out as a
fresh update the aggregator can sum (`Vault.open_update`), has another layout than the model, or
holds entries that are NaN, infinite or beyond what encryption takes,
`federation.ledgerview.open_delta`), rebuild the submitter's layer from the revealed nonce, check
the reveal (``INCONSISTENT_REVEAL``) and whether the mapped model was made behind another
revealed layer of the task (``SML_MISMATCH``, `federation.ledgerview.foreign_origin`), evaluate
base+Δ, base−Δ and the mapped model behind the layer on this member's **held-out** rows, and let
`consortium.federation.checks.decide` judge against this verifier's references: the deltas of
updates it accepted recently and its own deltas (norm; when it has neither, the updates the
ledger accepted; when the ledger has accepted none either, the other members' submissions on
the update's base), every earlier revealed update of the task on the ledger and its own deltas
(duplicates), the trajectory of the accepted versions (direction), and the other members'
accepted deltas on nearby bases that it has opened already (a score: it decrypts nothing for
it). A verifier that is also a hospital waits until it has trained once, so that even the first
update it sees is compared with something, unless its node will not train (its budget or its
site's cap refused): then it verifies as a member that is only a verifier does, against what
the ledger accepted or, while that is nothing, the base's other submissions, and abstains while
fewer than `Thresholds.min_peers` members sent one (docs/decisions/0007-bafl.md, "A verifier
that never trains"). The verdict goes on the
ledger with its reason code and the integer scores that describe the update; the scores measured
on held-out rows stay in the verifier's state (`published`, `HELD_OUT_SCORES`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from consortium.federation.checks import Evidence, Reference, Verdict, decide, flatten
from consortium.federation.ledgerview import (
    cache_delta,
    cached_delta,
    duplicate_candidates,
    foreign_origin,
    open_delta,
    opened_delta,
    peer_submissions,
    revealed_updates,
    revoked_members,
    update_delta,
)
from consortium.federation.losses import log_loss
from consortium.federation.session import Session
from consortium.federation.trainer import trains_no_more
from consortium.federation.vault import VaultError

__all__ = ["HELD_OUT_SCORES", "metric_bp", "published", "verify_step", "verify_update"]

Arrays = OrderedDict[str, np.ndarray]

# Below this many held-out rows of the rarer class an AUROC moves by thousands of basis points
# from one row (Switzerland's held-out split has 1 negative; VA's has 9, Cleveland's and
# Hungary's 27 and 20): the metric checks (mirror test, metric drop) are skipped there; norm,
# trajectory direction and duplicate checks still apply. On version 0, with no trajectory yet,
# no direction check is left, and an update that passes the others gets an abstention, not an
# accept (`checks.decide`).
MIN_CLASS_ROWS = 8


def metric_measurable(positives: int, rows: int) -> bool:
    """Whether held-out rows with ``positives`` of ``rows`` positive can measure the metric:
    at least `MIN_CLASS_ROWS` of each class (verifiers, attesters, the demo's table)."""
    return min(positives, rows - positives) >= MIN_CLASS_ROWS


# Scores computed on this verifier's held-out patients (`checks._scores`). They decide here and are
# kept in the verifier's own state, never published: each is an exact function of patient rows
# that no accountant covers, and a member can craft an update that turns it into a question about
# one patient (is this row held out here, and what is its label; decisions/0004, "What the
# verifiers publish"). The ledger gets the verdict and reason, the scores that describe the
# update itself (norms, cosines with DP-trained deltas), and the metric of an *accepted* update,
# which the aggregator's contribution weights need (0007, "Weights").
HELD_OUT_SCORES = frozenset({"base_metric_bp", "mirror_bp", "sml_metric_bp", "loss_sym_bp"})


def published(verdict: Verdict) -> tuple[int, dict[str, int]]:
    """What of ``verdict`` goes on the ledger: (metric_bp, scores).

    Scores are held to the ledger's integer range (±(2**53 − 1), what JavaScript holds exactly):
    a crafted update far out of scale (a norm z of 10¹² and more) would otherwise make the
    contract refuse the endorsement, and the verifier would stop on it at every restart. The
    verdict is decided before, on the exact values, and no threshold is anywhere near the bound.
    """
    from consortium.ledger.contract.records import MAX_SAFE

    metric = max(0, min(10_000, verdict.metric_bp)) if verdict.accepted else 0
    scores = {k: max(-MAX_SAFE, min(MAX_SAFE, v)) for k, v in verdict.scores.items()
              if k not in HELD_OUT_SCORES}  # fmt: skip
    return metric, scores


# Other members' updates within this many versions of the update's base are its trajectory-free
# direction reference (docs/decisions/0007-bafl.md).
OTHERS_BASE_SPAN = 1


def _model(model_arrays: Arrays, s: Session) -> Any:
    from consortium.learning.models import build_model, load_arrays

    model = build_model(s.spec(), seed=0)
    load_arrays(model, OrderedDict((k, v.astype(np.float32)) for k, v in model_arrays.items()))
    return model


def metric_bp(model_arrays: Arrays, s: Session, layer: np.ndarray | None = None) -> int:
    """AUROC (bp) of a model on the held-out rows (behind ``layer`` when given).

    Falls back to accuracy when the held-out rows have a single class (AUROC undefined).
    """
    from consortium.learning.evaluate import evaluate
    from consortium.pole.sml import evaluate_behind

    assert s.cohort is not None
    model = _model(model_arrays, s)
    X, y = s.cohort.X_test, s.cohort.y_test
    metrics = evaluate_behind(model, layer, X, y) if layer is not None else evaluate(model, X, y)
    if metrics.auroc_bp is not None:
        return int(metrics.auroc_bp)
    return round(metrics.accuracy * 10_000)


def _loss(model_arrays: Arrays, s: Session) -> float:
    assert s.cohort is not None
    return log_loss(_model(model_arrays, s), s.cohort.X_test, s.cohort.y_test)


def _references(
    s: Session, update: dict[str, Any], first: np.ndarray,
    ledger: list[tuple[dict[str, Any], str]], views: list[dict[str, Any]],
) -> Reference:  # fmt: skip
    """What ``update`` is compared with; ``ledger``: the other revealed updates submitted no
    later (`ledgerview.revealed_updates`), ``views``: the task's ``ListUpdates``."""
    base = int(update["base_version"])
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "verifier.json", default={})
    window = s.settings.reference_window
    recent_ids = mem.get("accepted", [])[-window:]
    recent = [cached_delta(s, u) for u in recent_ids]
    own_dir = s.state.path("tasks", s.task_id, "own")
    own_files = sorted(own_dir.glob("*.npz")) if own_dir.is_dir() else []
    own = [s.state.read_arrays("tasks", s.task_id, "own", f.name) for f in own_files]
    norms = [a for a in [*recent, *own[-window:]] if a is not None]
    if not norms:  # nothing of its own (a hospital that will not train): the committees' choice
        norms = _ledger_accepted(s, ledger, window)
    # Nothing accepted anywhere yet (a consortium whose verifiers never train, on version 0):
    # the cross-section of the base, the other members' submissions on it. Opened only then.
    peers = [] if norms else _peer_deltas(s, update, views)
    # Duplicates: every earlier revealed update on the ledger whose revealed first layer is close
    # to this one's (a copy is close in every layer; only those are opened in full), and every
    # delta this member submitted.
    candidates = duplicate_candidates(s, first, [u for u, _ in ledger])
    earlier = [update_delta(s, u) for u in candidates] + own
    # Direction without a trajectory: other members' accepted updates on this or nearby bases,
    # those this member has opened already (a score that decides nothing is not worth a
    # decryption: docs/decisions/0007-bafl.md, "What encryption costs").
    near = [u for u, st in ledger if st in ("accepted", "included")
            and u["member_id"] != update["member_id"]
            and abs(int(u["base_version"]) - base) <= OTHERS_BASE_SPAN]  # fmt: skip
    near.sort(key=lambda u: int(u["submitted_ms"]))
    opened = [d for d in (opened_delta(s, u) for u in near) if d is not None]
    others = opened[-window:]
    steps, trajectory = [], None
    if base >= 1:
        cur = flatten(s.version(base))
        for old in range(max(0, base - 3), base):
            steps.append(cur - flatten(s.version(old)))
        trajectory = cur - flatten(s.version(0))
    return Reference(
        recent_deltas=[flatten(a) for a in norms],
        earlier_deltas=[flatten(a) for a in earlier if a is not None],
        global_steps=steps,
        trajectory=trajectory,
        others=[flatten(a) for a in others if a is not None],
        peer_deltas=[flatten(a) for a in peers],
    )


def _ledger_accepted(
    s: Session, ledger: list[tuple[dict[str, Any], str]], window: int
) -> list[Arrays]:
    """The deltas of the last ``window`` updates of ``ledger`` (by submission) that their
    committees accepted, opened once each and cached (`ledgerview.update_delta`)."""
    accepted = [u for u, st in ledger if st in ("accepted", "included")]
    accepted.sort(key=lambda u: int(u["submitted_ms"]))
    deltas = [update_delta(s, u) for u in accepted[-window:]]
    return [d for d in deltas if d is not None]


def _peer_deltas(s: Session, update: dict[str, Any], views: list[dict[str, Any]]) -> list[Arrays]:
    """The deltas of the other members' submissions on ``update``'s base
    (`ledgerview.peer_submissions`), opened once each and cached (`ledgerview.update_delta`);
    one whose blobs do not open is left out, and so is a revoked member's (revocation takes it
    out of the consortium's judgement: what it sent is no one's reference, 0001 "Revocation")."""
    revoked = revoked_members(s)
    peers = [u for u in peer_submissions(update, views) if u["member_id"] not in revoked]
    deltas = [update_delta(s, u) for u in peers]
    return [d for d in deltas if d is not None]


def _remember(s: Session, update_id: str, verdict: Verdict) -> None:
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "verifier.json", default={})
    mem.setdefault("seen", []).append(update_id)  # its delta is in the ledger cache already
    # A norm reference: an update that passed every check it ran, and an abstention for want of
    # a direction check (its norm was compared); not one for want of a norm reference, which may
    # be a ×10 update (`checks.decide`). Nor one whose norm was compared with the base's other
    # submissions (score ``norm_peers``): its submitters, not a committee, made that reference,
    # and a majority of ×10 submitters would pass a ×10 update. Remembered, it would be this
    # verifier's reference for `reference_window` updates; left out, an update is compared with
    # what the ledger accepted once it has accepted anything submitted no later (`_references`).
    unnormed = not verdict.accepted and "norm_ratio_bp" not in verdict.scores
    peered = "norm_peers" in verdict.scores
    if verdict.passed and not unnormed and not peered:
        mem.setdefault("accepted", []).append(update_id)
    mem.setdefault("done", []).append(update_id)
    s.state.write_json(mem, "tasks", s.task_id, "verifier.json")


def _bad_blob() -> Verdict:
    return Verdict(verdict="reject", reason="BAD_BLOB", metric_bp=0, scores={})


def _sml_evidence(
    s: Session, update: dict[str, Any], mapped: Arrays, revealed_first: np.ndarray
) -> tuple[float, int]:
    """(relative reveal error, metric of the mapped model behind the rebuilt layer)."""
    from consortium.pole.sml import consistent_reveal, first_layer_name, map_state, sml_layer

    base_h = int(update["base_version"])
    base = s.version(base_h)
    first = first_layer_name(base)
    block = s.q("GetVersion", task_id=s.task_id, version=base_h)
    dim = base[first].shape[1]
    layer = sml_layer(s.task_id, block["model_digest"], update["member_id"], update["nonce"], dim)
    expected = np.asarray(mapped[first], dtype=np.float64) @ layer
    denom = max(1e-12, float(np.linalg.norm(expected)))
    reveal_err = float(np.linalg.norm(expected - revealed_first)) / denom
    if not consistent_reveal(mapped[first], revealed_first, layer, atol=1e-4):
        reveal_err = max(reveal_err, 1.0)
    base_mapped = map_state(base, layer)
    mapped_model = OrderedDict((k, base_mapped[k] + mapped[k]) for k in base)
    return reveal_err, metric_bp(mapped_model, s, layer)


def on_probation(update: dict[str, Any], views: list[dict[str, Any]]) -> bool:
    """Whether the submitter's last judged update before ``update`` was rejected as a direction
    outlier (a rejecting endorsement naming ``DIRECTION_OUTLIER``): judged means accepted (or
    included), or rejected so; an accepted update ends probation, a rejection for another reason
    neither starts nor ends it (`Thresholds.probation_z`). ``views`` is the task's
    ``ListUpdates``: read from the ledger, every verifier of the update sees the same history."""
    member, ms = update["member_id"], int(update["submitted_ms"])
    last: tuple[int, bool] | None = None  # (submitted_ms, direction-rejected)
    for v in views:
        u = v["update"]
        if u["member_id"] != member or int(u["submitted_ms"]) >= ms:
            continue
        direction = v["status"] == "rejected" and any(
            e["verdict"] == "reject" and e["reason"] == "DIRECTION_OUTLIER"
            for e in v["endorsements"]
        )
        if (direction or v["status"] in ("accepted", "included")) and (
            last is None or int(u["submitted_ms"]) > last[0]
        ):
            last = (int(u["submitted_ms"]), direction)
    return last is not None and last[1]


def direction_record(update: dict[str, Any], views: list[dict[str, Any]]) -> list[float]:
    """The trajectory cosines of the submitter's judged updates before ``update`` (accepted,
    included or rejected), oldest first (`Thresholds.record_z`). Each is the highest of its
    committee's recorded ``cosine_bp``: the verifiers of one update measure the same cosine (the
    same delta against the same versions), so a verifier that records a lower one cannot lower
    another member's record alone. ``views`` is the task's ``ListUpdates``."""
    member, ms = update["member_id"], int(update["submitted_ms"])
    found: list[tuple[int, float]] = []
    for v in views:
        u = v["update"]
        if u["member_id"] != member or int(u["submitted_ms"]) >= ms:
            continue
        if v["status"] not in ("accepted", "included", "rejected"):
            continue
        cosines = [e["scores"].get("cosine_bp") for e in v["endorsements"]]
        cosines = [c for c in cosines if c is not None]
        if cosines:
            found.append((int(u["submitted_ms"]), max(cosines) / 10_000))
    return [c for _, c in sorted(found)]


def verify_update(s: Session, update: dict[str, Any]) -> tuple[Verdict, Arrays | None]:
    """The verdict on one revealed update (and its unmapped delta when it could be opened)."""
    from consortium.pole.sml import first_layer_name

    try:
        mapped, delta = open_delta(s, update)
    except (VaultError, OSError, ValueError, KeyError):
        return _bad_blob(), None
    cache_delta(s, str(update["update_id"]), delta)  # one decryption per member and update
    base = s.version(int(update["base_version"]))
    first = first_layer_name(base)
    views = s.q("ListUpdates", task_id=s.task_id)  # read once: reveals, probation, record
    ledger = revealed_updates(s, update, views)
    reveal_err, sml_bp, origin = 0.0, None, None
    if s.task()["sml"]:
        reveal_err, sml_bp = _sml_evidence(s, update, mapped, delta[first])
        origin = foreign_origin(s, mapped[first], [u for u, _ in ledger])
    updated = OrderedDict((k, base[k].astype(np.float64) + delta[k]) for k in base)
    mirror = OrderedDict((k, base[k].astype(np.float64) - delta[k]) for k in base)
    assert s.cohort is not None
    reliable = metric_measurable(int(s.cohort.y_test.sum()), len(s.cohort.y_test))
    ev = Evidence(
        delta=flatten(delta), metric_bp=metric_bp(updated, s), base_metric_bp=metric_bp(base, s),
        sml_metric_bp=sml_bp, reveal_rel_error=reveal_err,
        reference=_references(s, update, delta[first], ledger, views), metric_reliable=reliable,
        mirror_metric_bp=metric_bp(mirror, s), foreign_layer=origin is not None,
        loss_sym_bp=round((_loss(updated, s) - _loss(mirror, s)) * 10_000),
        on_probation=on_probation(update, views), record=direction_record(update, views),
    )  # fmt: skip
    return decide(ev, s.settings.verifier), delta


def _ready(s: Session) -> bool:
    """A hospital verifier waits for its own first delta (its reference of last resort), unless
    its node will not train (`trainer.trains_no_more`): waiting would take its seat out of every
    committee it is drawn for, without a verdict, for good."""
    if "hospital" not in s.roles:
        return True
    own = s.state.path("tasks", s.task_id, "own")
    return (own.is_dir() and any(own.glob("*.npz"))) or trains_no_more(s)


def verify_step(s: Session, candidates: list[str]) -> bool:
    """Endorse the next update of ``candidates`` this member must verify; True if it did."""
    if "verifier" not in s.roles or s.cohort is None or not _ready(s):
        return False
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "verifier.json", default={})
    done = set(mem.get("done", []))
    for update_id in candidates:
        if update_id in done:
            continue
        view = s.q("GetUpdate", task_id=s.task_id, update_id=update_id)
        update = view["update"]
        mine = any(e["member_id"] == s.member_id for e in view["endorsements"])
        if mine and update_id not in mem.get("seen", []):
            # Endorsed, then killed before `_remember`: remember it from the verdict kept before
            # endorsing, or an update it accepted would be missing from its norm references.
            saved = s.state.read_json("tasks", s.task_id, "verdicts", f"{update_id}.json")
            if saved is not None and saved.get("reason") != "BAD_BLOB":
                _remember(s, update_id, Verdict.model_validate(saved))
                mem = s.state.read_json("tasks", s.task_id, "verifier.json", default={})
                continue
        if s.member_id not in update["committee"] or mine or view["status"] != "pending":
            mem.setdefault("done", []).append(update_id)
            s.state.write_json(mem, "tasks", s.task_id, "verifier.json")
            continue
        if update["nonce"] is None:
            continue  # wait for the reveal
        verdict, delta = verify_update(s, update)
        # the whole verdict stays here, with the patients it was measured on
        s.state.write_json(verdict.model_dump(), "tasks", s.task_id, "verdicts",
                           f"{update_id}.json")  # fmt: skip
        metric, scores = published(verdict)
        res = s.ledger.submit("Endorse", {
            "task_id": s.task_id, "update_id": update_id, "verdict": verdict.verdict,
            "reason": verdict.reason, "metric_bp": metric, "scores": scores,
        })  # fmt: skip
        # VERDICT_CLOSED: the task's verdict_timeout_ms passed while this verifier judged; its
        # seat counts as an abstention now, and the update is decided without it
        if not res.valid and res.code not in ("ALREADY_ENDORSED", "VERDICT_CLOSED"):
            raise RuntimeError(f"Endorse refused: {res.code}: {res.message}")
        if delta is not None:
            _remember(s, update_id, verdict)
        else:
            mem.setdefault("done", []).append(update_id)
            s.state.write_json(mem, "tasks", s.task_id, "verifier.json")
        return True
    return False
