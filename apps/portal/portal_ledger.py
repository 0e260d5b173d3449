"""Tables the pages show, derived from the ledger that `PortalData` reads.

Every function takes a `PortalData` and returns a pandas DataFrame (or plain records) with
human-readable columns. Transactions' arguments are fixed by docs/decisions/0001-protocol.md, so
updates, endorsements, proposals, attestations and ε declarations are replayed from the committed
transactions; learning blocks and balances come from the contract's queries (only the world state
knows which proposal was finalized and what was paid), with a replay fallback for versions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from portal_data import VALID, PortalData, task_of, to_decimal

from consortium.federation.checks import Thresholds
from consortium.ledger.base import CommittedTx
from consortium.ledger.contract.committee import committee_outcome
from consortium.ledger.contract.records import measured_metrics, too_stale

__all__ = [
    "aggregate_fate",
    "aggregates",
    "attestations",
    "balances",
    "contributors",
    "downloads",
    "endorsements",
    "epsilon_history",
    "never_included",
    "provenance_summary",
    "tx_table",
    "update_fates",
    "updates",
    "versions",
]


def when(ms: int | None) -> datetime | None:
    """Ledger milliseconds as an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _update_tasks(data: PortalData) -> dict[str, str]:
    out = {tx.tx_id: task_of(tx) for tx in data.valid("SubmitUpdate")}
    out.update({tx.tx_id: task_of(tx) for tx in data.valid("ProposeBlock")})
    return out


def tx_table(data: PortalData) -> pd.DataFrame:
    """One row per committed transaction (valid or not), with the task it concerns."""
    owner = _update_tasks(data)
    rows = []
    for tx in data.transactions():
        ref = tx.args.get("update_id") or tx.args.get("proposal_id") or ""
        rows.append(
            {
                "block": tx.block_number,
                "index": tx.tx_index,
                "time": when(tx.timestamp_ms),
                "type": tx.fn,
                "member": tx.creator,
                "task": task_of(tx) or owner.get(str(ref), ""),
                "code": tx.code,
                "tx_id": tx.tx_id,
            }
        )
    columns = ["block", "index", "time", "type", "member", "task", "code", "tx_id"]
    return pd.DataFrame(rows, columns=columns)


