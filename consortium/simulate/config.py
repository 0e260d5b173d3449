"""What a simulation runs (`SimConfig`) and what it reports (`SimReport`)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from consortium.bounds import AtLeast1, Bounds, Positive, within_bounds
from consortium.federation.checks import Thresholds
from consortium.ledger.contract.records import Task
from consortium.node.settings import Attack
from consortium.simulate.fabric import FabricCheck

__all__ = [
    "DEFAULT_SITES",
    "HeldOut",
    "SimConfig",
    "SimReport",
    "SiteReport",
    "StopReason",
    "VersionPoint",
]

DEFAULT_SITES = ("cleveland", "hungary", "switzerland", "va")

SiteRole = Literal["hospital", "verifier"]
# Why a run ended: its target AUROC reached (with stop_at_target), every hospital done and all
# sealed (stop_when_done), or max_seconds.
StopReason = Literal["target", "done", "max_seconds"]
BOTH_ROLES: tuple[SiteRole, ...] = ("hospital", "verifier")


_UPDATE_SECONDS = "the simulated compute per update at speed 1, 0 for none"


def _as_the_task(field: str, zero_for_none: bool = False) -> Bounds:
    """The contract's range of the task's ``field`` (`records.Task`) as `Bounds`: one definition,
    so that a SimConfig refuses when made what publishing its task would refuse at setup."""
    ends: dict[str, int | None] = {"ge": None, "le": None}
    for constraint in Task.model_fields[field].metadata:
        ends |= {end: getattr(constraint, end) for end in ends if hasattr(constraint, end)}
    why = f"the task's {field}" + (", 0 for none" if zero_for_none else "")
    return Bounds(at_least=ends["ge"], at_most=ends["le"], why=why)


_Seed = Annotated[
    int, Bounds(at_least=0, at_most=2**64 - 1, why="torch seeds the initial model with 64 bits")
]
_KillEvery = Annotated[
    int | None, Bounds(at_least=1, example=6, why="ledger blocks between kills; None for none")
]


class SimConfig(BaseModel):
    """A simulated consortium: hospitals (one process each), an aggregator, one task."""

    model_config = ConfigDict(extra="forbid")

    sites: tuple[str, ...] = DEFAULT_SITES
    # site -> its member's roles; a site not named has both. ("verifier",): an evaluation lab
    # with that site's held-out rows, which verifies and attests but never trains or seals;
    # ("hospital",): a site that trains and seals but verifies nothing.
    roles: dict[str, tuple[SiteRole, ...]] = Field(default_factory=dict)
    speeds: dict[str, float] = Field(default_factory=dict)  # site -> slowness factor (5 = 5x)
    attacks: dict[str, Attack] = Field(default_factory=dict)  # site -> attack
    sync: bool = False  # synchronous FedAvg baseline
    sml: bool = True
    plaintext: bool = False  # no HE (bench baseline only)
    dp: bool = True
    epsilon_budget: Annotated[str, Bounds(above=0, why="ε, the task's budget per hospital")] = "4"
    delta: Annotated[str, Bounds(above=0, below=1, why="δ, a probability")] = "0.00001"
    # the task's accountant (TaskParams.accountant); PRV's ε is tighter for the same noise
    accountant: Literal["prv", "rdp"] = "rdp"
    planned_updates: AtLeast1 = 4  # each hospital's; its ε budget is paced over them
    epochs: AtLeast1 = 2
    lr: Positive = 0.1
    batch_size: AtLeast1 = 32
    hidden: tuple[int, ...] = (16,)
    buffer_size: Annotated[int, _as_the_task("buffer_size")] = 3
    committee_size: Annotated[int, _as_the_task("committee_size")] = 3
    quorum: Annotated[int, _as_the_task("quorum")] = 2  # at most committee_size
    verifier: Thresholds = Field(default_factory=Thresholds)  # every hospital's verifier policy
    staleness_exponent_bp: Annotated[int, _as_the_task("staleness_exponent_bp")] = 5000
    max_staleness: Annotated[int, _as_the_task("max_staleness")] = 50
    server_lr_bp: Annotated[int, _as_the_task("server_lr_bp")] = 10_000
    # min_required_gain_bp <= initial_required_gain_bp <= max_required_gain_bp, as the contract's
    # plateau tolerance: held-out AUROCs of ~40-57 rows
    initial_required_gain_bp: Annotated[int, _as_the_task("initial_required_gain_bp")] = -500
    # move by a few hundred bp between two good versions
    min_required_gain_bp: Annotated[int, _as_the_task("min_required_gain_bp")] = -1000
    max_required_gain_bp: Annotated[int, _as_the_task("max_required_gain_bp")] = 500
    retarget_every: Annotated[int, _as_the_task("retarget_every")] = 1000
    target_interval_ms: Annotated[int, _as_the_task("target_interval_ms")] = 5000
    # PoLe target-interval gate (0: none)
    min_interval_bp: Annotated[int, _as_the_task("min_interval_bp", zero_for_none=True)] = 0
    # PoLe decaying requirement (0: none), as TaskParams
    gain_decay_intervals: Annotated[
        int, _as_the_task("gain_decay_intervals", zero_for_none=True)
    ] = 4
    # a committee seat silent this long after an update's reveal abstains (0: never), as TaskParams
    verdict_timeout_ms: Annotated[int, _as_the_task("verdict_timeout_ms", zero_for_none=True)] = 0
    update_seconds: Annotated[float, Bounds(at_least=0, why=_UPDATE_SECONDS)] = 1.0
    pace_by_speed: bool = True  # async: a k-times slower hospital plans ⌈U/k⌉ updates
    flush_seconds: Positive = 4.0
    # sync: how long a round waits for a silent hospital (NodeSettings.sync_round_seconds)
    sync_round_seconds: Positive = 60.0
    sealer_timeout_seconds: Positive = 8.0
    target_auroc: float | None = None  # stop when the pooled held-out AUROC reaches this
    max_seconds: Positive = 120.0
    stop_at_target: bool = False  # stop as soon as target_auroc is reached
    eval_sites: tuple[str, ...] | None = None  # "honest" pooled metric over these (default:
    # the sites that do not attack)
    in_process: bool = False  # step every node in this process (tests), not one process each
    kill_every_blocks: _KillEvery = None  # faults: SIGKILL a random node about every this many
    # ledger blocks (progress, not wall time: the schedule is the same on a fast or slow machine)
    stop_when_done: bool = True  # stop once every hospital sent all it planned and all is sealed
    seed: _Seed = 0  # initial model and fault schedule
    train_seed: int | None = None  # tests only: fixed DP noise per hospital (never in real use)
    holdout_fold: int = Field(default=0, ge=0, le=4)  # which fifth of each site is held out
    out: str | None = None  # report directory
    workdir: str | None = None  # consortium directory (a temporary one when None)
    # "embedded": the SQLite ledger; "fabric-fake": every node reaches the ledger through
    # FabricLedger (Gateway gRPC) on the protocol-level fake peer in its own process.
    ledger: Literal["embedded", "fabric-fake"] = "embedded"

    # Numbers a run needs finite: max_seconds inf would never stop a run whose nodes stall, a nan
    # duration makes every comparison with it false (a wait that never or always ends), and a
    # speed of inf leaves the budget's pacing (⌈U/k⌉) undefined. Checked here, not only by
    # `consortium simulate`, for every caller from Python; the floats' ranges are in their
    # annotations (`consortium.bounds`).
    @field_validator("*")
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        return within_bounds(cls, info.field_name, value)

    @field_validator("speeds")
    @classmethod
    def _finite_speeds(cls, speeds: dict[str, float]) -> dict[str, float]:
        for site, factor in speeds.items():
            if not (math.isfinite(factor) and factor > 0):
                raise ValueError(
                    f"speeds: {site!r} has factor {factor}: a site's slowness factor must be a "
                    f"finite number greater than 0, e.g. {{{site!r}: 5.0}} for five times slower"
                )
        return speeds

    @field_validator("hidden")
    @classmethod
    def _units(cls, hidden: tuple[int, ...]) -> tuple[int, ...]:
        if any(units < 1 for units in hidden):
            low = min(hidden)
            raise ValueError(
                f"hidden {hidden}: a hidden layer of {low} units passes nothing on; give each "
                "layer at least 1 unit, e.g. hidden=(16,), or hidden=() for none"
            )
        return hidden

    @field_validator("target_auroc")
    @classmethod
    def _an_auroc(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 1:  # nan compares false: refused too
            raise ValueError(
                f"target_auroc must be above 0 and at most 1 (got {value}): an AUROC lies "
                "between 0 and 1, e.g. target_auroc=0.85, or None for no target"
            )
        return value

    @model_validator(mode="after")
    def _as_the_contract(self) -> SimConfig:
        """The task's rules across fields, as `records.Task` checks them at publication."""
        if self.quorum > self.committee_size:
            raise ValueError(
                f"quorum {self.quorum} is above committee_size {self.committee_size}: no "
                f"committee could reach it; give at most {self.committee_size}, e.g. "
                f"quorum={min(self.committee_size, 2)}"
            )
        gains = (self.min_required_gain_bp, self.initial_required_gain_bp,
                 self.max_required_gain_bp)  # fmt: skip
        if not gains[0] <= gains[1] <= gains[2]:
            raise ValueError(
                f"required gains (min, initial, max) {gains}: the task needs "
                "min_required_gain_bp <= initial_required_gain_bp <= max_required_gain_bp, e.g. "
                "-1000, -500, 500"
            )
        return self

    @model_validator(mode="after")
    def _roles_of_sites(self) -> SimConfig:
        for site, roles in self.roles.items():
            if site not in self.sites:
                raise ValueError(
                    f"roles names {site!r}, which is not among the sites {list(self.sites)}: "
                    "give roles to sites of the simulation"
                )
            if not roles:
                raise ValueError(
                    f"roles: {site!r} has no role: give it 'hospital', 'verifier' or both, or "
                    "leave it out of the simulation's sites"
                )
            if len(set(roles)) != len(roles):
                raise ValueError(
                    f"roles: {site!r} repeats a role ({list(roles)}): give each role once"
                )
        for field, table in (("attacks", self.attacks), ("speeds", self.speeds)):
            idle = [site for site in table if site in self.roles and site not in self.hospitals]
            if idle:
                raise ValueError(
                    f"{field} names {idle[0]!r}, which does not train (roles "
                    f"{list(self.site_roles(idle[0]))}): it sends no update, so the entry would "
                    "change nothing; drop it or give the site the role 'hospital'"
                )
        if not self.hospitals:
            raise ValueError(
                f"no site has the role 'hospital' (roles {dict(self.roles)}): nothing would be "
                "trained; give 'hospital' to at least one site"
            )
        return self

    def site_roles(self, site: str) -> tuple[SiteRole, ...]:
        """The roles of ``site``'s member (both unless `roles` names it)."""
        return tuple(self.roles.get(site, BOTH_ROLES))

    @property
    def hospitals(self) -> tuple[str, ...]:
        """The sites that train (role hospital), in the order of `sites`."""
        return tuple(s for s in self.sites if "hospital" in self.site_roles(s))


