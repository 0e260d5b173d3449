"""Pydantic models of every world-state record and every transaction's arguments.

These models are the contract's input checks (a malformed argument is `BAD_ARGS` with pydantic's
message) and the source of the JSON Schemas in `data_schemas/ledger/` (`data_schemas/generate.py`).
The TypeScript chaincode re-implements exactly these constraints; `data_schemas/vectors/` keeps
the two in step. Rules that make both languages agree (see docs/decisions/0001-protocol.md):

- strict types, unknown fields refused: ``"1"`` is not an integer and ``true`` is not ``1``;
- integers stay within ±(2**53 − 1), so JavaScript numbers hold them exactly;
- identifiers cannot contain ``/``, so world-state keys built from them are unambiguous;
- decimal quantities (ε, δ) are strings of plain decimal digits, never floats.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_SAFE = 2**53 - 1
ROLES = ("admin", "aggregator", "auditor", "hospital", "verifier")
REJECT_REASONS = (
    "SML_MISMATCH",
    "INCONSISTENT_REVEAL",
    "DUPLICATE",
    "NO_LEARNING",
    "NORM_OUTLIER",
    "DIRECTION_OUTLIER",
    "METRIC_DROP",
    "BAD_BLOB",
)

Int = Annotated[int, Field(ge=-MAX_SAFE, le=MAX_SAFE)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_SAFE)]
PosInt = Annotated[int, Field(ge=1, le=MAX_SAFE)]
Bp = Annotated[int, Field(ge=0, le=10_000)]
GainBp = Annotated[int, Field(ge=-10_000, le=10_000)]
Ppm = Annotated[int, Field(ge=0, le=1_000_000)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
TxId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
OptTxId = Annotated[str, Field(pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
OptDigest = Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")]
Decimal = Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Role = Literal["admin", "aggregator", "auditor", "hospital", "verifier"]
# A committee member that cannot judge abstains: its seat counts out of the committee, never for
# or against (`committee.committee_outcome`). An attester abstains when its held-out rows cannot
# measure the task metric (0009-pole.md, "Attestation quorum"); an endorser when, for the same
# reason or for want of a norm reference, it could not run every check and all those it could
# run passed (reason UNMEASURABLE, 0007-bafl.md).
Verdict = Literal["accept", "reject", "abstain"]
Reason = Literal[
    "OK",
    "SML_MISMATCH",
    "INCONSISTENT_REVEAL",
    "DUPLICATE",
    "NO_LEARNING",
    "NORM_OUTLIER",
    "DIRECTION_OUTLIER",
    "METRIC_DROP",
    "BAD_BLOB",
    "UNMEASURABLE",
]
# Why an attester rejects a proposal (`AttestBlock.reason`): the checks of
# `consortium.federation.attester`, in the order it runs them (decisions/0001, "Attester rejection
# reasons"). Only a reject gives one.
AttestReason = Literal[
    "PROPOSAL_LATE",
    "NO_AGGREGATE",
    "BLOB_UNREADABLE",
    "MODEL_DIGEST_MISMATCH",
    "WEIGHTS_MISMATCH",
    "UPDATE_UNREADABLE",
    "NOT_CANONICAL",
    "VERSION_MISMATCH",
]
ATTEST_REASONS: tuple[str, ...] = get_args(AttestReason)
ProposalStatus = Literal[
    "open", "final", "below_target", "superseded", "rejected", "member_revoked"
]


class Record(BaseModel):
    """Base of every model: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


# --------------------------------------------------------------------------- arguments


class RegisterMemberArgs(Record):
    """`RegisterMember` (and one entry of `Bootstrap`)."""

    member_id: Ident
    msp_id: Ident
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]
    cert_pem: Annotated[str, Field(min_length=1, max_length=8192)]

    @model_validator(mode="after")
    def _unique_roles(self) -> RegisterMemberArgs:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles must not repeat")
        return self


