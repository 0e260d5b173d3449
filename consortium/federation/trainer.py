"""Hospital role: train on the newest version, submit the encrypted update, reveal the nonce.

Restart safety (a ``kill -9`` may land between any two lines):
1. the SML nonce is drawn and **written to disk before anything else**, so the commitment that
   will be submitted can always be opened later;
2. training reserves its ε in the persisted accountant before the first step (over-counting a run
   that released nothing is safe, under-counting is not); the encrypted blobs are then stored and
   their digests written next to the nonce;
3. `SubmitUpdate` is sent; if the process dies before it learns the outcome, the next attempt
   gets ``DUPLICATE_SUBMISSION`` and finds its own update on the ledger (one per member and base);
4. `RevealNonce` is sent once the submission is committed; ``ALREADY_REVEALED`` counts as done.

Attacks (`NodeSettings.attack`, for the poisoning tests) transform the honest delta in global
coordinates before it is mapped and encrypted, so the attacker's SML binding stays consistent and
only the verifier's content checks can catch it.
"""

from __future__ import annotations

import secrets
import sys
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from consortium.federation.pacing import PacingPlan, epsilon_decimal, plan_pacing
from consortium.federation.session import Session
from consortium.ledger.base import TxResult

__all__ = [
    "apply_attack",
    "budget_left",
    "planned_updates_sent",
    "site_budget",
    "train_step",
    "trains_no_more",
]

Arrays = OrderedDict[str, np.ndarray]


def _subs(s: Session) -> dict[str, Any]:
    result: dict[str, Any] = s.state.read_json("tasks", s.task_id, "submissions.json", default={})
    return result


def _save_subs(s: Session, subs: dict[str, Any]) -> None:
    s.state.write_json(subs, "tasks", s.task_id, "submissions.json")


def _pacing(s: Session) -> PacingPlan:
    saved = s.state.read_json("tasks", s.task_id, "pacing.json")
    if saved is not None:
        return PacingPlan.model_validate(saved)
    assert s.cohort is not None
    task = s.task()
    plan = plan_pacing(
        epsilon_budget=float(task["epsilon_budget"]),
        delta=float(task["delta"]),
        accountant=task["accountant"],
        n_train=len(s.cohort.y_train),
        batch_size=s.settings.batch_size,
        epochs=s.settings.epochs,
        planned_updates=s.settings.planned_updates,
    )
    s.state.write_json(plan.model_dump(mode="json"), "tasks", s.task_id, "pacing.json")
    return plan


def _store(s: Session) -> Any:
    from consortium.privacy.accountant import AccountantStore

    task = s.task()
    return AccountantStore(
        s.state.root,
        member_id=s.member_id,
        task_id=s.task_id,
        accountant=task["accountant"],
        epsilon_budget=float(task["epsilon_budget"]),
        delta=float(task["delta"]),
        site=site_budget(s),
    )


def site_budget(s: Session) -> Any:
    """The cap node.toml sets on all of this site's training (None: none set).

    It composes every task's accountant in the state directory and the accountant `consortium
    train` keeps beside the cohort file (`consortium.privacy.site`)."""
    from consortium.node.settings import site_budget_of

    return site_budget_of(s.state.root.parent, s.settings)  # state.root = DIR/members/NAME/state


def _check_accountant_against_ledger(s: Session) -> None:
    """Refuse to train when the local accountant has spent less than this member already declared
    on the ledger for the task: its file was deleted, lost (power cut before the rename reached
    the disk) or restored from an older backup, and it would grant again ε already released.

    The contract only refuses a declaration *below the latest one*; after a rollback the
    re-grown local ε catches up with it and later updates pass (docs/decisions/0004).
    """
    from consortium.privacy.accountant import BudgetExceeded

    declared = [
        Decimal(str(v["update"]["epsilon_spent"]))
        for v in s.q("ListUpdates", task_id=s.task_id)
        if v["update"]["member_id"] == s.member_id
    ]
    if not declared:
        return
    local = Decimal(epsilon_decimal(_store(s).epsilon_spent()))
    if local < max(declared):
        raise BudgetExceeded(
            f"training refused: the local accountant ({local}) is behind the ε this member "
            f"declared on the ledger ({max(declared)}); its state was lost or rolled back. "
            "Nothing was spent"
        )