def endorsements(data: PortalData) -> pd.DataFrame:
    """Valid endorsements: who judged which update, verdict, reason, metric, and whether the
    submitter was on probation (its last judged update rejected as a direction outlier, so the
    verifier's direction line was higher; decisions/0007)."""
    owner = {tx.tx_id: tx.creator for tx in data.valid("SubmitUpdate")}
    rows = [
        {
            "time": when(tx.timestamp_ms),
            "update_id": tx.args["update_id"],
            "submitter": owner.get(tx.args["update_id"], ""),
            "endorser": tx.creator,
            "verdict": tx.args.get("verdict"),
            "reason": tx.args.get("reason", ""),
            "metric_bp": tx.args.get("metric_bp"),
            "probation": bool((tx.args.get("scores") or {}).get("probation")),
            "record_z_bp": (tx.args.get("scores") or {}).get("record_z_bp"),
        }
        for tx in data.valid("Endorse")
    ]
    columns = ["time", "update_id", "submitter", "endorser", "verdict", "reason", "metric_bp",
               "probation", "record_z_bp"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# A record at or below this raises the direction line (`Thresholds.record_z`, the default; each
# verifier may set its own, so the portal names the record only where the default would act).
_RECORD_LINE_BP = -round(Thresholds().record_z * 10_000)


def reason_label(reason: str, probation: bool, record_z_bp: Any = None) -> str:
    """A verifier's reason as the portal shows it: a direction rejection says when the submitter
    was on probation, or its record of earlier updates pointed against the trajectory."""
    if reason != "DIRECTION_OUTLIER":
        return reason
    why = ["on probation"] if probation else []
    known = isinstance(record_z_bp, int | float) and record_z_bp == record_z_bp  # not None/NaN
    if known and record_z_bp <= _RECORD_LINE_BP:
        why.append(f"record z {record_z_bp / 10_000:.2f}")
    return f"{reason} ({'; '.join(why)})" if why else reason


def _statuses(data: PortalData) -> dict[str, str]:
    """Derived status per update id, from the contract's ListUpdates (authoritative)."""
    out: dict[str, str] = {}
    for task_id in data.tasks():
        listed = data.query("ListUpdates", {"task_id": task_id})
        for view in listed if isinstance(listed, list) else []:
            out[str(view["update"]["update_id"])] = str(view["status"])
    return out


def _status(
    known: dict[str, str], update_id: str, task: dict[str, Any], votes: pd.DataFrame
) -> str:
    if update_id in known:
        return known[update_id]
    accepts = int((votes["verdict"] == "accept").sum())
    rejects = int((votes["verdict"] == "reject").sum())
    quorum, size = int(task.get("quorum", 1)), int(task.get("committee_size", 1))
    outcome = committee_outcome(  # the contract's rule: an abstention gives its seat up
        size, quorum, accepts=accepts, rejects=rejects, abstentions=len(votes) - accepts - rejects
    )
    return {"accept": "accepted", "reject": "rejected"}.get(outcome or "", "pending")


def never_included(
    member: str, base: int, task: dict[str, Any], head: int | None, revoked: set[str]
) -> str:
    """Why an accepted or pending update can never enter a block ('' if it still can), by the
    contract's rule for aggregates and proposals (``check_includable``; 0001-protocol.md,
    "Revocation" and "Staleness at inclusion"): its member is revoked, or it is more than the
    task's ``max_staleness`` versions behind the head. Neither passes: a revoked member stays
    revoked and the head only grows. So an accepted update stays ``accepted`` on the ledger for
    good, and a pending one is refused whatever its committee decides (a revoked member cannot
    even reveal its nonce, so its unrevealed updates stay pending)."""
    if member in revoked:
        return "member revoked"
    limit = task.get("max_staleness")
    if head is not None and limit is not None and too_stale(head, base, int(limit)):
        return f"too stale to enter a block: base v{base}, head v{head}, max_staleness {limit}"
    return ""


def _heads(data: PortalData) -> dict[str, int]:
    """Each task's head height (the contract's GetHead)."""
    out = {}
    for task_id in data.tasks():
        head = data.query("GetHead", {"task_id": task_id})
        if isinstance(head, dict) and "height" in head:
            out[task_id] = int(head["height"])
    return out


def _revoked(data: PortalData) -> set[str]:
    """Members the contract lists as revoked."""
    listed = data.query("ListMembers", {})
    members = listed if isinstance(listed, list) else []
    return {str(m["member_id"]) for m in members if m.get("status") == "revoked"}


def updates(data: PortalData, member: str | None = None) -> pd.DataFrame:
    """Submitted updates (valid SubmitUpdate), their fate and the reasons given by verifiers.
    ``never_included`` says why an accepted or pending update will never be in a block
    (`never_included`); its ``status`` stays the ledger's."""
    tasks, votes, known = data.tasks(), endorsements(data), _statuses(data)
    included = {
        u: int(v["height"]) for v in versions(data).to_dict("records") for u in v["updates"]
    }
    heads, revoked = _heads(data), _revoked(data)
    rows = []
    for tx in data.valid("SubmitUpdate"):
        if member and tx.creator != member:
            continue
        mine = votes[votes["update_id"] == tx.tx_id]
        status = _status(known, tx.tx_id, tasks.get(task_of(tx), {}), mine)
        rejects = mine[mine["verdict"] == "reject"]
        reasons = sorted(
            {
                reason_label(r, bool(p), z)
                for r, p, z in zip(
                    rejects["reason"], rejects["probation"], rejects["record_z_bp"], strict=True
                )
            }
        )
        if status == "rejected" and not reasons:  # every seat abstained: nobody could judge it
            reasons = sorted(set(mine["reason"]))
        base = int(tx.args.get("base_version", 0))
        stuck = "" if status not in _UNDECIDED else never_included(
            tx.creator, base, tasks.get(task_of(tx), {}), heads.get(task_of(tx)), revoked
        )  # fmt: skip
        rows.append(
            {
                "time": when(tx.timestamp_ms),
                "task": task_of(tx),
                "member": tx.creator,
                "base_version": tx.args.get("base_version"),
                "n_samples": tx.args.get("n_samples"),
                "epsilon_spent": tx.args.get("epsilon_spent"),
                "status": status,
                "included_in": included.get(tx.tx_id),
                "reject_reasons": ", ".join(reasons),
                "never_included": stuck,
                "endorsements": len(mine),
                "update_id": tx.tx_id,
            }
        )
    return pd.DataFrame(rows, columns=_UPDATE_COLUMNS)


_UNDECIDED = ("accepted", "pending")  # the statuses an update may still leave for a block

_UPDATE_COLUMNS = [
    "time",
    "task",
    "member",
    "base_version",
    "n_samples",
    "epsilon_spent",
    "status",
    "included_in",
    "reject_reasons",
    "never_included",
    "endorsements",
    "update_id",
]


def update_fates(table: pd.DataFrame) -> dict[str, int]:
    """How many of ``updates``' rows are in each fate, by the label the training page shows: an
    accepted update is waiting, and a pending one is counted as pending, only if it may still
    enter a block."""
    status, stuck = table["status"], table["never_included"] != ""
    return {
        "in a model version": int((status == "included").sum()),
        "accepted, waiting": int(((status == "accepted") & ~stuck).sum()),
        "accepted, never included": int(((status == "accepted") & stuck).sum()),
        "rejected": int((status == "rejected").sum()),
        "pending": int(((status == "pending") & ~stuck).sum()),
        "pending, never included": int(((status == "pending") & stuck).sum()),
    }


def refused(data: PortalData, member: str) -> pd.DataFrame:
    """This member's transactions the contract refused, with their validation code."""
    table = tx_table(data)
    return table[(table["member"] == member) & (table["code"] != VALID)]


def _replayed_versions(data: PortalData, task_id: str) -> list[dict[str, Any]]:
    task = data.tasks().get(task_id, {})
    out: list[dict[str, Any]] = []
    for tx in data.valid("PublishTask"):
        if task_of(tx) == task_id:
            genesis = {"height": 0, "model_digest": task.get("initial_model_digest")}
            out.append({**genesis, "ms": tx.timestamp_ms, "updates": []})
    return out


def versions(data: PortalData, task_id: str | None = None) -> pd.DataFrame:
    """Learning blocks (model versions) per task, oldest first, with intervals between them and
    ``decayed``: the block met a requirement below the one its parent set (``next_required_gain_bp``
    of the block before), because it came later than the target interval and the task decays the
    requirement of a late head (`consortium.pole.difficulty.required_gain_at`)."""
    rows: list[dict[str, Any]] = []
    for tid in [task_id] if task_id else list(data.tasks()):
        listed = data.query("ListVersions", {"task_id": tid})
        records = listed if isinstance(listed, list) else _replayed_versions(data, tid)
        for rec in records:
            rows.append({**rec, "task": tid, "updates": list(rec.get("updates") or [])})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["task", "height", "time", "interval_s", "updates"])
    frame = frame.sort_values(["task", "height"]).reset_index(drop=True)
    ms = frame["ms"] if "ms" in frame else pd.Series([None] * len(frame))
    frame["time"] = [when(int(m)) if pd.notna(m) else None for m in ms]
    frame["interval_s"] = ms.groupby(frame["task"]).diff() / 1000
    if {"required_gain_bp", "next_required_gain_bp"} <= set(frame.columns):
        parent = frame.groupby("task")["next_required_gain_bp"].shift(1)
        frame["decayed"] = (frame["height"] > 0) & (frame["required_gain_bp"] < parent)
    frame["measured_by"] = _measured_by(data, frame)
    return frame