class BootstrapArgs(Record):
    """`Bootstrap`: the genesis members; the creator must be one of them, with role admin."""

    members: Annotated[list[RegisterMemberArgs], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _unique_ids(self) -> BootstrapArgs:
        ids = [m.member_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("member_id must not repeat")
        return self


class MemberIdArgs(Record):
    """`RevokeMember`, `GetMember`, `GetBalance`, `GetShareKey`."""

    member_id: Ident


class ShareKeyArgs(Record):
    """`ShareKey`: the digest of the secret context wrapped for one member."""

    member_id: Ident
    wrapped_key_digest: Digest
    public_context_digest: Digest


class Task(Record):
    """A learning task, as published (`PublishTask.task`) and stored in `task/{task_id}`."""

    task_id: Ident
    title: Text
    cohort: Ident
    model_spec: dict[str, Any]
    metric: Literal["auroc"]
    epsilon_budget: Decimal
    delta: Decimal
    accountant: Literal["prv", "rdp"]
    committee_size: Annotated[int, Field(ge=1, le=100)]
    quorum: Annotated[int, Field(ge=1, le=100)]
    staleness_exponent_bp: Annotated[int, Field(ge=0, le=100_000)]
    max_staleness: Annotated[int, Field(ge=0, le=1_000_000)]
    buffer_size: Annotated[int, Field(ge=1, le=10_000)]
    server_lr_bp: Annotated[int, Field(ge=1, le=100_000)]
    sml: bool
    target_interval_ms: Annotated[int, Field(ge=1, le=2**40)]
    retarget_every: Annotated[int, Field(ge=1, le=1000)]
    min_interval_bp: Bp = 0  # target-interval gate, 0 = none (`pole.difficulty.too_early`)
    # late heads: the requirement decays to min_required_gain_bp over this many target intervals,
    # 0 = none (`pole.difficulty.required_gain_at`)
    gain_decay_intervals: Annotated[int, Field(ge=0, le=1000)] = 0
    initial_required_gain_bp: GainBp
    min_required_gain_bp: GainBp
    max_required_gain_bp: GainBp
    block_reward: Annotated[int, Field(ge=0, le=2**40)]
    sealer_share_bp: Bp
    initial_model_digest: Digest
    initial_blob_digest: Digest
    verification_set_digest: Digest | None = None
    # what seeds the committee draws (`committee.head_seed`): "head", the task's head and the
    # submitter or proposer; "tx", the transaction id, which the submitter can vary. Tasks published
    # before the field have none and keep "tx"; it is stored only when "head" (decisions/0001,
    # "Committees").
    committee_seed: Literal["tx", "head"] = "tx"
    # a committee seat with no endorsement this long after the update's reveal counts as an
    # abstention (`_updates.derived_status`); 0 = never (the rule before the field). Stored only
    # when set (decisions/0007, "A verifier whose node is down").
    verdict_timeout_ms: Annotated[int, Field(ge=0, le=2**40)] = 0
    # a reject attestation must name its reason (`AttestBlock.reason`; REASON_MISSING without).
    # Tasks published before the field have none and take a reject without one, as they did then;
    # stored only when true (decisions/0001, AttestBlock).
    attest_reasons: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if self.quorum > self.committee_size:
            raise ValueError("quorum must not exceed committee_size")
        lo, mid, hi = (
            self.min_required_gain_bp,
            self.initial_required_gain_bp,
            self.max_required_gain_bp,
        )
        if not lo <= mid <= hi:
            raise ValueError(
                "need min_required_gain_bp <= initial_required_gain_bp <= max_required_gain_bp"
            )
        return self


class PublishTaskArgs(Record):
    """`PublishTask`."""

    task: Task


class SubmitUpdateArgs(Record):
    """`SubmitUpdate`: an encrypted (SML-mapped) model delta, by digest."""

    task_id: Ident
    base_version: NonNegInt
    model_digest: Digest
    n_samples: PosInt
    epsilon_spent: Decimal
    commitment: OptDigest


class RevealNonceArgs(Record):
    """`RevealNonce`: opens the SML commitment; `nonce` is 32 bytes in hex, or "" without SML."""

    task_id: Ident
    update_id: TxId
    nonce: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")]
    unmapped_digest: Digest


class EndorseArgs(Record):
    """`Endorse`: one committee member's verdict on one update."""

    task_id: Ident
    update_id: TxId
    verdict: Verdict
    reason: Reason
    metric_bp: Bp
    scores: Annotated[dict[Ident, Int], Field(max_length=64)]

    @model_validator(mode="after")
    def _reason_matches(self) -> EndorseArgs:
        if (self.verdict == "accept") != (self.reason == "OK"):
            raise ValueError("reason must be OK exactly when verdict is accept")
        if (self.verdict == "abstain") != (self.reason == "UNMEASURABLE"):
            raise ValueError("reason must be UNMEASURABLE exactly when verdict is abstain")
        return self


class WeightedUpdates(Record):
    """The updates of an aggregate or block, with their aggregation weights and contributions."""

    updates: Annotated[list[TxId], Field(min_length=1, max_length=1000)]
    weights_ppm: Annotated[list[Annotated[int, Field(ge=1, le=1_000_000)]], Field(max_length=1000)]
    contribution_ppm: Annotated[list[Ppm], Field(max_length=1000)]

    @model_validator(mode="after")
    def _lists(self) -> WeightedUpdates:
        n = len(self.updates)
        if len(set(self.updates)) != n:
            raise ValueError("updates must not repeat")
        if len(self.weights_ppm) != n or len(self.contribution_ppm) != n:
            raise ValueError("updates, weights_ppm and contribution_ppm need the same length")
        if sum(self.contribution_ppm) != 1_000_000:
            raise ValueError("contribution_ppm must sum to 1000000")
        return self


class PostAggregateArgs(WeightedUpdates):
    """`PostAggregate`: the aggregator's encrypted weighted sum of accepted updates, by digest."""

    task_id: Ident
    aggregate_digest: Digest


class ProposeBlockArgs(WeightedUpdates):
    """`ProposeBlock`: a sealer's candidate learning block (``aggregate_id`` "" when none)."""

    task_id: Ident
    height: PosInt
    parent_digest: Digest
    aggregate_id: OptTxId = ""
    aggregate_digest: Digest
    model_digest: Digest
    blob_digest: Digest
    next_required_gain_bp: GainBp


class AttestBlockArgs(Record):
    """`AttestBlock`: a committee member's evaluation of a proposal against the current head;
    ``reason`` is the check a rejected proposal failed, given with a reject only."""

    task_id: Ident
    proposal_id: TxId
    verdict: Verdict
    metric_bp: Bp
    base_metric_bp: Bp
    reason: AttestReason | None = None

    @model_validator(mode="after")
    def _reason_with_reject(self) -> AttestBlockArgs:
        if self.reason is not None and self.verdict != "reject":
            raise ValueError(
                f"reason is given only with verdict reject: leave it out of an {self.verdict}"
            )
        return self


class RecordDownloadArgs(Record):
    """`RecordDownload`: a member fetched a model version."""

    task_id: Ident
    version: NonNegInt
    model_digest: Digest


class NoArgs(Record):
    """Queries without arguments (`ListMembers`, `ListTasks`, `ListBalances`)."""


class TaskIdArgs(Record):
    """`GetTask`, `GetHead`, `ListVersions`."""

    task_id: Ident


class UpdateRefArgs(Record):
    """`GetUpdate`."""

    task_id: Ident
    update_id: TxId


class ListUpdatesArgs(Record):
    """`ListUpdates`, optionally filtered by derived status."""

    task_id: Ident
    status: Literal["pending", "accepted", "rejected", "included"] | None = None


class VersionRefArgs(Record):
    """`GetVersion`."""

    task_id: Ident
    version: NonNegInt


class AggregateRefArgs(Record):
    """`GetAggregate`."""

    task_id: Ident
    aggregate_id: TxId


class ProposalRefArgs(Record):
    """`GetProposal`."""

    task_id: Ident
    proposal_id: TxId


class ListDownloadsArgs(Record):
    """`ListDownloads`, optionally for one task."""

    task_id: Ident | None = None


# --------------------------------------------------------------------------- world state


class Member(Record):
    """`member/{member_id}`."""

    member_id: Ident
    msp_id: Ident
    roles: list[Role]
    cert_pem: str
    cert_sha256: Digest
    status: Literal["active", "revoked"]
    registered_ms: NonNegInt
    revoked_ms: NonNegInt | None = None


class ShareKey(Record):
    """`sharekey/{member_id}`; ``replaced`` is the wrap an admin's share replaced (one a member
    gave), stored only then."""

    member_id: Ident
    wrapped_key_digest: Digest
    public_context_digest: Digest
    by: Ident
    ms: NonNegInt
    replaced: Digest | None = None


class TaskRecord(Task):
    """`task/{task_id}`: the task plus who published it and when."""

    published_by: Ident
    published_ms: NonNegInt


def too_stale(head: int, base_version: int, max_staleness: int) -> bool:
    """Is an update on ``base_version`` more than the task's ``max_staleness`` versions behind
    ``head``? Then it enters no aggregate or block (STALE_BASE; 0001, "Staleness at inclusion").
    The head only grows, so such an update never becomes includable again. One rule for the
    contract, the aggregator and the portal."""
    return head - base_version > max_staleness


class Update(Record):
    """`update/{task_id}/{update_id}`; `update_id` is the SubmitUpdate transaction id."""

    update_id: TxId
    task_id: Ident
    member_id: Ident
    base_version: NonNegInt
    model_digest: Digest
    n_samples: PosInt
    epsilon_spent: Decimal
    commitment: OptDigest
    committee: list[Ident]
    quorum: PosInt
    submitted_ms: NonNegInt
    nonce: str | None = None
    unmapped_digest: Digest | None = None
    revealed_ms: NonNegInt | None = None


class Endorsement(Record):
    """`endorse/{update_id}/{member_id}`."""

    update_id: TxId
    member_id: Ident
    verdict: Verdict
    reason: Reason
    metric_bp: Bp
    scores: dict[str, Int]
    ms: NonNegInt


class Aggregate(Record):
    """`aggregate/{task_id}/{aggregate_id}`; `aggregate_id` is the PostAggregate transaction id."""

    aggregate_id: TxId
    task_id: Ident
    head: NonNegInt
    updates: list[TxId]
    weights_ppm: list[PosInt]
    contribution_ppm: list[Ppm]
    aggregate_digest: Digest
    by: Ident
    ms: NonNegInt


class Proposal(Record):
    """`proposal/{task_id}/{proposal_id}`; `proposal_id` is the ProposeBlock transaction id."""

    proposal_id: TxId
    task_id: Ident
    height: PosInt
    parent_digest: Digest
    aggregate_id: OptTxId
    updates: list[TxId]
    weights_ppm: list[PosInt]
    contribution_ppm: list[Ppm]
    aggregate_digest: Digest
    model_digest: Digest
    blob_digest: Digest
    required_gain_bp: GainBp
    next_required_gain_bp: GainBp
    interval_ms: NonNegInt
    sealer: Ident
    committee: list[Ident]
    quorum: PosInt
    ms: NonNegInt
    status: ProposalStatus
    closed_ms: NonNegInt | None = None


class Attestation(Record):
    """`attest/{proposal_id}/{member_id}`; ``reason`` (a reject's) stored only when given."""

    proposal_id: TxId
    member_id: Ident
    verdict: Verdict
    metric_bp: Bp
    base_metric_bp: Bp
    ms: NonNegInt
    reason: AttestReason | None = None


def measured_metrics(
    verdict: str, metric_bp: int, base_metric_bp: int
) -> tuple[int | None, int | None]:
    """An attestation's ``(metric_bp, base_metric_bp)``, each None where it is a placeholder.

    The contract ranks the accepting attestations by their gain and reads no other's metrics
    (0001, AttestBlock), and an attester sends 0 for what it did not measure
    (`consortium.federation.attester`): one that abstains could not measure the metric on its
    rows (both 0); one that rejects did not score the proposed version (``metric_bp`` 0) but
    measures its parent when its rows can, and sends 0 when they cannot. A parent's AUROC of
    exactly 0 (every positive row scored below every negative one) is read as not measured: the
    ledger cannot tell the two apart. One rule for `consortium trace` and the portal."""
    if verdict == "accept":
        return metric_bp, base_metric_bp
    if verdict == "reject" and base_metric_bp > 0:
        return None, base_metric_bp
    return None, None


class LearningBlock(Record):
    """`version/{task_id}/{height:08d}`: version `height` of the task's model.

    Version 0 is written by `PublishTask` (no parent, no updates, no attestation). `ms` is the
    timestamp of the block's `ProposeBlock` (of `PublishTask` for version 0) and `interval_ms` the
    time since the parent's `ms`: the quantity the difficulty retargeting steers.
    """

    task_id: Ident
    height: NonNegInt
    parent_digest: Digest | None
    model_digest: Digest
    blob_digest: Digest
    aggregate_id: OptTxId
    aggregate_digest: Digest | None
    updates: list[TxId]
    weights_ppm: list[PosInt]
    contribution_ppm: list[Ppm]
    sealer: Ident
    proposal_id: TxId
    metric_bp: Bp
    base_metric_bp: Bp
    gain_bp: GainBp
    attesters: list[Ident]
    required_gain_bp: GainBp  # what gain_bp had to meet: the parent's, decayed to interval_ms
    next_required_gain_bp: GainBp
    interval_ms: NonNegInt
    ms: NonNegInt
    rewards: dict[str, NonNegInt]


class Head(Record):
    """`head/{task_id}`: the latest version and the gain required of the next block."""

    task_id: Ident
    height: NonNegInt
    model_digest: Digest
    blob_digest: Digest
    ms: NonNegInt
    required_gain_bp: GainBp


class Included(Record):
    """`included/{update_id}`."""

    update_id: TxId
    task_id: Ident
    height: PosInt


class Balance(Record):
    """`balance/{member_id}`."""

    member_id: Ident
    units: NonNegInt


class Epsilon(Record):
    """`epsilon/{task_id}/{member_id}`: the member's latest cumulative ε declaration."""

    task_id: Ident
    member_id: Ident
    epsilon_spent: Decimal
    ms: NonNegInt


class Download(Record):
    """`download/{tx_id}`."""

    download_id: TxId
    member_id: Ident
    task_id: Ident
    version: NonNegInt
    model_digest: Digest
    ms: NonNegInt


ARGS_MODELS: dict[str, type[Record]] = {
    "Bootstrap": BootstrapArgs,
    "RegisterMember": RegisterMemberArgs,
    "RevokeMember": MemberIdArgs,
    "ShareKey": ShareKeyArgs,
    "PublishTask": PublishTaskArgs,
    "SubmitUpdate": SubmitUpdateArgs,
    "RevealNonce": RevealNonceArgs,
    "Endorse": EndorseArgs,
    "PostAggregate": PostAggregateArgs,
    "ProposeBlock": ProposeBlockArgs,
    "AttestBlock": AttestBlockArgs,
    "RecordDownload": RecordDownloadArgs,
}

QUERY_ARGS_MODELS: dict[str, type[Record]] = {
    "GetMember": MemberIdArgs,
    "ListMembers": NoArgs,
    "GetTask": TaskIdArgs,
    "ListTasks": NoArgs,
    "GetUpdate": UpdateRefArgs,
    "ListUpdates": ListUpdatesArgs,
    "GetHead": TaskIdArgs,
    "GetVersion": VersionRefArgs,
    "ListVersions": TaskIdArgs,
    "GetAggregate": AggregateRefArgs,
    "ListAggregates": TaskIdArgs,
    "GetProposal": ProposalRefArgs,
    "GetBalance": MemberIdArgs,
    "ListBalances": NoArgs,
    "GetShareKey": MemberIdArgs,
    "ListDownloads": ListDownloadsArgs,
}

STATE_MODELS: dict[str, type[Record]] = {
    "Member": Member,
    "ShareKey": ShareKey,
    "Task": TaskRecord,
    "Update": Update,
    "Endorsement": Endorsement,
    "Aggregate": Aggregate,
    "Proposal": Proposal,
    "Attestation": Attestation,
    "LearningBlock": LearningBlock,
    "Head": Head,
    "Included": Included,
    "Balance": Balance,
    "Epsilon": Epsilon,
    "Download": Download,
}
