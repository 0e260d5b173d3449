"""Aggregator role: buffer accepted updates, weigh them, sum them on ciphertexts, post the sum.

FedBuff-style buffering (Nguyen et al., AISTATS 2022): the aggregator waits until the task's
``buffer_size`` accepted, not yet included updates exist (or, so that a straggler's update is not
held forever, until the oldest one has waited ``flush_seconds``), then aggregates all of them at
once — and, asynchronously, any accepted while that sum was being computed (on ciphertexts it
takes seconds): the sum is computed once more with them rather than leaving each to be flushed
alone after the next block. Weights are public integers (`consortium.federation.weights`)
computed from the ledger only: base versions (staleness), sample counts and the verifiers'
endorsement metrics and scores.

The aggregator holds the public CKKS context only: it can add and scale ciphertexts, never
decrypt (tests/federation/test_he_vault.py tries). Before summing it swaps in each update's
revealed first layer in global coordinates (0001, "The Secure Mapping Layer in the protocol").

A revoked member's accepted updates are left out: nothing of a revoked member enters a block
(the contract refuses an aggregate or a proposal naming one, MEMBER_REVOKED; 0001-protocol.md,
"Revocation"), and a synchronous round does not wait for a revoked hospital. So is an accepted
update grown too stale while it waited: more than the task's ``max_staleness`` versions behind the
head (`too_stale`), it enters no aggregate (the contract refuses one, STALE_BASE), and a buffer
holding it would be refused at every step.

One aggregate at a time: a posted aggregate is outstanding until the head moves past the height
it was computed at, or a sealer's proposal for it closes, or the member of one of its updates is
revoked (no proposal of it can be made, so none would close it), or it has waited
``sealer_timeout`` × (number of hospitals + 1) (all sealers gone): then the updates are aggregated
afresh — except when its block fell below the required gain: the same updates on the same head
make the same version, so the aggregator waits for another accepted update or a new head instead
of posting the same sum again (which looped, re-drawing attestation committees until one passed
the same version; decisions/0007-bafl.md). It tries the same sum again once the task's decaying
requirement (`consortium.pole.difficulty.required_gain_at`) has fallen to the gain that sum was
attested with, or at the latest after the outstanding timeout above, so that a round nobody can
add to (the synchronous baseline, or the last updates of a task) is not stuck for good. An
aggregator killed after its `PostAggregate` committed but before ``aggregator.json`` recorded it
finds that aggregate on the ledger (``ListAggregates``: its own, on the head, later than the one
recorded) before it sums anything, and waits on it as if recorded, instead of computing the same
sum on ciphertexts and posting it a second time. If its proposal closed meanwhile, the restarted
follower reads that close before the aggregator finds the aggregate: `close_aggregate` keeps a
close of an aggregate ``aggregator.json`` does not name (the last `KEPT_CLOSES`), and the
aggregate is taken up closed, not as outstanding (which waited out the outstanding timeout and
then posted a sum that fell short again).

The synchronous baseline (`NodeSettings.sync_members`) waits instead for every listed hospital's
update on the current head to be decided (or for the hospital to have sent all its planned
updates): synchronous FedAvg, through the same ledger transactions. Like FedAvg's round timeout,
it waits for a hospital that has sent nothing on the head for ``sync_round_seconds`` after the
round's first update at most, then goes on with the accepted updates it has (`_round_over`).
"""

from __future__ import annotations

import statistics
from typing import Any

from consortium.federation.ledgerview import revoked_members
from consortium.federation.session import Session
from consortium.federation.weights import BufferedUpdate, BufferWeights, buffer_weights
from consortium.ledger.contract.committee import committee_outcome
from consortium.ledger.contract.records import too_stale as beyond_max_staleness

__all__ = [
    "WEIGHT_TOLERANCE_PPM",
    "aggregate_step",
    "attested_gain",
    "buffered",
    "close_aggregate",
    "fell_short",
    "revoked_members",
    "short_for_good",
    "too_stale",
    "weights_as_ledger_says",
]

# Weights are floats rounded to ppm (`weights.buffer_weights`): another machine's libm may round a
# last digit the other way, so a sealer or attester accepts this much difference per weight.
WEIGHT_TOLERANCE_PPM = 2

# Closes of aggregates aggregator.json does not name that it keeps, for one it finds on the ledger
# after a kill (`_adopt_posted`): a restart reads at most the proposals closed since its last post.
KEPT_CLOSES = 20


