"""Provenance of a model version, `pull_model` (download with proof) and `trace_version` (audit).

Everything here is read from the ledger and the blob store; nothing is taken on a member's word:

- **provenance** (`build_provenance`): the learning block of a version, its included updates with
  their submitters, sample counts and the cumulative ε each declared, every verifier's endorsement
  (verdict, reason, metric), the attesters of the block and their metrics, the required gain,
  interval, rewards, and the ledger transaction ids (and ledger block numbers) of each step.
- **pull** (`pull_model`): the version blob is fetched by the digest on the ledger and checked
  (SHA-256 of the stored bytes), decrypted with the consortium model key that only a member with a
  key share can unwrap (ECDH P-256 + HKDF + AES-GCM, `consortium.crypto.setup.load_member_keys`),
  and the plaintext is checked against the ledger's ``model_digest``: a tampered blob store cannot
  hand out another model. The download is then recorded on the ledger (`RecordDownload`) before
  the files are written, so every copy of a model that leaves the consortium is on the record.
- **trace** (`trace_version`): the version is recomputed from public inputs, byte for byte
  (0001, "Versions and their blobs"): the homomorphic weighted sum of the included updates'
  ciphertexts (each with its revealed unmapped first layer swapped in) with the ledger's integer
  weights must equal the ``aggregate_digest``; θ(v) = θ(v−1) + η·S·10⁶/D, D = Σ w_k/s(τ_k)
  (the sealer's formula, `consortium.federation.versions.apply_aggregate`) must hash to
  ``model_digest``.
  CKKS addition and plaintext-scalar multiplication are deterministic, so digests are compared,
  not tolerances.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from consortium.canonical import sha256_hex
from consortium.config import ConsortiumConfig
from consortium.durable import write_privately
from consortium.ledger.base import ContractError, Ledger

__all__ = [
    "AttestationInfo",
    "EndorsementInfo",
    "Provenance",
    "ProvenanceError",
    "PullResult",
    "TraceReport",
    "TxRef",
    "UpdateInfo",
    "build_provenance",
    "pull_model",
    "trace_version",
]

_STEPS = ("SubmitUpdate", "RevealNonce", "Endorse", "PostAggregate", "ProposeBlock", "AttestBlock")


class ProvenanceError(Exception):
    """A pull or trace that cannot be done; the message says why and what to do."""


class TxRef(BaseModel):
    """A ledger transaction: its id and the ledger block that holds it."""

    tx_id: str
    block_number: int | None = None


class EndorsementInfo(BaseModel):
    """One verifier's verdict on an update."""

    member_id: str
    verdict: str
    reason: str
    metric_bp: int
    tx: TxRef | None = None


class UpdateInfo(BaseModel):
    """An update included in the version."""

    update_id: str
    member_id: str
    base_version: int
    n_samples: int
    epsilon_spent: str  # the member's cumulative ε for the task when it submitted
    weight_ppm: int
    contribution_ppm: int
    reward_units: int
    submit: TxRef
    reveal: TxRef | None
    endorsements: list[EndorsementInfo]


class AttestationInfo(BaseModel):
    """One attester's evaluation of the proposed version against its parent; ``reason`` is the
    check a reject says the proposal failed (None for an accept, an abstention, or a reject
    recorded before attesters gave reasons)."""

    member_id: str
    verdict: str
    metric_bp: int
    base_metric_bp: int
    reason: str | None = None
    tx: TxRef | None = None


