"""Per member and task privacy accounting, persisted, so ε composes over every update ever sent.

DP-SGD's guarantee is about everything a member releases for a task, not about one update: the
accountant must see every step of every run. Each (member, task) therefore has one JSON file under
the member's state directory (``<state_dir>/privacy/<task_id>/<member_id>.json``) holding the
accountant's history: a list of ``(noise_multiplier, sample_rate, steps)`` entries, exactly what
Opacus' accountants compose (Opacus ``IAccountant.history``). ε is always recomputed from the whole
history by Opacus (``create_accountant("prv" | "rdp")``), never summed by us: composition of
subsampled Gaussians is sublinear, and Opacus' analysis (RDP: Mironov 2017 / Mironov et al. 2019;
PRV: Gopi et al. 2021) is the reference. For RDP the per-step curve of each (σ, q) is cached in the
process (a node asks for ε at every poll), and the result is Opacus' number to the last bit
(`_rdp_epsilon`; `bench/accountant.py` prints what the cache saves).

Spending is **reserved before training starts** (`AccountantStore.reserve`): if the process dies
mid-run, the accountant over-counts a run that released nothing, never under-counts one that did.
A run that would pass the task's budget is refused before anything is written. Floats are kept as
their shortest ``repr`` strings (which round-trip exactly), in the project's no-floats JSON style.
The file is replaced atomically under an exclusive lock, so two trainings of the same member cannot
both pass the budget check.
"""

from __future__ import annotations

import fcntl
import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from opacus.accountants import RDPAccountant, create_accountant
from opacus.accountants.analysis import rdp as rdp_analysis
from pydantic import BaseModel, ConfigDict

from consortium.canonical import canonical_json
from consortium.durable import write_durably

if TYPE_CHECKING:
    from consortium.privacy.site import SiteBudget

__all__ = [
    "AccountantName",
    "AccountantStore",
    "AccountingChanged",
    "BudgetExceeded",
    "SiteBudgetExceeded",
    "SpendEntry",
    "SpendPlan",
    "epsilon_of",
    "left_text",
    "noise_for_budget",
    "plan_spend",
    "spent_text",
]

AccountantName = Literal["prv", "rdp"]
History = Sequence[tuple[float, float, int]]
_RDP_ORDERS = tuple(RDPAccountant.DEFAULT_ALPHAS)  # the orders Opacus' RDP accountant uses


def spent_text(epsilon: float) -> str:
    """An ε spent, for people: three decimals rounded *up*, so that what is printed is never below
    what was spent (2.9996 reads 3.000, not 2.999 or 3.000 by luck)."""
    return str(Decimal(repr(float(epsilon))).quantize(Decimal("0.001"), rounding=ROUND_CEILING))


def left_text(epsilon: float) -> str:
    """An ε remaining, for people: three decimals rounded *down*, never more than is left."""
    value = max(0.0, float(epsilon))
    return str(Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_FLOOR))


class BudgetExceeded(Exception):
    """A run would spend past the task's ε budget; nothing was spent."""


class SiteBudgetExceeded(BudgetExceeded):
    """A run would spend past the site's ε budget (`consortium.privacy.site`); nothing was spent."""


class AccountingChanged(ValueError):
    """A stored accountant was started with another budget, δ or accountant than this run asks
    for; nothing was spent. ``field`` names the setting, ``stored`` and ``given`` its values."""

    def __init__(self, path: Path, field: str, stored: object, given: object) -> None:
        super().__init__(
            f"{path}: stored {field} {stored!r} differs from {given!r}; a task's accounting "
            "cannot change midway"
        )
        self.path, self.field, self.stored, self.given = path, field, stored, given


class SpendEntry(BaseModel):
    """``steps`` DP-SGD steps at one noise multiplier and Poisson sample rate (repr strings)."""

    model_config = ConfigDict(frozen=True)

    noise_multiplier: str
    sample_rate: str
    steps: int

    def as_tuple(self) -> tuple[float, float, int]:
        return (float(self.noise_multiplier), float(self.sample_rate), self.steps)