class VersionPoint(BaseModel):
    """A version as the simulator saw it appear."""

    height: int
    seconds: float
    auroc: float | None
    auroc_honest: float | None
    n_updates: int
    # on each site's own held-out rows (`SimReport.held_out_by_site`; None: a site whose rows hold
    # one class); empty in a report from before the field
    auroc_by_site: dict[str, float | None] = Field(default_factory=dict)


class HeldOut(BaseModel):
    """The pooled held-out rows a run's AUROCs stand on: the same rows for every version."""

    sites: tuple[str, ...]
    n: int
    positives: int

    def summary(self) -> str:
        """``n=173, 96 positive``, as `consortium.learning.evaluate.Metrics.summary` says it."""
        return f"n={self.n}, {self.positives} positive"


class SiteReport(BaseModel):
    """Per hospital: updates sent, accepted, rejected (by reason), ε spent."""

    site: str
    speed: float
    attack: str
    submitted: int
    accepted: int
    rejected: int
    # the rejected updates' rejecting endorsements by reason (an update rejected at quorum 2
    # counts twice), or their abstentions' when every seat abstained
    reasons: dict[str, int]
    epsilon_spent: str  # the last cumulative ε the site declared on the ledger (δ: config.delta)


class SimReport(BaseModel):
    """What `run_simulation` returns and writes as report.json."""

    config: SimConfig
    seconds: float  # wall time of the run, from the monitor's start (before any node is up)
    seconds_to_target: float | None  # from the same start; None: the target was not reached
    stopped: StopReason | None = None  # why the run ended (None: a report from before the field)
    # when every node (hospitals and aggregator) had started and read the ledger: before it, the
    # run is interpreters starting, the same whatever the protocol (None: never seen)
    seconds_nodes_up: float | None = None
    final_auroc: float | None
    final_auroc_honest: float | None
    # the rows behind `final_auroc` and every version's `auroc` (all sites' held-out rows), and
    # behind the `_honest` ones; None: a report from before the fields
    held_out: HeldOut | None = None
    held_out_honest: HeldOut | None = None
    held_out_by_site: dict[str, HeldOut] | None = None  # behind `VersionPoint.auroc_by_site`
    versions: list[VersionPoint]
    sites: list[SiteReport]
    ledger_verified: bool | None = None
    ledger_backend: str = "embedded"  # "embedded" or "fabric-fake"
    # What `ledger_verified` means for that backend: embedded, the whole chain re-verified;
    # Fabric, what a client can check (consortium.simulate.fabric.FabricCheck).
    ledger_check: str = ""
    fabric: FabricCheck | None = None
    workdir: str
    kills: list[str] = Field(default_factory=list)