class Provenance(BaseModel):
    """Where a model version came from (written as ``FILE.provenance.json``)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    version: int
    model_digest: str
    blob_digest: str
    parent_digest: str | None
    aggregate_id: str
    aggregate_digest: str | None
    sealer: str
    metric_bp: int  # median accepting attester's metric of this version
    base_metric_bp: int
    gain_bp: int
    required_gain_bp: int
    next_required_gain_bp: int
    interval_ms: int
    ms: int
    rewards: dict[str, int]
    members: list[str]  # members whose updates went into this version
    epsilon_by_member: dict[str, str]  # the largest cumulative ε each declared in its updates
    updates: list[UpdateInfo]
    attestations: list[AttestationInfo]
    proposal: TxRef | None
    aggregate: TxRef | None
    download: TxRef | None = None


class PullResult(BaseModel):
    """What `pull_model` wrote and recorded."""

    task_id: str
    version: int
    member_id: str
    model_digest: str
    out: Path
    provenance_path: Path
    download_tx_id: str
    provenance: Provenance


class TraceReport(BaseModel):
    """The outcome of `trace_version`: the provenance and what recomputation found."""

    provenance: Provenance
    blob_ok: bool  # stored blob hashes to blob_digest and decrypts to model_digest
    aggregate_recomputed: str | None  # digest of the recomputed homomorphic sum (None: version 0)
    aggregate_ok: bool
    model_recomputed: str | None  # digest of θ(v) recomputed from θ(v−1) and the aggregate
    model_ok: bool
    problems: list[str]
    partial: bool = False  # True: traced without the key (θ(v) not recomputed)

    @property
    def matches(self) -> bool:
        """Everything recomputed equals what the ledger records."""
        return self.blob_ok and self.aggregate_ok and self.model_ok and not self.problems


# --------------------------------------------------------------------------- ledger reading


def _q(ledger: Ledger, fn: str, **args: Any) -> Any:
    try:
        return ledger.evaluate(fn, args)
    except ContractError as exc:
        raise ProvenanceError(f"{fn}: {exc.message}") from exc


def resolve_task(ledger: Ledger, task_id: str | None) -> str:
    """``task_id``, or the only task on the ledger; a clear error otherwise."""
    tasks = [t["task_id"] for t in _q(ledger, "ListTasks")]
    if task_id is None:
        if len(tasks) != 1:
            raise ProvenanceError(
                f"the ledger holds {len(tasks)} tasks ({', '.join(tasks) or 'none'}): "
                "name one with --task"
            )
        return str(tasks[0])
    if task_id not in tasks:
        raise ProvenanceError(
            f"no task {task_id!r} on the ledger (tasks: {', '.join(tasks) or 'none'})"
        )
    return task_id


def resolve_version(ledger: Ledger, task_id: str, version: int | str | None) -> int:
    """A version number from an int, ``"latest"``/None (the head) or a decimal string."""
    head = int(_q(ledger, "GetHead", task_id=task_id)["height"])
    if version is None or version == "latest":
        return head
    try:
        number = int(version)
    except ValueError as exc:
        raise ProvenanceError(f"version {version!r}: give a number or 'latest'") from exc
    if not 0 <= number <= head:
        raise ProvenanceError(f"task {task_id!r} has versions 0..{head}, not {number}")
    return number


def _tx_index(ledger: Ledger, task_id: str) -> dict[tuple[str, ...], TxRef]:
    """Valid PoLe transactions of the task, keyed by what they refer to."""
    index: dict[tuple[str, ...], TxRef] = {}
    for tx in _committed(ledger):
        if tx.code != "VALID" or tx.fn not in _STEPS or tx.args.get("task_id") != task_id:
            continue
        ref = TxRef(tx_id=tx.tx_id, block_number=tx.block_number)
        if tx.fn in ("SubmitUpdate", "PostAggregate", "ProposeBlock"):
            index[(tx.fn, tx.tx_id)] = ref
        elif tx.fn in ("RevealNonce", "Endorse"):
            index[(tx.fn, str(tx.args["update_id"]), tx.creator)] = ref
        else:
            index[(tx.fn, str(tx.args["proposal_id"]), tx.creator)] = ref
    return index


def _committed(ledger: Ledger) -> Iterator[Any]:
    try:
        yield from ledger.transactions(0)
    except NotImplementedError:  # a backend without history: provenance without tx block numbers
        return


def _update_info(
    ledger: Ledger,
    task_id: str,
    update_id: str,
    weight: int,
    contribution: int,
    index: dict[tuple[str, ...], TxRef],
) -> UpdateInfo:
    view = _q(ledger, "GetUpdate", task_id=task_id, update_id=update_id)
    u = view["update"]
    ends = [
        EndorsementInfo(
            member_id=e["member_id"],
            verdict=e["verdict"],
            reason=e["reason"],
            metric_bp=e["metric_bp"],
            tx=index.get(("Endorse", update_id, e["member_id"])),
        )
        for e in view["endorsements"]
    ]
    return UpdateInfo(
        update_id=update_id,
        member_id=u["member_id"],
        base_version=u["base_version"],
        n_samples=u["n_samples"],
        epsilon_spent=u["epsilon_spent"],
        weight_ppm=weight,
        contribution_ppm=contribution,
        reward_units=0,
        submit=index.get(("SubmitUpdate", update_id), TxRef(tx_id=update_id)),
        reveal=index.get(("RevealNonce", update_id, u["member_id"])),
        endorsements=ends,
    )


def _attestations(
    ledger: Ledger, task_id: str, block: dict[str, Any], index: dict[tuple[str, ...], TxRef]
) -> list[AttestationInfo]:
    if not block["updates"]:
        return []  # version 0 (PublishTask): nothing was attested
    view = _q(ledger, "GetProposal", task_id=task_id, proposal_id=block["proposal_id"])
    return [
        AttestationInfo(
            member_id=a["member_id"],
            verdict=a["verdict"],
            metric_bp=a["metric_bp"],
            base_metric_bp=a["base_metric_bp"],
            reason=a.get("reason"),
            tx=index.get(("AttestBlock", block["proposal_id"], a["member_id"])),
        )
        for a in view["attestations"]
    ]


def _update_rewards(
    ledger: Ledger, task_id: str, block: dict[str, Any], updates: list[UpdateInfo]
) -> None:
    """Each update's units of the block reward, as the contract split them."""
    from consortium.pole.rewards import Contribution, split_by_update

    if not updates or sum(u.contribution_ppm for u in updates) <= 0:
        return
    task = _q(ledger, "GetTask", task_id=task_id)
    pool = (
        int(task["block_reward"])
        - int(task["block_reward"]) * int(task["sealer_share_bp"]) // 10_000
    )
    split = split_by_update(
        pool, [Contribution(u.update_id, u.member_id, u.contribution_ppm) for u in updates]
    )
    for u in updates:
        u.reward_units = split[u.update_id]