class SpendPlan(BaseModel):
    """What a run would spend: ε before, after, of the run alone, and the budget left after it."""

    accountant: AccountantName
    delta: float
    epsilon_budget: float
    epsilon_before: float
    epsilon_after: float
    epsilon_this_run: float
    steps: int

    @property
    def fits(self) -> bool:
        return self.epsilon_after <= self.epsilon_budget

    def refusal(self) -> str:
        """The message a refused run gives."""
        remaining = max(0.0, self.epsilon_budget - self.epsilon_before)
        if remaining < 0.01 * self.epsilon_budget:
            advice = (
                "The budget for these patients is spent: no further training on them fits it "
                "(use the model already trained, or a task whose budget the data owners granted)"
            )
        else:
            advice = (
                "A run fits only with more noise per step, fewer epochs or a smaller sample rate "
                f"(it must stay within the remaining {left_text(remaining)})"
            )
        return (
            f"training refused: this run ({self.steps} steps) would bring ε from "
            f"{spent_text(self.epsilon_before)} to {spent_text(self.epsilon_after)}, past the "
            f"task's budget ε={self.epsilon_budget:g} (δ={self.delta:g}); spent so far "
            f"{spent_text(self.epsilon_before)}, remaining {left_text(remaining)}. {advice}; "
            "nothing was spent."
        )


def epsilon_of(history: History, *, delta: float, accountant: AccountantName) -> float:
    """ε(δ) of a whole history of ``(noise_multiplier, sample_rate, steps)``, by Opacus.

    Runs of the same mechanism (σ, q) are merged into one entry of their total steps first:
    composition is commutative and n then m steps of one mechanism are n + m steps of it, so the
    privacy loss is the same, while the PRV accountant's cost grows with the number of entries
    (a hospital's paced updates all share σ and q, so its history becomes one entry).
    """
    steps: dict[tuple[float, float], int] = {}
    for s, q, n in history:
        if n > 0:
            key = (float(s), float(q))
            steps[key] = steps.get(key, 0) + int(n)
    entries = [(s, q, n) for (s, q), n in steps.items()]
    if not entries:
        return 0.0
    with warnings.catch_warnings():
        # RDP warns when its best order is the largest one tried: the bound is then loose
        # (ε over-stated), which errs on the safe side; it happens for small σ while searching.
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        if accountant == "rdp":
            return _rdp_epsilon(entries, delta)
        acc = create_accountant(mechanism=accountant)
        acc.history = entries
        return float(acc.get_epsilon(delta=delta))


@lru_cache(maxsize=4096)
def _rdp_curve(noise_multiplier: float, sample_rate: float) -> np.ndarray:
    """The RDP of one step of the subsampled Gaussian at each of Opacus' default orders.

    It does not depend on the number of steps (T steps have T times the RDP), and it is the whole
    cost of an RDP ε: about 0.2 s per (σ, q). A node asks for ε at every poll with the same few
    mechanisms, so the curve is computed once per process. Read-only: callers must not mutate it.
    """
    curve = rdp_analysis.compute_rdp(
        q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=_RDP_ORDERS
    )
    out = np.asarray(curve, dtype=np.float64)
    out.flags.writeable = False
    return out


def _rdp_epsilon(entries: Sequence[tuple[float, float, int]], delta: float) -> float:
    """Opacus' `RDPAccountant.get_epsilon` on ``entries``, to the last bit: the same orders, the
    same sum over the history in its order (Opacus computes ``curve · steps`` per entry), the
    same conversion (`get_privacy_spent`); only the per-step curve is cached (`_rdp_curve`)."""
    total = sum([_rdp_curve(float(s), float(q)) * n for s, q, n in entries])
    eps, _ = rdp_analysis.get_privacy_spent(orders=_RDP_ORDERS, rdp=total, delta=delta)
    return float(eps)


