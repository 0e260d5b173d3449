"""Publishing a learning task: what a consortium data scientist does before any node trains.

A task is a ledger record (`PublishTask`, docs/decisions/0001-protocol.md "Task"): the cohort,
the model, the privacy budget every hospital gets, the committee, the aggregation and PoLe
settings, and version 0 of the model. Version 0 is built here from the model spec and the cohort
definition's input width, serialized as safetensors (its SHA-256 is the `initial_model_digest`) and
stored encrypted with the consortium model key (AES-GCM; the blob's SHA-256 is the
`initial_blob_digest`), exactly like every later version, so that non-members never see a model.

The parameters a user writes (`TaskParams`) are the record minus the two digests and with the
model given as its layer sizes; `task_template` gives a documented starting point.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.base import Ledger

__all__ = ["PublishedTask", "TaskParams", "input_width", "publish_task", "task_record"]


class TaskParams(BaseModel):
    """What a data scientist chooses for a task; defaults are the demo's four-hospital setting."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    title: str
    cohort: str = "heart"
    hidden: tuple[Annotated[int, Field(ge=1)], ...] = (16,)
    activation: Literal["relu", "tanh", "gelu"] = "relu"
    epsilon_budget: Decimal = Field(default=Decimal("3"), gt=0)
    delta: Decimal = Field(default=Decimal("0.00001"), gt=0, lt=1)
    accountant: Literal["prv", "rdp"] = "rdp"
    committee_size: int = 3
    quorum: int = 2
    staleness_exponent_bp: int = 5000
    max_staleness: int = 50
    buffer_size: int = 3
    server_lr_bp: int = 10_000
    sml: bool = True
    target_interval_ms: int = 5000
    retarget_every: int = 4
    # the target-interval gate of decisions/0001 ("Difficulty"), as the demo runs it: without it
    # blocks come as fast as aggregates do, far faster than the target (0 turns it off)
    min_interval_bp: int = 9000
    # a head older than the target interval: the requirement falls to min_required_gain_bp over
    # this many more target intervals, so the chain never waits for a gain that no longer comes
    # (`consortium.pole.difficulty.required_gain_at`; 0 turns it off)
    gain_decay_intervals: int = 4
    # a committee seat with no endorsement this long after an update's reveal counts as an
    # abstention, so a verifier whose node is down holds no update pending for good (decisions/
    # 0007, "A verifier whose node is down"); 0 turns it off and leaves it out of the task record
    verdict_timeout_ms: int = Field(default=0, ge=0)
    initial_required_gain_bp: int = -500
    min_required_gain_bp: int = -1000
    max_required_gain_bp: int = 500
    block_reward: int = 1000
    sealer_share_bp: int = 1000
    seed: int | None = None  # initial weights; None draws a fresh one


class PublishedTask(BaseModel):
    """What `publish_task` put on the ledger."""

    task: dict[str, Any]
    tx_id: str
    verifiers: int = 0  # active verifiers on the ledger when it was published

    @property
    def quorum_unreachable(self) -> bool:
        """Fewer verifiers besides a submitter than the quorum: every update is refused
        (``NO_COMMITTEE``) until more verifiers join."""
        return int(self.task["quorum"]) > self.verifiers - 1


def input_width(cohort: str) -> int:
    """Columns of the cohort's design matrix (`consortium.learning.data.design_matrix`)."""
    from consortium.learning.data import load_definition

    definition = load_definition(cohort)
    return sum(
        len(f.category_codes()) if f.kind == "categorical" else 1 for f in definition.features
    )