def build_provenance(ledger: Ledger, task_id: str, version: int) -> Provenance:
    """The provenance of ``version`` of ``task_id`` (see the module docstring)."""
    block = _q(ledger, "GetVersion", task_id=task_id, version=version)
    index = _tx_index(ledger, task_id)
    rewards = {str(k): int(v) for k, v in block["rewards"].items()}
    updates = [
        _update_info(ledger, task_id, u, w, c, index)
        for u, w, c in zip(
            block["updates"], block["weights_ppm"], block["contribution_ppm"], strict=True
        )
    ]
    _update_rewards(ledger, task_id, block, updates)
    eps: dict[str, str] = {}
    for u in updates:  # decimal strings compared exactly (0001: ε is never a float)
        if u.member_id not in eps or Decimal(u.epsilon_spent) > Decimal(eps[u.member_id]):
            eps[u.member_id] = u.epsilon_spent
    aggregate_id = str(block["aggregate_id"])
    return Provenance(
        task_id=task_id,
        version=version,
        model_digest=block["model_digest"],
        blob_digest=block["blob_digest"],
        parent_digest=block["parent_digest"],
        aggregate_id=aggregate_id,
        aggregate_digest=block["aggregate_digest"],
        sealer=block["sealer"],
        metric_bp=block["metric_bp"],
        base_metric_bp=block["base_metric_bp"],
        gain_bp=block["gain_bp"],
        required_gain_bp=block["required_gain_bp"],
        next_required_gain_bp=block["next_required_gain_bp"],
        interval_ms=block["interval_ms"],
        ms=block["ms"],
        rewards=rewards,
        members=sorted({u.member_id for u in updates}),
        epsilon_by_member=dict(sorted(eps.items())),
        updates=updates,
        attestations=_attestations(ledger, task_id, block, index),
        proposal=index.get(("ProposeBlock", block["proposal_id"]))
        or (TxRef(tx_id=block["proposal_id"]) if updates else None),
        aggregate=index.get(("PostAggregate", aggregate_id)),
    )