def plan_spend(
    *,
    history: History,
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    epsilon_budget: float,
    accountant: AccountantName,
) -> SpendPlan:
    """Compute, without spending, what ``steps`` more steps would cost on top of ``history``."""
    if noise_multiplier <= 0:
        raise ValueError("noise_multiplier must be > 0 under DP (use no DP explicitly instead)")
    if not 0 < sample_rate <= 1:
        raise ValueError("sample_rate must be in (0, 1]")
    run = (noise_multiplier, sample_rate, steps)
    this_run = epsilon_of([run], delta=delta, accountant=accountant)
    spent = [entry for entry in history if entry[2] > 0]
    return SpendPlan(
        accountant=accountant,
        delta=delta,
        epsilon_budget=epsilon_budget,
        epsilon_before=epsilon_of(spent, delta=delta, accountant=accountant),
        epsilon_after=epsilon_of([*spent, run], delta=delta, accountant=accountant)
        if spent
        else this_run,
        epsilon_this_run=this_run,
        steps=steps,
    )


def noise_for_budget(
    epsilon_budget: float,
    delta: float,
    sample_rate: float,
    steps_per_update: int,
    n_updates: int,
    accountant: AccountantName,
    *,
    history: History = (),
    tolerance: float = 0.01,
) -> float:
    """The smallest noise multiplier (within ``tolerance`` in ε) at which ``n_updates`` updates of
    ``steps_per_update`` steps, on top of ``history``, stay within ``epsilon_budget``.

    This is how a task paces its budget: the noise is fixed for the number of updates a member is
    allowed to send, so a fast hospital cannot spend the whole budget in its first few rounds.
    """
    extra = (sample_rate, steps_per_update * n_updates)

    def eps(sigma: float) -> float:
        return epsilon_of([*history, (sigma, *extra)], delta=delta, accountant=accountant)

    spent = epsilon_of(history, delta=delta, accountant=accountant)
    if spent >= epsilon_budget:
        raise BudgetExceeded(
            f"training refused: the budget ε={epsilon_budget:g} (δ={delta:g}) is used up: spent "
            f"so far {spent_text(spent)}, remaining 0.000; nothing was spent"
        )
    low, high = 0.0, 1.0
    if accountant == "prv":
        # PRV evaluations are slow (~0.2 s); RDP's answer (looser, so a larger σ) brackets it.
        # RDP's ε has a floor (about 0.103 at δ = 1e-5 over Opacus's orders) that PRV goes below,
        # and RDP may count a history as spent that PRV does not: then bracket without the hint.
        try:
            hint: float | None = noise_for_budget(
                epsilon_budget,
                delta,
                sample_rate,
                steps_per_update,
                n_updates,
                "rdp",
                history=history,
                tolerance=tolerance,
            )
        except BudgetExceeded:
            hint = None
        if hint is not None and eps(hint) <= epsilon_budget:
            guess = 0.8 * hint  # PRV's σ is typically 2-10 % below RDP's
            low, high = (guess, hint) if eps(guess) > epsilon_budget else (0.0, guess)
    while eps(high) > epsilon_budget:
        low, high = high, high * 2
        if high > 1e4:
            raise BudgetExceeded(
                f"training refused: no noise fits {steps_per_update * n_updates} more steps in "
                f"the budget ε={epsilon_budget:g}: spent so far {spent_text(spent)}, remaining "
                f"{left_text(epsilon_budget - spent)}; plan fewer steps. Nothing was spent"
            )
    while True:
        mid = (low + high) / 2
        value = eps(mid)
        if value <= epsilon_budget:
            high = mid
            if epsilon_budget - value <= tolerance:
                return high
        else:
            low = mid
        if high - low < 1e-6:
            return high


class _Record(BaseModel):
    member_id: str
    task_id: str
    accountant: AccountantName
    delta: str
    epsilon_budget: str
    history: list[SpendEntry]