def _measured_by(data: PortalData, frame: pd.DataFrame) -> list[str]:
    """Per learning block, the attesting site whose measurement the block records: its
    ``metric_bp`` is one site's AUROC on that site's own held-out rows (the accepting attester
    with the median gain; docs/pole.md), so two versions measured at different sites are not
    comparable. Found as the accepting attestation of the block's proposal with the block's own
    metric and parent metric ('' for version 0, which nobody attested)."""
    if not {"proposal_id", "metric_bp", "base_metric_bp"} <= set(frame.columns):
        return [""] * len(frame)
    accepted = attestations(data)
    accepted = accepted[accepted["verdict"] == "accept"]
    out = []
    for block in frame.to_dict("records"):
        match = accepted[
            (accepted["proposal_id"] == block["proposal_id"])
            & (accepted["metric_bp"] == block["metric_bp"])
            & (accepted["base_metric_bp"] == block["base_metric_bp"])
        ]
        out.append(", ".join(sorted(match["site"])) if block["height"] > 0 else "")
    return out


# What an attester puts in AttestBlock (consortium/federation/attester.py): it scores the proposed
# version and its parent (the head the proposal builds on, version height − 1) on its own held-out
# rows; the contract ranks the accepting attestations by the difference (decisions/0001).
ATTESTED_METRICS = (
    "metric_bp: the proposed version's AUROC on the attester's own held-out rows; "
    "base_metric_bp: the parent version's AUROC (the head it was proposed on, one version lower), "
    "measured by the same attester on the same rows, so metric_bp − base_metric_bp is the gain at "
    "that site (the block keeps the median accepting attester's). Only an accepting attester has "
    "both: one that abstained could not measure the metric on its rows, and one that rejected did "
    "not score the proposed version (blank), though it shows the parent's AUROC when its rows "
    "could measure it. bp = basis points, 1/10,000 of AUROC."
)
ATTEST_REASONS = (
    "reason: the check a rejecting attester found the proposal failing, the first in the order "
    "it checks: PROPOSAL_LATE (stamped beyond the allowed clock skew ahead of the attester's "
    "clock), NO_AGGREGATE (names no posted aggregate), BLOB_UNREADABLE (the version's blob is not "
    "in the store or does not decrypt), MODEL_DIGEST_MISMATCH (the blob is not the version the "
    "proposal names), WEIGHTS_MISMATCH (weights or reward shares other than the ledger gives its "
    "updates), UPDATE_UNREADABLE (an included update does not open), NOT_CANONICAL (not the "
    "bytes of a model as the consortium writes them), VERSION_MISMATCH (not the parent plus the "
    "weighted mean of its updates). Blank for an accept, an abstention, or a reject recorded "
    "before attesters gave reasons."
)
PROVENANCE_METRICS = (
    "In the provenance, metric_bp is the version's AUROC measured by the median accepting "
    "attester on its own held-out rows, base_metric_bp the parent version's AUROC measured by the "
    "same attester on the same rows, and gain_bp the difference; each of its attestations holds "
    "one attester's own pair, both measurements only if it accepted: one that abstained sends 0 "
    "and 0, one that rejected metric_bp 0 (it did not score the version) and the parent's AUROC "
    "if its rows measure it (else 0), with the reason it rejected; the contract reads neither's "
    "metrics. bp = basis points, 1/10,000 of AUROC."
)