def buffered(view: dict[str, Any]) -> BufferedUpdate:
    """The aggregator's view of an accepted update: ledger numbers only, from the endorsements
    that decided it (`_deciding`): a later one must not change the weights a sealer recomputes."""
    u = view["update"]
    accepts = [e for e in _deciding(view) if e["verdict"] == "accept"]

    def med(key: str) -> int:
        vals = [int(e["scores"][key]) for e in accepts if key in e["scores"]]
        return int(statistics.median_low(vals)) if vals else 0

    metrics = [int(e["metric_bp"]) for e in accepts]
    return BufferedUpdate(
        update_id=u["update_id"], member_id=u["member_id"], base_version=u["base_version"],
        n_samples=u["n_samples"], metric_bp=int(statistics.median_low(metrics)) if metrics else 1,
        cosine_bp=med("cosine_bp"), norm_z_bp=med("norm_z_bp"),
    )  # fmt: skip


def attested_gain(attestations: list[dict[str, Any]]) -> int | None:
    """A proposal's block gain as the contract takes it (`median_attestation` of the accepting
    attestations, from `GetProposal`); None without an accept."""
    from consortium.ledger.contract._blocks import median_attestation
    from consortium.ledger.contract.records import Attestation

    accepts = [Attestation.model_validate(a) for a in attestations if a["verdict"] == "accept"]
    if not accepts:
        return None
    median = median_attestation(accepts)
    return median.metric_bp - median.base_metric_bp


def _deciding(view: dict[str, Any]) -> list[dict[str, Any]]:
    """An accepted update's endorsements up to the one that decided it under the contract's rule
    (`committee_outcome`; an abstention can be the deciding one, giving its seat up so that the
    accepts already there suffice), in ledger time order (ties by member id). An update accepted
    only because a committee member was revoked before its verdict has no deciding endorsement
    here: then every seat left has given its verdict, and all of them decided it."""
    u = view["update"]
    counts = {"accept": 0, "reject": 0, "abstain": 0}
    ends = sorted(view["endorsements"], key=lambda e: (int(e["ms"]), str(e["member_id"])))
    for n, e in enumerate(ends, start=1):
        counts[e["verdict"]] += 1
        outcome = committee_outcome(
            len(u["committee"]), int(u["quorum"]), accepts=counts["accept"],
            rejects=counts["reject"], abstentions=counts["abstain"],
        )  # fmt: skip
        if outcome == "accept":
            return ends[:n]
    return ends


def _accepted_ms(view: dict[str, Any]) -> int:
    """When an accepted update became accepted: its deciding endorsement's time."""
    return int(_deciding(view)[-1]["ms"])


def weights_as_ledger_says(s: Session, agg: dict[str, Any], head: int) -> bool:
    """Are ``agg``'s weights and reward shares those `buffer_weights` gives its updates on the
    ledger at ``head``? The contract stores the aggregator's numbers as given; a sealer and the
    attesters check them, so that an aggregator cannot steer weight or reward within the accepted
    updates (within `WEIGHT_TOLERANCE_PPM` per number)."""
    views = [s.q("GetUpdate", task_id=s.task_id, update_id=u) for u in agg["updates"]]
    if any(v["status"] not in ("accepted", "included") for v in views):
        return False
    expected = buffer_weights([buffered(v) for v in views], head=head,
                              exponent_bp=int(s.task()["staleness_exponent_bp"]))  # fmt: skip

    def close(a: list[int], b: list[int]) -> bool:
        return len(a) == len(b) and all(
            abs(x - y) <= WEIGHT_TOLERANCE_PPM for x, y in zip(a, b, strict=True)
        )

    return (
        expected.updates == list(agg["updates"])
        and close(expected.weights_ppm, [int(w) for w in agg["weights_ppm"]])
        and close(expected.contribution_ppm, [int(c) for c in agg["contribution_ppm"]])
    )


def _outstanding(s: Session, head: dict[str, Any], mem: dict[str, Any]) -> bool:
    last = mem.get("last")
    if not last or last["head"] != head["height"]:
        return False
    if last.get("closed"):
        return False
    return bool(s.clock() - last["posted_at"] < _timeout(s, mem))


def _timeout(s: Session, mem: dict[str, Any]) -> float:
    """How long an aggregate stays outstanding: every hospital's turn to seal, and one more."""
    n_hospitals = max(1, int(mem.get("hospitals", 4)))
    return float(s.settings.sealer_timeout_seconds * (n_hospitals + 1))