def apply_attack(kind: str, delta: Arrays, rng: np.random.Generator) -> Arrays:
    """The poisoned version of an honest (unmapped) delta. ``label_flip`` acts on the data."""
    if kind == "sign_flip":
        return OrderedDict((k, -v) for k, v in delta.items())
    if kind == "scale10":
        return OrderedDict((k, 10.0 * v) for k, v in delta.items())
    if kind == "noise":
        norm = float(np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in delta.values())))
        noise = OrderedDict((k, rng.normal(size=v.shape)) for k, v in delta.items())
        scale = norm / max(1e-12, float(np.sqrt(sum(float(np.sum(n**2)) for n in noise.values()))))
        return OrderedDict((k, (scale * n).astype(np.float32)) for k, n in noise.items())
    return delta


def _fit_range(delta: Arrays, mapped: Arrays) -> tuple[Arrays, Arrays]:
    """An attacker's update shrunk uniformly into the CKKS range (±4, `consortium.crypto.update`)
    in both coordinate systems, so it stays a consistent (boosted) update; the range itself already
    bounds model-replacement attacks."""
    top = max(float(np.abs(v).max(initial=0.0)) for v in [*delta.values(), *mapped.values()])
    if top <= 3.9:
        return delta, mapped
    f = 3.9 / top
    return (
        OrderedDict((k, v * f) for k, v in delta.items()),
        OrderedDict((k, v * f) for k, v in mapped.items()),
    )


def _round_seed(s: Session, head: dict[str, Any]) -> int | None:
    """The training seed of the update on ``head``: None (the OS CSPRNG) unless node.toml sets
    one for tests; then derived per base version, so that two updates never share their DP noise
    (the same noise in two updates cancels in their difference)."""
    if s.settings.seed is None:
        return None
    from consortium.canonical import sha256_hex

    key = f"consortium/train-seed/v1|{s.settings.seed}|{s.member_id}|{head['model_digest']}"
    return int(sha256_hex(key.encode())[:15], 16)


def _train(
    s: Session, base: Arrays, layer: np.ndarray | None, seed: int | None = None
) -> tuple[Arrays, int, float]:
    """(unmapped delta, n_samples, cumulative ε) of one paced DP run from ``base``."""
    from consortium.learning.models import delta as model_delta
    from consortium.learning.train import train_local

    assert s.cohort is not None
    y = s.cohort.y_train
    if s.settings.attack == "label_flip":
        y = 1.0 - y
    plan = _pacing(s) if s.settings.dp else None
    result = train_local(
        model=base, spec=s.spec(), X=s.cohort.X_train, y=y, epochs=s.settings.epochs,
        lr=s.settings.lr, batch_size=s.settings.batch_size, dp=s.settings.dp,
        noise_multiplier=None if plan is None else plan.noise_multiplier,
        max_grad_norm=s.settings.max_grad_norm,
        accountant_store=_store(s) if s.settings.dp else None, sml=layer, seed=seed,
        secure_mode=s.settings.secure_noise,
    )  # fmt: skip
    trained = result.unmapped_state if result.unmapped_state is not None else result.state
    rng = np.random.default_rng(secrets.randbits(63))
    delta = apply_attack(s.settings.attack, model_delta(trained, base), rng)
    eps = result.epsilon_spent_total if result.epsilon_spent_total is not None else 0.0
    return delta, result.n_samples, eps