def task_record(params: TaskParams, model_digest: str, blob_digest: str) -> dict[str, Any]:
    """The ``PublishTask`` record of ``params`` for version 0's digests, checked by the contract's
    own `Task` model."""
    from consortium.ledger.contract.records import Task

    unset = {"verdict_timeout_ms"} if params.verdict_timeout_ms == 0 else set()
    fields = params.model_dump(exclude={"hidden", "activation", "seed"} | unset, mode="json")
    spec = {
        "kind": "mlp",
        "in_features": input_width(params.cohort),
        "hidden": list(params.hidden),
        "activation": params.activation,
    }
    # committees drawn from the head, which a submitter cannot vary (decisions/0001, "Committees");
    # the contract's default, the transaction id, is kept for the tasks published before it. A
    # reject attestation names its reason (0001, AttestBlock), as attesters do; tasks published
    # before the field take one without.
    record = fields | {"model_spec": spec, "metric": "auroc", "committee_seed": "head",
                       "attest_reasons": True}  # fmt: skip
    record |= {"initial_model_digest": model_digest, "initial_blob_digest": blob_digest}
    Task.model_validate(record)  # the contract's own rules, checked before anything is stored
    return record


def publish_task(config: ConsortiumConfig, admin_id: str, params: TaskParams) -> PublishedTask:
    """Build version 0, store it encrypted, and submit ``PublishTask`` as ``admin_id``.

    Raises ``ValueError`` (pydantic) for parameters the contract would refuse, `ContractError`
    ``MISSING_ROLE`` for a publisher who is no admin and ``TASK_EXISTS`` for a task id the ledger
    holds (both before anything is stored), and
    `LedgerRejected` if the ledger refuses the transaction (e.g. the task id was taken meanwhile).
    """
    from consortium.blobs import open_blob_store
    from consortium.canonical import sha256_hex
    from consortium.crypto.modelblob import encrypt_model_blob
    from consortium.crypto.setup import load_member_keys
    from consortium.learning.models import ModelSpec, build_model, state_arrays
    from consortium.learning.serialize import to_safetensors
    from consortium.ledger.base import LedgerRejected
    from consortium.ledger.factory import open_ledger

    spec = ModelSpec(
        in_features=input_width(params.cohort), hidden=params.hidden, activation=params.activation
    )
    seed = params.seed if params.seed is not None else secrets.randbits(31)
    data = to_safetensors(state_arrays(build_model(spec, seed=seed)))
    blobs = open_blob_store(config.blobs.url, config.root)
    record = task_record(params, sha256_hex(data), "0" * 64)  # fail early, before keys or blobs
    ledger = open_ledger(config, admin_id)
    try:
        _refuse_what_the_contract_would(ledger, admin_id, params.task_id)
        share = ledger.evaluate("GetShareKey", {"member_id": admin_id})
        bundle = load_member_keys(
            config.member_msp(admin_id), blobs, share["wrapped_key_digest"], member_id=admin_id,
            context_digest=share["public_context_digest"],
        )  # fmt: skip
        record["initial_blob_digest"] = blobs.put(encrypt_model_blob(data, bundle.model_key))
        result = ledger.submit("PublishTask", {"task": record})
        members = ledger.evaluate("ListMembers", {})
    finally:
        ledger.close()
    if not result.valid:
        raise LedgerRejected(result)
    verifiers = sum(1 for m in members if "verifier" in m["roles"] and m["status"] == "active")
    return PublishedTask(task=record, tx_id=result.tx_id, verifiers=verifiers)


def _refuse_what_the_contract_would(ledger: Ledger, admin_id: str, task_id: str) -> None:
    """Raise `ContractError` as the contract would, ``MISSING_ROLE`` when ``admin_id`` is no
    admin or ``TASK_EXISTS`` when the ledger holds ``task_id``: read before version 0 is stored,
    so that a refused task leaves no blob behind (a hospital holds the model key and could store
    one). The contract still checks when the task is submitted (roles may change, and another
    publisher may take the id between these reads and the transaction)."""
    from consortium.ledger.base import ContractError
    from consortium.ledger.contract import codes

    member = ledger.evaluate("GetMember", {"member_id": admin_id})
    if "admin" not in member.get("roles", []):
        raise ContractError(codes.MISSING_ROLE, f"{admin_id!r} needs one of the roles admin")
    try:
        ledger.evaluate("GetTask", {"task_id": task_id})
    except ContractError as exc:
        if exc.code == codes.TASK_NOT_FOUND:
            return
        raise
    raise ContractError(codes.TASK_EXISTS, f"task {task_id!r} exists")