def _sync_ready(
    s: Session, head: int, views: list[dict[str, Any]], revoked: set[str]
) -> list[dict[str, Any]]:
    everything = [v for v in s.q("ListUpdates", task_id=s.task_id)
                  if v["update"]["member_id"] not in revoked]  # fmt: skip
    on_head = [v for v in everything if v["update"]["base_version"] == head]
    missing = False
    for member in s.settings.sync_members:
        if member in revoked:
            continue  # it sends nothing more, and nothing it sent enters a block
        own = [v for v in everything if v["update"]["member_id"] == member]
        at_head = [v for v in own if v["update"]["base_version"] == head]
        if at_head and at_head[0]["status"] == "pending":
            return []  # wait for its verdict
        missing = missing or (not at_head and len(own) < s.settings.planned_updates)
    if missing and not _round_over(s, on_head):
        return []  # wait for it to train on this round's model, until the round's deadline
    # One snapshot: an update accepted between two queries must not be left out of the round.
    return [v for v in on_head if v["status"] == "accepted"]


def _round_over(s: Session, on_head: list[dict[str, Any]]) -> bool:
    """Has the synchronous round on the head run out of time: ``sync_round_seconds`` since its
    first update was submitted (FedAvg's round timeout)? A hospital that has sent nothing by then
    is not waited for: its node may never send (its site's ε cap refuses to train, which only its
    own state records), and the round goes on with the updates it has. Counted from the first
    update, not from the head's block, so that nodes starting up do not use up the round."""
    if not on_head:
        return False  # nothing to aggregate yet: wait for the first update
    first = min(int(v["update"]["submitted_ms"]) for v in on_head)
    return s.now_ms() - first >= s.settings.sync_round_seconds * 1000


def _select(
    s: Session, head: int, views: list[dict[str, Any]], revoked: set[str] | None = None
) -> list[dict[str, Any]]:
    """The accepted updates to aggregate now (none: wait); ``views`` holds no revoked member's."""
    if s.settings.sync_members:
        return _sync_ready(s, head, views, revoked or set())
    if len(views) >= int(s.task()["buffer_size"]):
        return views
    if (
        views
        and s.now_ms() - min(_accepted_ms(v) for v in views) >= s.settings.flush_seconds * 1000
    ):
        return views
    return []


def fell_short(mem: dict[str, Any], head: int) -> set[str]:
    """The updates of the last aggregate if its block fell below the required gain on ``head``
    (``mem`` is the aggregator's ``aggregator.json``); they wait for company or a new head."""
    last = mem.get("last") or {}
    if last.get("head") != head or last.get("closed") != "below_target":
        return set()
    return set(last.get("updates", []))


def short_for_good(mem: dict[str, Any], task: dict[str, Any], head: dict[str, Any]) -> set[str]:
    """The updates of a sum that fell short on ``head`` (`fell_short`) and that no decay of the
    requirement will let through: the task does not decay, or the bar's floor is above the gain
    the sum was attested with. Otherwise the aggregator tries the sum again once the bar has
    decayed to that gain, within ``gain_decay_intervals + 1`` target intervals of the head."""
    from consortium.ledger.contract.records import TaskRecord
    from consortium.pole.difficulty import required_gain_at

    short = fell_short(mem, int(head["height"]))
    gain = (mem.get("last") or {}).get("gain_bp")
    if not short or gain is None:
        return short
    rec = TaskRecord.model_validate(task)
    lowest = required_gain_at(rec, int(head["required_gain_bp"]),
                              rec.target_interval_ms * (rec.gain_decay_intervals + 1))  # fmt: skip
    return short if lowest > int(gain) else set()


def _bar_decayed(s: Session, head: dict[str, Any], last: dict[str, Any]) -> bool:
    """Has the head's requirement decayed (`required_gain_at`, for a proposal made now) to the
    gain the same sum was attested with when it fell short? Then the same version passes."""
    from consortium.ledger.contract.records import TaskRecord
    from consortium.pole.difficulty import required_gain_at

    if last.get("gain_bp") is None:
        return False
    task = TaskRecord.model_validate(s.task())
    interval = max(0, s.now_ms() - int(head["ms"]))
    return required_gain_at(task, int(head["required_gain_bp"]), interval) <= int(last["gain_bp"])