# --------------------------------------------------------------------------- keys


def member_keys(config: ConsortiumConfig, ledger: Ledger, blobs: Any, member_id: str) -> Any:
    """The member's `KeyBundle` (CKKS secret context + model key), or a clear refusal.

    The aggregator and auditors never receive a share (the contract refuses it), and an identity
    without a share, or whose private key does not open the share, cannot decrypt anything.
    """
    from consortium.crypto.keywrap import KeyUnwrapError
    from consortium.crypto.setup import NO_SHARE_ROLES, load_member_keys

    roles = set(config.members[member_id].roles) if member_id in config.members else set()
    barred = sorted(roles & NO_SHARE_ROLES)
    if barred:
        raise ProvenanceError(
            f"{member_id!r} is an {barred[0]}: it never holds the consortium key and cannot "
            "decrypt models; run this as a hospital, verifier or admin member"
        )
    try:
        record = ledger.evaluate("GetMember", {"member_id": member_id})
    except ContractError:
        record = None  # not registered: the share lookup below says what to do
    if record is not None and record.get("status") == "revoked":
        raise ProvenanceError(
            f"{member_id!r} is revoked on the ledger: a revoked member downloads no models (its "
            "key share stays on the ledger, but the download could not be recorded); ask the "
            "consortium admin if the revocation is a mistake"
        )
    try:
        share = ledger.evaluate("GetShareKey", {"member_id": member_id})
    except ContractError as exc:
        raise ProvenanceError(
            f"{member_id!r} has no key share on the ledger, so it cannot decrypt models: "
            "an admin or a member with a share must run ShareKey for it"
        ) from exc
    try:
        return load_member_keys(
            config.member_msp(member_id), blobs, share["wrapped_key_digest"], member_id=member_id,
            context_digest=share["public_context_digest"],
        )  # fmt: skip
    except (KeyUnwrapError, ValueError, FileNotFoundError) as exc:
        raise ProvenanceError(f"cannot open the key share of {member_id!r}: {exc}") from exc


def _open_version(blobs: Any, model_key: bytes, block: dict[str, Any]) -> bytes:
    """The plaintext safetensors of a version, both digests checked."""
    from consortium.crypto.modelblob import ModelBlobError, decrypt_model_blob

    try:
        blob = blobs.get(block["blob_digest"])
    except Exception as exc:  # the blob stores raise their own errors (not found, corrupted)
        raise ProvenanceError(f"version blob {block['blob_digest'][:12]}…: {exc}") from exc
    if sha256_hex(blob) != block["blob_digest"]:
        raise ProvenanceError(f"blob {block['blob_digest'][:12]}… does not match its digest")
    try:
        return decrypt_model_blob(blob, model_key, expected_model_digest=block["model_digest"])
    except ModelBlobError as exc:
        raise ProvenanceError(f"version {block['height']}: {exc}") from exc


# --------------------------------------------------------------------------- pull


def _open(config: ConsortiumConfig, member_id: str) -> tuple[Ledger, Any]:
    from consortium.blobs import open_blob_store
    from consortium.config import ConfigError
    from consortium.ledger.factory import open_ledger

    try:
        config.member_msp(member_id)
        ledger = open_ledger(config, member_id)
    except ConfigError as exc:
        raise ProvenanceError(str(exc)) from exc
    return ledger, open_blob_store(config.blobs.url, config.root)


