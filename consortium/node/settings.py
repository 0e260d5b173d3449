"""A node's local settings: `DIR/members/NAME/node.toml` (optional; every field has a default).

These are local choices of one member (how hard to train, how fast it polls, which cohort file,
how strict its verifier is), not consortium rules: the rules (budget, committee, buffer size,
staleness exponent, learning rate of the server) are in the task on the ledger. The simulator
writes this file to make a hospital slow (`speed`) or malicious (`attack`, for the poisoning tests
only).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from consortium.bounds import AtLeast0, AtLeast1, Bounds, Positive, within_bounds
from consortium.config import validation_text
from consortium.federation.checks import Thresholds
from consortium.privacy.site import SiteBudget

__all__ = [
    "ATTACKS",
    "NodeSettings",
    "cohort_path",
    "load_settings",
    "save_settings",
    "site_budget_of",
]

ATTACKS = ("none", "sign_flip", "scale10", "label_flip", "noise")
Attack = Literal["none", "sign_flip", "scale10", "label_flip", "noise"]

SETTINGS_NAME = "node.toml"

# the example in its message, since its default (None) is no cap at all
_SiteEpsilon = Annotated[
    float | None, Bounds(above=0, example=3.0, why="an ε cap; leave it out for none")
]

_HoldoutBp = Annotated[
    int,
    Bounds(at_least=100, at_most=9000, why="the held-out share in basis points, never trained on"),
]


class NodeSettings(BaseModel):
    """What one node does and how (see the module docstring).

    A float is refused unless finite and in its range (`consortium.bounds`), with a message naming
    the field, the value and an example: an infinite wait never ends, an infinite speed breaks
    the pacing of the ε budget, and nan compares false with everything.
    """

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = None  # None: the first task on the ledger
    cohort: str | None = None  # cohort.parquet (relative: to this file's folder); default
    # DIR/members/NAME/cohort/cohort.parquet
    site: str | None = None  # for the demo: take heart_cohort_table(site) when no file exists
    holdout_bp: _HoldoutBp = 2000
    # which share: fold f holds out ranks f·share to (f+1)·share of each stratum (0: the first);
    # cross-fitting runs every fold (`consortium demo --cross-fit`)
    holdout_fold: Annotated[int, Bounds(at_least=0)] = 0  # below 10000 / holdout_bp
    # training (hospital)
    planned_updates: AtLeast1 = 8  # updates the ε budget is paced over
    epochs: AtLeast1 = 2
    lr: Positive = 0.1
    batch_size: AtLeast1 = 32
    max_grad_norm: Positive = 1.0
    dp: bool = True
    # DP noise as Opacus' secure_mode draws it (four Gaussian draws per tensor, robust to the
    # floating-point attacks on a noised value's representation); false: one draw, cheaper for
    # large models (bench/dp_overhead.py prints both)
    secure_noise: bool = True
    speed: Positive = 1.0  # simulated slowness: 5 = five times slower
    update_seconds: AtLeast0 = 0.0  # simulated compute time of one update at speed 1
    attack: Attack = "none"
    seed: int | None = None  # tests only: a known seed means known DP noise
    # one cap on all this site's DP training on its patients, every task and local training
    # together (`consortium.privacy.site`); None: each task's own budget only
    site_epsilon_budget: _SiteEpsilon = None
    site_delta: Annotated[float, Bounds(above=0, below=1, why="δ, a probability")] = 1e-5
    # verification
    reference_window: AtLeast1 = 8
    # where this verifier draws its lines (a `[verifier]` table; unset keys keep the defaults)
    verifier: Thresholds = Field(default_factory=Thresholds)
    # aggregation
    flush_seconds: Positive = 4.0  # aggregate a partial buffer after this wait
    sync_members: list[str] = Field(default_factory=list)  # synchronous baseline: wait for all
    # ... but for a hospital that sent nothing on the head, only this long after the round's first
    # update (FedAvg's round timeout; its node may refuse to train, e.g. at its site's ε cap)
    sync_round_seconds: Positive = 60.0
    # sealing
    sealer_timeout_seconds: Positive = 8.0
    # attesting: a proposal stamped further ahead of this node's clock is rejected (its interval
    # sets the gate, retargeting and the decayed requirement; decisions/0009-pole.md, "Limits")
    max_clock_skew_seconds: Positive = 60.0
    poll_seconds: Positive = 0.2
    plaintext: bool = False  # no HE: only for the overhead benchmark's baseline

    @field_validator("*")
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        return within_bounds(cls, info.field_name, value)

    @model_validator(mode="after")
    def _fold_exists(self) -> NodeSettings:
        if self.holdout_fold * self.holdout_bp >= 10000:
            from consortium.learning.data import folds_of  # pandas: only on the error path

            raise ValueError(
                f"holdout_fold = {self.holdout_fold} does not exist at holdout_bp = "
                f"{self.holdout_bp}: folds run from 0 to {folds_of(self.holdout_bp) - 1}"
            )
        return self

    @model_validator(mode="after")
    def _norm_reference_fits(self) -> NodeSettings:
        """A verifier holds at most ``2 × reference_window`` norms: its last accepted updates and
        its last own deltas, ``reference_window`` of each (`verifier._references`; one that does
        not train, ``reference_window``). A `Thresholds.min_reference` above that would leave the
        norm check, the check against ×10 and model replacement, off for good, silently."""
        needed, window = self.verifier.min_reference, self.reference_window
        if needed > 2 * window:
            raise ValueError(
                f"verifier.min_reference = {needed} is more than this verifier can hold with "
                f"reference_window = {window}: at most {2 * window} norms (its last {window} "
                f"accepted updates and its last {window} own deltas), so its norm check would "
                f"never run; give verifier.min_reference at most {2 * window}, or "
                f"reference_window at least {(needed + 1) // 2}"
            )
        return self

    @model_validator(mode="after")
    def _dp_under_site_budget(self) -> NodeSettings:
        if not self.dp and self.site_epsilon_budget is not None:
            raise ValueError(
                "dp = false and site_epsilon_budget together: a model trained without DP has no "
                "finite ε, so no site budget can hold it; remove dp = false"
            )
        return self

    def test_bed_only(self) -> list[str]:
        """The settings meant for simulations and benchmarks only, which `consortium node run`
        refuses without ``--test-bed``: each sends something a hospital must never send."""
        found = []
        if not self.dp:
            found.append("dp = false (updates trained without differential privacy, declared on "
                         "the ledger as ε 0)")  # fmt: skip
        if self.plaintext:
            found.append("plaintext = true (updates stored unencrypted: the aggregator reads them)")
        if self.attack != "none":
            found.append(f'attack = "{self.attack}" (poisoned updates)')
        return found


def load_settings(member_dir: Path) -> NodeSettings:
    """Read ``member_dir/node.toml`` (defaults when absent)."""
    path = member_dir / SETTINGS_NAME
    if not path.is_file():
        return NodeSettings()
    try:
        return NodeSettings.model_validate(tomllib.loads(path.read_text()))
    except ValidationError as exc:
        raise ValueError(f"{path} is not a valid {SETTINGS_NAME}: {validation_text(exc)}") from exc
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid {SETTINGS_NAME}: {exc}") from exc


def save_settings(member_dir: Path, settings: NodeSettings) -> Path:
    """Write ``member_dir/node.toml`` atomically."""
    member_dir.mkdir(parents=True, exist_ok=True)
    path = member_dir / SETTINGS_NAME
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(settings.model_dump(mode="json", exclude_none=True)))
    tmp.replace(path)
    return path


def cohort_path(mdir: Path, settings: NodeSettings) -> Path:
    """The cohort table a hospital's node reads: node.toml's ``cohort``, else
    ``DIR/members/NAME/cohort/cohort.parquet`` (the --out of `consortium ingest`).

    A relative ``cohort`` is relative to node.toml's folder ``mdir``, not to the folder a command
    was started from: the node, `consortium train` and the portal then read the same file. A
    folder (an ingest's --out) stands for the ``cohort.parquet`` in it."""
    if not settings.cohort:
        return mdir / "cohort" / "cohort.parquet"
    path = mdir / Path(settings.cohort).expanduser()  # an absolute path stays as it is
    return path / "cohort.parquet" if path.is_dir() else path


def site_budget_of(mdir: Path, settings: NodeSettings) -> SiteBudget | None:
    """The cap node.toml sets on all of the hospital's training (None: none set), over the
    folders its accountants live in: the node's state directory and its cohort's folder, where
    `consortium train` keeps the accountant of training on the cohort alone."""
    if settings.site_epsilon_budget is None:
        return None
    roots = (mdir / "state", cohort_path(mdir, settings).parent)
    return SiteBudget(settings.site_epsilon_budget, settings.site_delta, roots)