def _waits_for_company(
    s: Session, head: dict[str, Any], mem: dict[str, Any], chosen: list[dict[str, Any]]
) -> bool:
    """Did the same sum fall short on this head, less than the outstanding timeout ago, with the
    bar not yet decayed to its gain? Then it waits for another update (module docstring)."""
    same = {v["update"]["update_id"] for v in chosen} == fell_short(mem, int(head["height"]))
    if not same:
        return False
    waited = s.clock() - mem["last"].get("closed_at", 0.0)
    return waited < _timeout(s, mem) and not _bar_decayed(s, head, mem["last"])


def _weighed(s: Session, views: list[dict[str, Any]], head: int) -> tuple[BufferWeights, str]:
    """The buffer's weights (`buffer_weights`) and the digest of its stored weighted sum."""
    task = s.task()
    bw = buffer_weights([buffered(v) for v in views], head=head,
                        exponent_bp=int(task["staleness_exponent_bp"]))  # fmt: skip
    return bw, _aggregate_blob(s, bw.updates, bw.weights_ppm)


def _aggregate_blob(s: Session, ids: list[str], weights: list[int]) -> str:
    """Store the weighted sum, computed exactly as anyone recomputes it from the ledger."""
    from consortium.federation.recompute import recompute_aggregate

    block = {"updates": ids, "weights_ppm": weights}
    return s.blobs.put(recompute_aggregate(s.ledger, s.blobs, s.vault, s.task_id, block))


def _drop_if_revoked(s: Session, head: int, mem: dict[str, Any], revoked: set[str]) -> None:
    """Close the outstanding aggregate when one of its updates' members has been revoked since it
    was posted: the contract refuses every proposal of it (MEMBER_REVOKED), so no proposal will
    close it and waiting out its timeout would only hold the accepted updates back."""
    last = mem.get("last")
    if not revoked or not last or last.get("closed") or last.get("head") != head:
        return
    members = last.get("members")
    if members is None:  # posted before the members were recorded
        members = [s.q("GetUpdate", task_id=s.task_id, update_id=u)["update"]["member_id"]
                   for u in last.get("updates", [])]  # fmt: skip
    if revoked & set(members):
        last["closed"], last["closed_at"] = "member_revoked", s.clock()
        s.state.write_json(mem, "tasks", s.task_id, "aggregator.json")


def too_stale(update: dict[str, Any], head: int, task: dict[str, Any]) -> bool:
    """Is ``update`` more than the task's ``max_staleness`` versions behind ``head``? Then no
    aggregate or proposal may include it (STALE_BASE): it stays accepted and is never included.
    The head only grows, so it never becomes includable again."""
    return beyond_max_staleness(head, int(update["base_version"]), int(task["max_staleness"]))


def _accepted(s: Session, revoked: set[str], head: int) -> list[dict[str, Any]]:
    """The task's accepted updates that may still enter a block at ``head``: a revoked member's
    and those grown too stale (`too_stale`) left out."""
    views = s.q("ListUpdates", task_id=s.task_id, status="accepted")
    task = s.task()
    return [v for v in views if v["update"]["member_id"] not in revoked
            and not too_stale(v["update"], head, task)]  # fmt: skip


def _adopt_posted(s: Session, head: int, mem: dict[str, Any]) -> bool:
    """Remember an aggregate this aggregator posted on ``head`` after the one ``mem`` names, if the
    ledger holds one: it was killed between `PostAggregate` and writing ``aggregator.json``. True
    when it did (the aggregate is then ``mem["last"]``, outstanding as if remembered at once)."""
    mine = [a for a in s.q("ListAggregates", task_id=s.task_id)
            if a["by"] == s.member_id and int(a["head"]) == head]  # fmt: skip
    known = next((a for a in mine if a["aggregate_id"] == (mem.get("last") or {}).get("id")), None)
    later = [a for a in mine if known is None or int(a["ms"]) > int(known["ms"])]
    if not later:
        return False
    newest = max(later, key=lambda a: int(a["ms"]))
    _remember(s, mem, str(newest["aggregate_id"]), head, int(newest["ms"]) / 1000,
              list(newest["updates"]), members=None)  # fmt: skip
    return True