def pull_model(
    config: ConsortiumConfig,
    member_id: str,
    *,
    task_id: str | None = None,
    version: int | str | None = None,
    out: str | Path,
) -> PullResult:
    """Fetch, check, decrypt and record the download of a version; write it and its provenance.

    Writes ``out`` (safetensors, the exact bytes whose SHA-256 the ledger records) and
    ``out.provenance.json``. Raises `ProvenanceError` with what to do when the member cannot
    decrypt, the version does not exist, or a digest does not match.
    """
    out = Path(out)
    ledger, blobs = _open(config, member_id)
    try:
        task = resolve_task(ledger, task_id)
        number = resolve_version(ledger, task, version)
        block = _q(ledger, "GetVersion", task_id=task, version=number)
        bundle = member_keys(config, ledger, blobs, member_id)
        data = _open_version(blobs, bundle.model_key, block)
        provenance = build_provenance(ledger, task, number)
        res = ledger.submit(
            "RecordDownload",
            {"task_id": task, "version": number, "model_digest": block["model_digest"]},
        )
        if not res.valid:
            raise ProvenanceError(
                f"the ledger refused to record the download: {res.code}: {res.message}"
            )
    finally:
        ledger.close()
    provenance.download = TxRef(tx_id=res.tx_id, block_number=res.block_number)
    # whole files or none: another pull of the same version to the same path (the portal's) or a
    # stop midway never leaves a model the ledger's digest does not match. Owner-only (0600) from
    # creation: the plaintext is for the member, not for whoever else logs in to this machine.
    write_privately(out, data)
    prov_path = out.with_name(out.name + ".provenance.json")
    text = json.dumps(provenance.model_dump(mode="json"), indent=1, sort_keys=True)
    write_privately(prov_path, text.encode())
    return PullResult(
        task_id=task,
        version=number,
        member_id=member_id,
        model_digest=block["model_digest"],
        out=out,
        provenance_path=prov_path,
        download_tx_id=res.tx_id,
        provenance=provenance,
    )


# --------------------------------------------------------------------------- trace


def _recompute_aggregate(
    ledger: Ledger, blobs: Any, vault: Any, task_id: str, block: dict[str, Any]
) -> bytes:
    """Σ (w/10⁶)·Enc(Δ) over the block's updates, unmapped first layers swapped in
    (`consortium.federation.recompute.recompute_aggregate`, the aggregator's own steps)."""
    from consortium.federation.recompute import recompute_aggregate

    return bytes(recompute_aggregate(ledger, blobs, vault, task_id, block))


def _recompute(
    ledger: Ledger,
    blobs: Any,
    bundle: Any,
    task_id: str,
    block: dict[str, Any],
    problems: list[str],
) -> tuple[str, str | None]:
    """(aggregate digest, model digest) recomputed for a version > 0."""
    from consortium.federation.he import HEVault
    from consortium.federation.recompute import base_versions
    from consortium.federation.versions import step_staleness, version_bytes
    from consortium.learning.serialize import from_safetensors

    vault = HEVault(bundle.ckks, bundle.model_key)
    aggregate = _recompute_aggregate(ledger, blobs, vault, task_id, block)
    agg_digest = sha256_hex(aggregate)
    parent = _q(ledger, "GetVersion", task_id=task_id, version=int(block["height"]) - 1)
    try:
        base, _ = from_safetensors(_open_version(blobs, bundle.model_key, parent))
    except ProvenanceError as exc:
        problems.append(f"parent version: {exc}")
        return agg_digest, None
    task = _q(ledger, "GetTask", task_id=task_id)
    bases = base_versions(ledger, task_id, block["updates"])
    staleness = step_staleness(bases, int(block["height"]) - 1, int(task["staleness_exponent_bp"]))
    data = version_bytes(vault, base, aggregate, block["weights_ppm"], int(task["server_lr_bp"]),
                         staleness)  # fmt: skip
    return agg_digest, sha256_hex(data)


