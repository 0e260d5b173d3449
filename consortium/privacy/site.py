"""One ε for all of a site's training on its patients: the tasks it joins and its local runs.

Each (member, task) accountant (`consortium.privacy.accountant.AccountantStore`) holds that task's
budget, which the task's publisher chose. The patients behind a hospital's cohort are the same in
every task, though, and DP composes across everything released about them: two tasks at ε = 3
each are a guarantee of about ε = 6 (less by the accountant's composition, never more). A
hospital that wants one cap for its patients, whatever the consortium publishes, sets it in
``node.toml`` (``site_epsilon_budget``, ``site_delta``): then a run is reserved only if the
composition of *every* history kept under the site's folders, plus the run, stays within it.

The folders are the node's state directory (one file per task) and the cohort's folder, where
``consortium train`` keeps the accountant of training on the cohort alone. The histories are
composed as one accountant composes a task's (`epsilon_of` over the concatenated
``(noise_multiplier, sample_rate, steps)`` entries), at the site's δ, by the site's accountant
(``SiteBudget.accountant``: Opacus' PRV, whatever accountant each task chose). A task accounted
with RDP (the task template's default) therefore shows, in the site's report, its PRV ε, usually
below the RDP ε its node declares on the ledger: two bounds on the same training. Every task's
sample rate is relative to the same training rows, so the composition is the one DP-SGD's
analysis gives for those rows.

The check and the reservation happen under an exclusive lock on the first folder, so two tasks
trained at once cannot both pass the cap. Only the files count: a deleted task accountant is
missing from the composition (its task still refuses to train against the ledger,
`consortium.federation.trainer`); the ledger's declared ε cannot replace it, being a number at the
task's δ, not a history (docs/decisions/0004).

A run without DP has no finite ε: it fits no cap and composes with nothing, and no ε bounds what
its model reveals about the patients; only keeping the model on the site does. It is therefore
not accounted but recorded:
``<folder>/privacy/non-private.json`` (canonical JSON, outside the ``privacy/<task>/`` layout of
the accountants) lists each such run with its model's digest, and the site's report counts them,
so that what the cap does not bound is still on the site's record.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from consortium.canonical import canonical_json
from consortium.durable import write_durably
from consortium.privacy.accountant import (
    AccountantName,
    History,
    epsilon_of,
    plan_spend,
    spent_text,
)

__all__ = ["NonPrivateRun", "SiteBudget"]

NON_PRIVATE = "non-private.json"


class NonPrivateRun(BaseModel):
    """A training run on the site's patients without DP (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str  # UTC, ISO 8601
    model_digest: str  # SHA-256 of the model file: the one model no ε bounds
    out: str
    sites: list[str]
    train_rows: int


class _NonPrivateLog(BaseModel):
    runs: list[NonPrivateRun]


def _read_log(path: Path) -> list[NonPrivateRun]:
    if not path.is_file():
        return []
    try:
        return _NonPrivateLog.model_validate_json(path.read_bytes()).runs
    except ValueError as exc:
        raise ValueError(f"{path} is not a record of non-private runs: {exc}") from exc


@dataclass(frozen=True)
class SiteBudget:
    """The cap on a site's whole spending (see the module docstring)."""

    epsilon: float
    delta: float
    roots: tuple[Path, ...]
    accountant: AccountantName = "prv"

    def __post_init__(self) -> None:
        if not self.epsilon > 0:
            raise ValueError(f"site_epsilon_budget {self.epsilon}: must be > 0")
        if not 0 < self.delta < 1:
            raise ValueError(f"site_delta {self.delta}: must be between 0 and 1")
        if not self.roots:
            raise ValueError("a site budget needs the folders its accountants live in")

    def files(self) -> list[Path]:
        """Every accountant file under the folders (``<root>/privacy/<task>/<member>.json``)."""
        seen: dict[Path, Path] = {}
        for root in self.roots:
            for path in sorted((Path(root) / "privacy").glob("*/*.json")):
                seen.setdefault(path.resolve(), path)
        return list(seen.values())

    def histories(self) -> dict[str, History]:
        """Per accountant file (as ``task/member``), its history."""
        from consortium.privacy.accountant import AccountantStore

        out: dict[str, History] = {}
        for path in self.files():
            label = f"{path.parent.name}/{path.stem}"
            if label in out:  # the same task and member under two folders: both count
                label = str(path)
            out[label] = AccountantStore.open(path).history()
        return out

    def spent(self, histories: dict[str, History] | None = None) -> dict[str, float]:
        """Per accountant file, its own ε at the site's δ (for people: one accountant run each)."""
        found = self.histories() if histories is None else histories
        return {label: epsilon_of(h, delta=self.delta, accountant=self.accountant)
                for label, h in found.items()}  # fmt: skip

    def epsilon_spent(self, histories: dict[str, History] | None = None) -> float:
        """ε of every history under the site's folders composed, at the site's δ."""
        found = self.histories() if histories is None else histories
        composed = [entry for history in found.values() for entry in history]
        return epsilon_of(composed, delta=self.delta, accountant=self.accountant)

    def check(self, *, noise_multiplier: float, sample_rate: float, steps: int) -> str | None:
        """None if the run fits the cap on top of everything spent, else why not (a message).

        Each accountant's own ε is computed only for the refusal's message: a run that fits
        costs one composition, not one more per task."""
        histories = self.histories()
        plan = plan_spend(
            history=[entry for history in histories.values() for entry in history],
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
            steps=steps,
            delta=self.delta,
            epsilon_budget=self.epsilon,
            accountant=self.accountant,
        )
        if plan.fits:
            return None
        each = self.spent(histories)
        parts = ", ".join(f"{label} {spent_text(eps)}" for label, eps in each.items()) or "nothing"
        return (
            f"training refused: this run ({steps} steps, ε {spent_text(plan.epsilon_this_run)} "
            f"alone) would bring the ε spent on this site's patients, over every task and local "
            f"training together, from {spent_text(plan.epsilon_before)} to "
            f"{spent_text(plan.epsilon_after)}, past the site's budget "
            f"ε={self.epsilon:g} (δ={self.delta:g}; node.toml site_epsilon_budget). Spent so far, "
            f"each alone: {parts}. Raise the site's budget only if the data owners granted more; "
            "nothing was spent."
        )

    def counts(self, folder: Path) -> bool:
        """Whether ``folder`` is one of the site's folders (what is kept there counts)."""
        return Path(folder).resolve() in {Path(root).resolve() for root in self.roots}

    def non_private_runs(self) -> list[NonPrivateRun]:
        """Every run without DP recorded under the site's folders, oldest first in each."""
        paths = dict.fromkeys(
            (Path(root) / "privacy" / NON_PRIVATE).resolve() for root in self.roots
        )
        return [run for path in paths for run in _read_log(path)]

    def record_non_private(self, folder: Path, run: NonPrivateRun) -> None:
        """Add ``run`` to the record in ``folder`` (one of the site's folders), atomically."""
        if not self.counts(folder):
            raise ValueError(f"{folder} is not one of the site's folders {self.roots}")
        path = Path(folder) / "privacy" / NON_PRIVATE
        with self.locked():
            path.parent.mkdir(parents=True, exist_ok=True)
            log = _NonPrivateLog(runs=[*_read_log(path), run])
            # on disk, folder synced, before the model it records is written
            write_durably(path, canonical_json(log) + b"\n", tmp=path.with_suffix(".json.tmp"))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes: no two reservations check the cap at once."""
        folder = Path(self.roots[0]) / "privacy"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".site.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