def aggregate_step(s: Session) -> bool:
    """Post the next aggregate when the buffer is ready; True if it did."""
    if "aggregator" not in s.roles:
        return False
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "aggregator.json", default={})
    head = s.head()
    revoked = revoked_members(s)
    _drop_if_revoked(s, int(head["height"]), mem, revoked)
    if _outstanding(s, head, mem):
        return False
    views = _accepted(s, revoked, int(head["height"]))
    chosen = _select(s, int(head["height"]), views, revoked)
    if not chosen:
        return False
    if _waits_for_company(s, head, mem, chosen):
        return False  # the same sum already fell short on this head
    if _adopt_posted(s, int(head["height"]), mem) and (
        _outstanding(s, head, mem) or _waits_for_company(s, head, mem, chosen)
    ):
        return False  # posted just before a kill: not summed and posted a second time
    bw, digest = _weighed(s, chosen, int(head["height"]))
    if not s.settings.sync_members:
        # Updates accepted while the sum was computed (seconds on ciphertexts) join it, once:
        # left out, each would wait for company alone until the next block and then be flushed
        # by itself (decisions/0007, "What encryption costs").
        later = _accepted(s, revoked, int(head["height"]))
        if {v["update"]["update_id"] for v in later} > set(bw.updates):
            chosen = later
            bw, digest = _weighed(s, chosen, int(head["height"]))
    args = {"task_id": s.task_id, "updates": bw.updates, "weights_ppm": bw.weights_ppm,
            "contribution_ppm": bw.contribution_ppm, "aggregate_digest": digest}  # fmt: skip
    res = s.ledger.submit("PostAggregate", args)
    if not res.valid and not _refused_for_now(s, res.code):
        raise RuntimeError(f"PostAggregate refused: {res.code}: {res.message}")
    if res.valid:
        _remember(s, mem, res.tx_id, int(head["height"]), s.clock(),
                  [v["update"]["update_id"] for v in chosen],
                  members=[v["update"]["member_id"] for v in chosen])  # fmt: skip
    return True


def _remember(
    s: Session, mem: dict[str, Any], aggregate_id: str, head: int, posted_at: float,
    updates: list[str], *, members: list[str] | None,
) -> None:  # fmt: skip
    """Record the posted aggregate as outstanding in ``aggregator.json``, with its updates'
    members, which a later revocation is checked against (None: looked up when needed)."""
    mem["last"] = {"id": aggregate_id, "head": head, "posted_at": posted_at,
                   "updates": sorted(updates)}  # fmt: skip
    mem["last"].update(mem.get("closes", {}).pop(aggregate_id, {}))  # closed before it was found
    if members is not None:
        mem["last"]["members"] = sorted(set(members))
    everyone = s.q("ListMembers")
    mem["hospitals"] = sum(  # who can seal: a revoked hospital cannot
        1 for m in everyone if "hospital" in m["roles"] and m.get("status") != "revoked"
    )
    s.state.write_json(mem, "tasks", s.task_id, "aggregator.json")


def _refused_for_now(s: Session, code: str) -> bool:
    """A refusal the next step gets past: an update was included or its member revoked meanwhile,
    or a block appended meanwhile made one too stale (the next aggregate leaves it out). A revoked
    aggregator itself is refused for good."""
    if code in ("UPDATE_ALREADY_INCLUDED", "UPDATE_NOT_ACCEPTED", "STALE_BASE"):
        return True
    return code == "MEMBER_REVOKED" and s.member_id not in revoked_members(s)


def close_aggregate(s: Session, aggregate_id: str, status: str, gain_bp: int | None = None) -> None:
    """Mark the outstanding aggregate closed with its proposal's ``status`` (``below_target``,
    ``rejected``, ``superseded`` or ``member_revoked``): it is no longer outstanding (see the
    module docstring).
    ``gain_bp``: the block gain its attestations gave (below target: what the bar must decay to).

    Closing it again with the same status changes nothing: a restarted node reads again the
    transactions after its last saved position, and the wait for the same sum (`aggregate_step`)
    counts from the first close, not from the replay.

    A close of another aggregate is kept aside (`KEPT_CLOSES`): it may be this aggregator's own,
    posted just before a kill that came before ``aggregator.json`` named it, which the restarted
    aggregator finds on the ledger only after its follower has read the close (`_adopt_posted`)."""
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "aggregator.json", default={})
    last = mem.get("last", {})
    closed = {"closed": status, "closed_at": s.clock(), "gain_bp": gain_bp}
    if last.get("id") == aggregate_id:
        if last.get("closed") != status:
            mem["last"].update(closed)
            s.state.write_json(mem, "tasks", s.task_id, "aggregator.json")
        return
    kept: dict[str, Any] = mem.setdefault("closes", {})
    if kept.get(aggregate_id, {}).get("closed") != status:
        kept.pop(aggregate_id, None)
        kept[aggregate_id] = closed
        mem["closes"] = dict(list(kept.items())[-KEPT_CLOSES:])
        s.state.write_json(mem, "tasks", s.task_id, "aggregator.json")