def _public_trace(
    config: ConsortiumConfig,
    ledger: Ledger,
    blobs: Any,
    task: str,
    block: dict[str, Any],
    problems: list[str],
) -> tuple[bool, str | None]:
    """Without the key (an auditor): the blob's digest and the homomorphic sum, public context."""
    from consortium.crypto.context import CkksContext
    from consortium.crypto.setup import PUBLIC_CONTEXT_FILE
    from consortium.federation.he import HEVault

    blob_ok = sha256_hex(blobs.get(block["blob_digest"])) == block["blob_digest"]
    if not blob_ok:
        problems.append(f"blob {block['blob_digest'][:12]}… does not match its digest")
    if int(block["height"]) == 0:
        return blob_ok, None
    public = CkksContext.from_public_bytes((config.root / PUBLIC_CONTEXT_FILE).read_bytes())
    vault = HEVault(public, None)
    return blob_ok, sha256_hex(_recompute_aggregate(ledger, blobs, vault, task, block))


def _holds_no_key(config: ConsortiumConfig, member_id: str) -> bool:
    from consortium.crypto.setup import NO_SHARE_ROLES

    entry = config.members.get(member_id)
    return entry is not None and bool(NO_SHARE_ROLES & set(entry.roles))


def trace_version(
    config: ConsortiumConfig, member_id: str, task_id: str | None, version: int | str | None
) -> TraceReport:
    """Provenance of a version and its recomputation from the ledger and the blobs.

    A member with the key recomputes everything. An auditor (or the aggregator), which holds only
    the public context, gets a partial trace: the blob's digest and the homomorphic sum are
    checked, θ(v) is not (``model_recomputed`` None, ``partial`` True).
    """
    ledger, blobs = _open(config, member_id)
    problems: list[str] = []
    partial = _holds_no_key(config, member_id)
    try:
        task = resolve_task(ledger, task_id)
        number = resolve_version(ledger, task, version)
        provenance = build_provenance(ledger, task, number)
        block = _q(ledger, "GetVersion", task_id=task, version=number)
        if partial:
            blob_ok, agg = _public_trace(config, ledger, blobs, task, block, problems)
            model = None
        else:
            blob_ok, agg, model = _keyed_trace(
                config, ledger, blobs, member_id, task, block, problems
            )
    finally:
        ledger.close()
    agg_ok = agg is None or agg == block["aggregate_digest"]
    if not agg_ok:
        problems.append("the recomputed homomorphic sum differs from the ledger's aggregate_digest")
    model_ok = model == block["model_digest"] or (partial and model is None)
    if not model_ok and model is not None:
        problems.append("θ(v) recomputed from θ(v−1) and the aggregate differs from model_digest")
    return TraceReport(
        provenance=provenance,
        blob_ok=blob_ok,
        aggregate_recomputed=agg,
        aggregate_ok=agg_ok,
        model_recomputed=model,
        model_ok=model_ok,
        problems=problems,
        partial=partial,
    )


def _keyed_trace(
    config: ConsortiumConfig,
    ledger: Ledger,
    blobs: Any,
    member_id: str,
    task: str,
    block: dict[str, Any],
    problems: list[str],
) -> tuple[bool, str | None, str | None]:
    """(blob ok, recomputed aggregate digest, recomputed model digest) with the member's key."""
    bundle = member_keys(config, ledger, blobs, member_id)
    try:
        _open_version(blobs, bundle.model_key, block)
        blob_ok = True
    except ProvenanceError as exc:
        problems.append(str(exc))
        blob_ok = False
    if int(block["height"]) == 0:
        return blob_ok, None, block["model_digest"]
    agg, model = _recompute(ledger, blobs, bundle, task, block, problems)
    return blob_ok, agg, model