def budget_left(subs: Mapping[str, Any], planned: int, *, cap_fixed: bool = False) -> bool:
    """Whether a hospital whose submission records (``submissions.json``) are ``subs`` has an
    update left to send: fewer sent than ``planned`` (an abandoned submission counts as sent),
    and its budget not refused for good.

    The pacing makes the planned updates fit the task's budget; the accountant still refuses any
    run past it (`BudgetExceeded`, recorded as ``status = "spent"``), and so does the contract
    (``BUDGET_EXCEEDED``: the ε a member declares never decreases). Either is final. A refusal by
    the site's cap (``status = "refused"``) recurs at every version as long as the cap stays as it
    is (the histories it composes only grow); the node tries once per version all the same, since
    its data owners may raise the cap (decisions/0004). With ``cap_fixed`` (a simulation, whose
    node.toml does not change during the run) that refusal is final too.
    """
    records = list(subs.values())
    sent = sum(1 for r in records if r.get("update_id") or r.get("status") == "abandoned")
    final = ("spent", "refused") if cap_fixed else ("spent",)
    refused = any(r.get("status") in final or r.get("code") == "BUDGET_EXCEEDED" for r in records)
    return sent < planned and not refused


def trains_no_more(s: Session) -> bool:
    """Whether this hospital's submission records say it has no update left to send, a refusal
    by its site's cap counted as final (`budget_left` with ``cap_fixed``).

    For a verifier that need not wait for its own delta (`verifier._ready`): a cap refusal is
    retried at the next version, but until then nothing of its own comes, and a delta that comes
    later is a reference like any other."""
    return not budget_left(_subs(s), s.settings.planned_updates, cap_fixed=True)


def planned_updates_sent(s: Session) -> str | None:
    """One line for the admin once this hospital has sent, and revealed, every update its ε
    budget was paced over, else None.

    The pacing makes the planned updates fit the budget, so training normally ends here without the
    accountant refusing anything. A refusal is not this: it prints its own reason (`train_step`),
    and the ledger's code for a refused submission is in the node's transaction lines."""
    if "hospital" not in s.roles or s.cohort is None:
        return None
    records = list(_subs(s).values())
    sent = [r for r in records if r.get("update_id")]
    refused = any(r.get("status") in ("spent", "refused") or r.get("code") for r in records)
    if refused or len(sent) < s.settings.planned_updates:
        return None
    if not all(r.get("revealed") for r in sent):
        return None  # the last reveal is still to be sent
    so_far = max((Decimal(r["epsilon"]) for r in sent if r.get("epsilon")), default=Decimal(0))
    return (
        f"{s.member_id}: sent the {len(sent)} updates its ε budget was paced over (ε so far "
        f"{so_far} of {s.task()['epsilon_budget']} on task {s.task_id}): it trains no more on "
        "this task, and the node goes on with its other work"
    )


def _prepare(s: Session, height: int, head: dict[str, Any], subs: dict[str, Any]) -> None:
    """Steps 1–2 of the module docstring for base ``height``."""
    from consortium.pole.sml import first_layer_name, map_state, sml_layer

    rec = subs.setdefault(str(height), {"base": height})
    if "nonce" not in rec:
        rec["nonce"] = secrets.token_hex(32) if s.task()["sml"] else ""
        rec["started"] = s.clock()
        _save_subs(s, subs)  # the nonce is on disk before any commitment exists
    base = s.version(height)
    layer = None
    if s.task()["sml"]:
        dim = base[first_layer_name(base)].shape[1]
        layer = sml_layer(s.task_id, head["model_digest"], s.member_id, rec["nonce"], dim)
    if s.settings.dp:
        _check_accountant_against_ledger(s)
    delta, n, eps = _train(s, base, layer, _round_seed(s, head))
    mapped = map_state(delta, layer) if layer is not None else delta
    if s.settings.attack != "none":
        delta, mapped = _fit_range(delta, mapped)
    first = first_layer_name(delta)
    rec["model_digest"] = s.blobs.put(s.vault.encrypt(mapped))
    rec["unmapped_digest"] = s.blobs.put(s.vault.encrypt({first: delta[first]}))
    rec["n_samples"], rec["epsilon"] = n, epsilon_decimal(eps)
    rec["ready_at"] = rec["started"] + s.settings.speed * s.settings.update_seconds
    s.state.write_arrays(delta, "tasks", s.task_id, "own", f"{height:08d}.npz")
    _save_subs(s, subs)