def attestations(data: PortalData) -> pd.DataFrame:
    """Per-site attestations of proposed blocks: one row per (proposal, attesting member).

    A height can have several proposals (one superseded, one below target); callers keep the rows
    whose ``proposal_id`` is a learning block's to show the metrics of the versions. A metric the
    attester did not measure (`measured_metrics`: an abstainer's two, a rejecter's score of the
    proposed version, and its parent's when its rows cannot measure it) is None (shown blank, left
    out of charts), not the 0 the transaction carries (0001, AttestBlock), as `consortium trace`
    shows them; the verdict stays, with a reject's ``reason`` ("" when none was given)."""
    proposals = {tx.tx_id: tx for tx in data.valid("ProposeBlock")}
    rows = []
    for tx in data.valid("AttestBlock"):
        prop = proposals.get(tx.args.get("proposal_id", ""))
        if prop is None:
            continue
        verdict = str(tx.args.get("verdict"))
        metric, base = measured_metrics(
            verdict, int(tx.args.get("metric_bp", 0)), int(tx.args.get("base_metric_bp", 0))
        )
        rows.append(
            {
                "task": task_of(prop),
                "proposal_id": prop.tx_id,
                "height": prop.args.get("height"),
                "model_digest": prop.args.get("model_digest"),
                "site": tx.creator,
                "verdict": verdict,
                "reason": tx.args.get("reason") or "",
                "metric_bp": metric,
                "base_metric_bp": base,
            }
        )
    columns = ["task", "proposal_id", "height", "model_digest", "site", "verdict", "reason",
               "metric_bp", "base_metric_bp"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"metric_bp": "Int64", "base_metric_bp": "Int64"})  # ints, or <NA>