class AccountantStore:
    """The persisted accountant of one member for one task (see the module docstring)."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        member_id: str,
        task_id: str,
        accountant: AccountantName,
        epsilon_budget: float,
        delta: float,
        site: SiteBudget | None = None,
    ) -> None:
        self.site = site
        for name, value in (("member_id", member_id), ("task_id", task_id)):
            if not value or "/" in value or value.startswith("."):
                raise ValueError(f"{name} {value!r} cannot name a file")
        self.path = Path(state_dir) / "privacy" / task_id / f"{member_id}.json"
        self._blank = _Record(
            member_id=member_id,
            task_id=task_id,
            accountant=accountant,
            delta=repr(float(delta)),
            epsilon_budget=repr(float(epsilon_budget)),
            history=[],
        )

    @classmethod
    def open(cls, path: str | Path) -> AccountantStore:
        """The store kept in an existing file (for readers such as the portal or an auditor)."""
        path = Path(path)
        record = _Record.model_validate(json.loads(path.read_text(encoding="utf-8")))
        store = cls(
            path.parents[2],
            member_id=record.member_id,
            task_id=record.task_id,
            accountant=record.accountant,
            epsilon_budget=float(record.epsilon_budget),
            delta=float(record.delta),
        )
        if store.path.resolve() != path.resolve():
            raise ValueError(f"{path} is not laid out as <state>/privacy/<task>/<member>.json")
        return store

    @property
    def accountant(self) -> AccountantName:
        return self._blank.accountant

    @property
    def delta(self) -> float:
        return float(self._blank.delta)

    @property
    def epsilon_budget(self) -> float:
        return float(self._blank.epsilon_budget)

    def history(self) -> list[tuple[float, float, int]]:
        """The composed history so far, oldest first."""
        return [e.as_tuple() for e in self._load().history]

    def epsilon_spent(self) -> float:
        """ε spent so far for this member and task (0 when nothing was ever spent)."""
        return epsilon_of(self.history(), delta=self.delta, accountant=self.accountant)

    def plan(self, *, noise_multiplier: float, sample_rate: float, steps: int) -> SpendPlan:
        """What a run would spend, without spending it."""
        return plan_spend(
            history=self.history(),
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
            steps=steps,
            delta=self.delta,
            epsilon_budget=self.epsilon_budget,
            accountant=self.accountant,
        )

    def reserve(self, *, noise_multiplier: float, sample_rate: float, steps: int) -> SpendPlan:
        """Record a run's spending before it starts; raise `BudgetExceeded` (spending nothing)
        if it would pass the task's budget, or the site's (`consortium.privacy.site`) if set."""
        with self.site.locked() if self.site else nullcontext(), self._locked():
            record = self._load()
            plan = plan_spend(
                history=[e.as_tuple() for e in record.history],
                noise_multiplier=noise_multiplier,
                sample_rate=sample_rate,
                steps=steps,
                delta=self.delta,
                epsilon_budget=self.epsilon_budget,
                accountant=self.accountant,
            )
            if not plan.fits:
                raise BudgetExceeded(plan.refusal())
            if self.site is not None:
                refusal = self.site.check(
                    noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps
                )
                if refusal is not None:
                    raise SiteBudgetExceeded(refusal)
            entry = SpendEntry(
                noise_multiplier=repr(float(noise_multiplier)),
                sample_rate=repr(float(sample_rate)),
                steps=steps,
            )
            record.history.append(entry)
            self._save(record)
        return plan

    def _load(self) -> _Record:
        if not self.path.exists():
            return self._blank.model_copy(deep=True)
        record = _Record.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
        for field in ("member_id", "task_id", "accountant", "delta", "epsilon_budget"):
            if getattr(record, field) != getattr(self._blank, field):
                raise AccountingChanged(
                    self.path, field, getattr(record, field), getattr(self._blank, field)
                )
        return record

    def _save(self, record: _Record) -> None:
        # durable, folder synced too: a reservation lost to a power cut would under-count ε
        write_durably(
            self.path, canonical_json(record) + b"\n", tmp=self.path.with_suffix(".json.tmp")
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