def _find_own(s: Session, height: int) -> str | None:
    for view in s.q("ListUpdates", task_id=s.task_id):
        u = view["update"]
        if u["member_id"] == s.member_id and u["base_version"] == height:
            return str(u["update_id"])
    return None


def _submit(s: Session, rec: dict[str, Any]) -> None:
    from consortium.pole.sml import commitment

    args = {
        "task_id": s.task_id, "base_version": rec["base"], "model_digest": rec["model_digest"],
        "n_samples": rec["n_samples"], "epsilon_spent": rec["epsilon"],
        "commitment": commitment(rec["nonce"]) if rec["nonce"] else "",
    }  # fmt: skip
    res: TxResult = s.ledger.submit("SubmitUpdate", args)
    if res.valid:
        rec["update_id"] = res.tx_id
    elif res.code == "DUPLICATE_SUBMISSION":
        rec["update_id"] = _find_own(s, rec["base"])
    elif res.code in ("STALE_BASE", "BUDGET_EXCEEDED", "EPSILON_DECREASED"):
        rec["status"] = "abandoned"
        rec["code"] = res.code
    elif res.code == "NO_COMMITTEE":  # the task, not this update: stop rather than train again
        from consortium.cli._errors import UserError

        raise UserError(
            f"SubmitUpdate refused: NO_COMMITTEE: {res.message}: the task's quorum needs more "
            "verifiers besides this member than the consortium has; add verifiers (`consortium "
            "member add NAME --role verifier`) or publish a task with a smaller quorum"
        )
    else:
        raise RuntimeError(f"SubmitUpdate refused: {res.code}: {res.message}")


def _reveal(s: Session, rec: dict[str, Any]) -> None:
    args = {"task_id": s.task_id, "update_id": rec["update_id"], "nonce": rec["nonce"],
            "unmapped_digest": rec["unmapped_digest"]}  # fmt: skip
    res = s.ledger.submit("RevealNonce", args)
    if res.valid or res.code == "ALREADY_REVEALED":
        rec["revealed"] = True
    else:
        raise RuntimeError(f"RevealNonce refused: {res.code}: {res.message}")


def train_step(s: Session) -> bool:
    """Do the next piece of the hospital's work; True when something was done."""
    if "hospital" not in s.roles or s.cohort is None:
        return False
    subs = _subs(s)
    for rec in subs.values():  # finish what an earlier run started
        if rec.get("status") in ("abandoned", "spent", "refused") or rec.get("revealed"):
            continue
        if "model_digest" in rec and s.clock() < rec["ready_at"]:
            return False  # a (simulated) slow hospital is still "computing"
        if "model_digest" in rec and "update_id" not in rec:
            _submit(s, rec)
            _save_subs(s, subs)
            return True
        if rec.get("update_id"):
            _reveal(s, rec)
            _save_subs(s, subs)
            return True
    head = s.head()
    rec = subs.get(str(head["height"]))
    if rec is not None and ("model_digest" in rec or rec.get("status") in ("spent", "refused")):
        return False  # trained on this version already, or refused: not again at every poll
    if rec is None and not budget_left(subs, s.settings.planned_updates):
        return False
    if rec is None and _find_own(s, head["height"]) is not None:
        subs[str(head["height"])] = {"base": head["height"], "status": "abandoned", "code": "LOST"}
        _save_subs(s, subs)
        return True
    from consortium.privacy.accountant import BudgetExceeded, SiteBudgetExceeded

    try:
        _prepare(s, head["height"], head, subs)
    except BudgetExceeded as exc:
        # the task's budget is spent for good; the site's cap may be raised by its data owners,
        # so a version after this one tries again (one refusal per version, not per poll)
        status = "refused" if isinstance(exc, SiteBudgetExceeded) else "spent"
        subs[str(head["height"])] = {"base": head["height"], "status": status, "reason": str(exc)}
        _save_subs(s, subs)
        print(f"{s.member_id}: {exc}", file=sys.stderr)
    return True