def aggregate_fate(base: int, head: int | None, proposals: list[dict[str, Any]]) -> str:
    """What became of an aggregate computed on version ``base``, from the proposals that named it
    (oldest first, each with the contract's ``status``, ``height`` and ``sealer``): sealed into
    a version, closed by a proposal that failed (``below_target``, ``rejected``, ``superseded``,
    ``member_revoked``), still being attested, or never proposed (a sealer may still propose it
    while the head is its base; once the head moves on, no proposal of it can be made)."""
    final = [p for p in proposals if p.get("status") == "final"]
    if final:
        return f"in version {final[0].get('height')} (sealed by {final[0].get('sealer')})"
    if proposals:
        status = proposals[-1].get("status")
        return "proposed, attestation open" if status == "open" else f"closed: {status}"
    if head is None or head == base:
        return "waiting for a sealer's proposal"
    return f"never proposed: the head moved past its base (head v{head})"


def aggregates(data: PortalData, by: str | None = None) -> pd.DataFrame:
    """Aggregates posted on the ledger (the contract's ListAggregates; those of ``by`` only when
    given), oldest first: the version they were computed on, how many accepted updates they sum,
    the proposal that closed each (the last ProposeBlock naming it; the final one if any) and
    what became of it (`aggregate_fate`)."""
    heads = _heads(data)
    named: dict[str, list[CommittedTx]] = {}
    for tx in data.valid("ProposeBlock"):
        named.setdefault(str(tx.args.get("aggregate_id") or ""), []).append(tx)
    rows = []
    for task_id in data.tasks():
        listed = data.query("ListAggregates", {"task_id": task_id})
        for agg in listed if isinstance(listed, list) else []:
            if by and agg.get("by") != by:
                continue
            proposals = []
            for tx in named.get(str(agg["aggregate_id"]), []):
                found = data.query("GetProposal", {"task_id": task_id, "proposal_id": tx.tx_id})
                record = found.get("proposal", {}) if isinstance(found, dict) else {}
                proposals.append({"proposal_id": tx.tx_id, **record})
            closing = ([p for p in proposals if p.get("status") == "final"] or proposals)[-1:]
            rows.append(
                {
                    "time": when(agg.get("ms")),
                    "task": task_id,
                    "base_version": int(agg["head"]),
                    "updates": len(agg.get("updates") or []),
                    "status": aggregate_fate(int(agg["head"]), heads.get(task_id), proposals),
                    "proposal_id": closing[0]["proposal_id"] if closing else "",
                    "aggregate_id": agg["aggregate_id"],
                }
            )
    columns = ["time", "task", "base_version", "updates", "status", "proposal_id", "aggregate_id"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def epsilon_history(data: PortalData, member: str) -> pd.DataFrame:
    """Cumulative ε this member declared per task over time (from its valid SubmitUpdates)."""
    tasks = data.tasks()
    rows = []
    for tx in data.valid("SubmitUpdate"):
        if tx.creator != member:
            continue
        spent = to_decimal(tx.args.get("epsilon_spent"))
        budget = to_decimal(tasks.get(task_of(tx), {}).get("epsilon_budget"))
        rows.append(
            {
                "time": when(tx.timestamp_ms),
                "task": task_of(tx),
                "epsilon": float(spent) if spent is not None else None,
                "budget": float(budget) if budget is not None else None,
            }
        )
    return pd.DataFrame(rows, columns=["time", "task", "epsilon", "budget"])


def balances(data: PortalData) -> pd.DataFrame:
    """Reward balances per member (the contract's ListBalances)."""
    listed = data.query("ListBalances", {})
    rows: list[dict[str, Any]] = []
    if isinstance(listed, dict):
        rows = [{"member": k, "balance": v} for k, v in listed.items()]
    elif isinstance(listed, list):
        rows = [
            {"member": r.get("member_id"), "balance": r.get("units", r.get("balance"))}
            for r in listed
        ]
    return pd.DataFrame(rows, columns=["member", "balance"])


def downloads(data: PortalData) -> pd.DataFrame:
    """Model downloads recorded on the ledger (valid RecordDownload transactions)."""
    rows = [
        {
            "time": when(tx.timestamp_ms),
            "member": tx.creator,
            "task": task_of(tx),
            "version": tx.args.get("version"),
            "model_digest": tx.args.get("model_digest"),
        }
        for tx in data.valid("RecordDownload")
    ]
    return pd.DataFrame(rows, columns=["time", "member", "task", "version", "model_digest"])


def lineage(data: PortalData, task_id: str, version: int) -> pd.DataFrame:
    """Every update that went into ``version`` and its ancestors, with who signed and what ε.

    Read from the ledger alone (learning blocks' update lists and the updates' SubmitUpdate
    transactions), so any member, auditors included, can follow a version back to its inputs.
    """
    chain = versions(data, task_id)
    chain = chain[chain["height"] <= version]
    subs = {tx.tx_id: tx for tx in data.valid("SubmitUpdate")}
    votes = endorsements(data)
    rows = []
    for block in chain.to_dict("records"):
        for update_id in block["updates"]:
            tx = subs.get(update_id)
            judged = votes[votes["update_id"] == update_id]
            rows.append(
                {
                    "version": int(block["height"]),
                    "sealer": block.get("sealer", ""),
                    "update_id": update_id,
                    "member": tx.creator if tx else "",
                    "base_version": tx.args.get("base_version") if tx else None,
                    "epsilon_spent": tx.args.get("epsilon_spent") if tx else None,
                    "accepts": int((judged["verdict"] == "accept").sum()),
                    "endorsers": ", ".join(judged["endorser"]),
                }
            )
    columns = [
        "version",
        "sealer",
        "update_id",
        "member",
        "base_version",
        "epsilon_spent",
        "accepts",
        "endorsers",
    ]
    return pd.DataFrame(rows, columns=columns)


_CONTRIBUTOR_COLUMNS = ["member_id", "base_version", "n_samples", "epsilon_spent", "weight_ppm",
                        "contribution_ppm", "reward_units"]  # fmt: skip


def contributors(provenance: dict[str, Any]) -> pd.DataFrame:
    """The updates a version's provenance (`consortium.pole.provenance`, as JSON) lists: who
    trained on how many rows with what cumulative ε, their weight and contribution (ppm) and
    reward."""
    rows = [{k: u.get(k) for k in _CONTRIBUTOR_COLUMNS} for u in provenance.get("updates", [])]
    return pd.DataFrame(rows, columns=_CONTRIBUTOR_COLUMNS)


def provenance_summary(provenance: dict[str, Any]) -> str:
    """One paragraph on a version's provenance for a person: which version, who sealed it when,
    whose updates went in, who attested it with what metric (version 0, the published initial
    model, has neither updates nor attestations)."""
    accepted = sorted(
        a["member_id"] for a in provenance.get("attestations", []) if a.get("verdict") == "accept"
    )
    sealed = when(provenance.get("ms"))
    updates = provenance.get("updates", [])
    members = sorted({u["member_id"] for u in updates})
    text = (
        f"Version {provenance.get('version')} of task {provenance.get('task_id')}, sealed by "
        f"{provenance.get('sealer')}" + (f" on {sealed:%Y-%m-%d %H:%M:%S} UTC" if sealed else "")
    )
    if not updates:
        return text + ": the initial model, trained on nobody's data and attested by nobody."
    return text + (
        f", from {len(updates)} update(s) of {', '.join(members)}; attested by "
        f"{', '.join(accepted) or 'nobody'} (median-gain AUROC "
        f"{int(provenance.get('metric_bp') or 0) / 10000:.4f}, gain "
        f"{int(provenance.get('gain_bp') or 0):+d} bp)."
    )
