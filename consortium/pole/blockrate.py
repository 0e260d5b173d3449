"""The PoLe block-rate experiment: how regular are learning blocks, next to Proof of Work?

What is real: the consortium contract on an in-memory world state (`consortium.ledger.contract`,
the same code the embedded ledger and the Fabric fake run), with certificates from a real
consortium CA. Every block goes through it: `SubmitUpdate`, `RevealNonce`, the committee's
`Endorse`, `ProposeBlock` (whose ``next_required_gain_bp`` the contract recomputes with
`consortium.pole.difficulty` and refuses otherwise) and the committee's `AttestBlock`, which
appends the block only if the median attested gain meets the requirement the proposal recorded
(``head.required_gain_bp``, decayed to the proposal's interval when the task decays it). The
interval the contract records (and retargets on) is the difference of transaction timestamps.

What is simulated (`LearningModel`), in simulated milliseconds:
- updates reach the sealer as a Poisson process (``hospitals`` members, one update each every
  ``update_period_ms`` on average);
- the model's true metric after ``w`` applied updates has diminishing returns,
  ``A(w) = A∞ − (A∞ − A0)·exp(−w / w0)`` in basis points of AUROC (A0 and A∞ default to the demo's
  initial and centralized AUROC);
- after each arriving update the sealer holds a candidate with every update since the last block;
  the attesters measure its gain over the parent as ``A(w+k) − A(w)`` plus Gaussian noise of
  ``noise_bp`` (held-out evaluation noise); the sealer proposes the first candidate whose
  measured gain meets the current requirement, and the contract decides;
- the task's target-interval gate (``min_interval_bp``, 0 = none) is the contract's: the sealer
  does not know it and proposes as soon as its candidate meets the bar; when the contract refuses
  with ``TOO_EARLY`` it keeps collecting updates and proposes again at the earliest interval the
  contract accepts (`consortium.pole.difficulty.earliest_interval_ms`), where the attesters
  measure the candidate afresh. ``too_early`` counts those refusals;
- the task's decaying requirement (``gain_decay_intervals``, 0 = none) is the contract's too: the
  sealer compares a candidate's measured gain with the requirement at the current interval
  (`consortium.pole.difficulty.required_gain_at`), which the proposal records and the block is
  judged against.

``min_interval_bp = 9000`` with ``gain_decay_intervals = 4`` is the rule in force in the bench
(decisions/0001, "Difficulty"); both 0 is the earliest rule (retargeting alone), kept for
comparison. The config's defaults leave the decay off, so that a run asks for it by name.
The Proof-of-Work baseline has exponential intervals of the same mean (coefficient of variation 1).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task, fake_digest
from consortium.pole.difficulty import earliest_interval_ms, next_required_gain, required_gain_at
from consortium.pole.sml import commitment

__all__ = [
    "BlockRateConfig",
    "BlockRateResult",
    "LearningModel",
    "coefficient_of_variation",
    "run_block_rate",
]

MEMBERS = ("admin", "h1", "h2", "h3", "h4")


class BlockRateConfig(BaseModel):
    """One experiment: the simulated learning and the task's PoLe parameters."""

    blocks: int = 60
    hospitals: int = 4
    update_period_ms: int = 10_000
    a0_bp: int = 6800
    a_inf_bp: int = 8700
    w0_updates: float = 1000.0
    noise_bp: float = 60.0
    target_interval_ms: int = 60_000
    retarget_every: int = 5
    initial_required_gain_bp: int = 50
    min_required_gain_bp: int = -300
    max_required_gain_bp: int = 500
    min_interval_bp: int = 9000
    gain_decay_intervals: int = 0
    seed: int = 0


class BlockRateResult(BaseModel):
    """Intervals the contract recorded, their CV, and the Proof-of-Work baseline's."""

    config: BlockRateConfig
    intervals_ms: list[int]
    required_gain_bp: list[int]  # the head's requirement when each block's wait began
    block_required_gain_bp: list[int]  # what each block was judged against (decayed if late)
    cv: float
    pow_cv: float
    mean_interval_ms: float
    updates_per_block: float
    too_early: int
    final_metric_bp: int


def coefficient_of_variation(values: list[int] | list[float]) -> float:
    """Sample standard deviation over mean (ddof = 1)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.std(ddof=1) / arr.mean()) if len(arr) > 1 and arr.mean() > 0 else math.nan


@dataclass
class LearningModel:
    """The simulated learning (see the module docstring)."""

    cfg: BlockRateConfig
    rng: np.random.Generator
    applied: int = 0

    def metric(self, w: int) -> float:
        """True metric (bp) after ``w`` updates."""
        c = self.cfg
        return c.a_inf_bp - (c.a_inf_bp - c.a0_bp) * math.exp(-w / c.w0_updates)

    def next_arrival_ms(self) -> int:
        """Time to the next update from any hospital (exponential)."""
        rate = self.cfg.hospitals / self.cfg.update_period_ms
        return max(1, round(self.rng.exponential(1 / rate)))

    def attested(self, pending: int) -> tuple[int, int]:
        """(parent metric, candidate metric) in bp as the attesters measure them."""
        base = self.metric(self.applied)
        gain = self.metric(self.applied + pending) - base + self.rng.normal(0, self.cfg.noise_bp)
        new = min(10_000, max(0, round(base + gain)))
        return round(base), new


@dataclass
class Chain:
    """The real contract on a memory state, driven as the consortium's members."""

    sc: Scenario
    task: dict[str, Any]
    counter: int = 0

    def head(self) -> dict[str, Any]:
        return dict(self.sc.ok("admin", "GetHead", {"task_id": "t"}, after_ms=0))

    def accepted_update(self, sealer: str) -> str:
        """One update by a hospital other than the sealer, revealed and endorsed (at once)."""
        self.counter += 1
        who = MEMBERS[1 + self.counter % 4]
        who = who if who != sealer else MEMBERS[1 + (self.counter + 1) % 4]
        nonce = hashlib.sha256(f"n{self.counter}".encode()).hexdigest()
        base = self.head()["height"]
        update = self.sc.ok(
            who,
            "SubmitUpdate",
            {
                "task_id": "t",
                "base_version": base,
                "model_digest": fake_digest(f"u{self.counter}"),
                "n_samples": 100,
                "epsilon_spent": "1",
                "commitment": commitment(nonce),
            },
            after_ms=0,
        )
        uid = update["update_id"]
        self.sc.ok(
            who,
            "RevealNonce",
            {"task_id": "t", "update_id": uid, "nonce": nonce, "unmapped_digest": fake_digest("m")},
            after_ms=0,
        )
        for member in update["committee"]:
            self.sc.ok(
                member,
                "Endorse",
                {
                    "task_id": "t",
                    "update_id": uid,
                    "verdict": "accept",
                    "reason": "OK",
                    "metric_bp": 7000,
                    "scores": {},
                },
                after_ms=0,
            )
        return str(uid)

    def propose(self, sealer: str, uid: str, interval_ms: int) -> Any:
        """ProposeBlock ``interval_ms`` after the head; the contract's outcome (valid or not)."""
        head = self.head()
        height = head["height"] + 1
        window = self._window(height, interval_ms)
        stated = next_required_gain(_Params(self.task), head["required_gain_bp"], window, height)
        args = {
            "task_id": "t",
            "height": height,
            "parent_digest": head["model_digest"],
            "updates": [uid],
            "weights_ppm": [1_000_000],
            "contribution_ppm": [1_000_000],
            "aggregate_digest": fake_digest(f"a{height}"),
            "model_digest": fake_digest(f"v{height}"),
            "blob_digest": fake_digest(f"b{height}"),
            "next_required_gain_bp": stated,
        }
        return self.sc.run(
            sealer, "ProposeBlock", args, after_ms=head["ms"] + interval_ms - self.sc.now_ms
        )

    def attest(self, proposal: dict[str, Any], base_bp: int, new_bp: int) -> dict[str, Any]:
        """The committee's attestations of ``proposal`` (all accept with the measured metrics)."""
        result: dict[str, Any] = {}
        for member in proposal["committee"]:
            result = self.sc.ok(
                member,
                "AttestBlock",
                {
                    "task_id": "t",
                    "proposal_id": proposal["proposal_id"],
                    "verdict": "accept",
                    "metric_bp": new_bp,
                    "base_metric_bp": base_bp,
                },
                after_ms=0,
            )
        return result

    def _window(self, height: int, interval_ms: int) -> list[int]:
        r = int(self.task["retarget_every"])
        if height % r:
            return []
        versions = self.sc.ok("admin", "ListVersions", {"task_id": "t"}, after_ms=0)
        return [int(v["interval_ms"]) for v in versions[height - r + 1 : height]] + [interval_ms]


class _Params:
    def __init__(self, task: dict[str, Any]) -> None:
        self.target_interval_ms = int(task["target_interval_ms"])
        self.retarget_every = int(task["retarget_every"])
        self.min_required_gain_bp = int(task["min_required_gain_bp"])
        self.max_required_gain_bp = int(task["max_required_gain_bp"])
        self.min_interval_bp = int(task["min_interval_bp"])
        self.gain_decay_intervals = int(task["gain_decay_intervals"])


def _identities() -> dict[str, Creator]:
    """Certificates from a real consortium CA (made in a temporary directory, then discarded)."""
    from consortium.identity import load_identity
    from consortium.identity.setup import create_identities

    roles = {"admin": ["admin"], **{m: ["hospital", "verifier"] for m in MEMBERS[1:]}}
    with tempfile.TemporaryDirectory() as tmp:
        config = create_identities(Path(tmp) / "c", "blockrate", roles)
        return {
            m: Creator(
                member_id=m,
                msp_id=config.members[m].msp_id,
                roles=tuple(roles[m]),
                cert_pem=load_identity(config.member_msp(m)).cert_pem,
            )
            for m in MEMBERS
        }


def _chain(cfg: BlockRateConfig, people: dict[str, Creator]) -> Chain:
    sc = Scenario(people, step_ms=0)
    members = [
        {
            "member_id": p.member_id,
            "msp_id": p.msp_id,
            "roles": list(p.roles),
            "cert_pem": p.cert_pem,
        }
        for p in people.values()
    ]
    sc.ok("admin", "Bootstrap", {"members": members})
    task = example_task(
        "t",
        committee_size=2,
        quorum=2,
        max_staleness=1000,
        epsilon_budget="10",
        target_interval_ms=cfg.target_interval_ms,
        retarget_every=cfg.retarget_every,
        initial_required_gain_bp=cfg.initial_required_gain_bp,
        min_required_gain_bp=cfg.min_required_gain_bp,
        max_required_gain_bp=cfg.max_required_gain_bp,
        min_interval_bp=cfg.min_interval_bp,
        gain_decay_intervals=cfg.gain_decay_intervals,
        # the rules every task the code publishes has (`consortium.federation.publish.task_record`):
        # committees drawn from the head, and a reject that names its reason. The bench's attesters
        # only accept, so the second never applies in a run (its intervals and requirements are
        # the same without it); the bench's task is the consortium's all the same.
        committee_seed="head",
        attest_reasons=True,
    )
    sc.ok("admin", "PublishTask", {"task": task})
    return Chain(sc=sc, task=task)


def _next_block(chain: Chain, model: LearningModel, cfg: BlockRateConfig) -> tuple[int, int, int]:
    """Simulate arrivals until the contract takes a proposal whose candidate meets the bar; seal
    it. Returns (interval, updates, TOO_EARLY refusals)."""
    head_required = int(chain.head()["required_gain_bp"])
    params = _Params(chain.task)
    sealer = MEMBERS[1 + int(chain.head()["height"]) % 4]
    uid = chain.accepted_update(sealer)
    earliest = earliest_interval_ms(params)
    elapsed, pending, refused, arrival = 0, 0, 0, model.next_arrival_ms()
    while True:
        if refused and elapsed < earliest:  # refused: collect updates until the gate, then retry
            while arrival < earliest:
                pending, arrival = pending + 1, arrival + model.next_arrival_ms()
            elapsed = earliest
        else:
            elapsed, pending, arrival = arrival, pending + 1, arrival + model.next_arrival_ms()
        if elapsed > 1000 * cfg.target_interval_ms:
            raise RuntimeError("no candidate met the requirement in 1000 target intervals")
        base_bp, new_bp = model.attested(pending)
        if new_bp - base_bp < required_gain_at(params, head_required, elapsed):
            continue
        outcome = chain.propose(sealer, uid, elapsed)
        if outcome.code == codes.TOO_EARLY:
            refused += 1
            continue
        if not outcome.valid:
            raise RuntimeError(f"the contract refused the proposal: {outcome.code}")
        result = chain.attest(outcome.result, base_bp, new_bp)
        if result.get("proposal_status") != "final":
            raise RuntimeError(f"the contract did not append the block: {result}")
        model.applied += pending
        return elapsed, pending, refused


def run_block_rate(
    cfg: BlockRateConfig, people: dict[str, Creator] | None = None
) -> BlockRateResult:
    """Run ``cfg.blocks`` learning blocks through the real contract (see the module docstring)."""
    model = LearningModel(cfg, np.random.default_rng(cfg.seed))
    chain = _chain(cfg, people or _identities())
    intervals, required, updates, refused = [], [], [], 0
    for _ in range(cfg.blocks):
        required.append(int(chain.head()["required_gain_bp"]))
        interval, pending, too_early = _next_block(chain, model, cfg)
        intervals.append(interval)
        updates.append(pending)
        refused += too_early
    blocks = chain.sc.ok("admin", "ListVersions", {"task_id": "t"}, after_ms=0)[1:]
    recorded = [int(v["interval_ms"]) for v in blocks]
    if recorded != intervals:
        raise RuntimeError("the contract recorded other intervals than the simulation's")
    pow_rng = np.random.default_rng(cfg.seed + 1)
    pow_intervals = pow_rng.exponential(float(np.mean(intervals)), size=len(intervals)).tolist()
    return BlockRateResult(
        config=cfg,
        intervals_ms=recorded,
        required_gain_bp=required,
        block_required_gain_bp=[int(v["required_gain_bp"]) for v in blocks],
        cv=coefficient_of_variation(recorded),
        pow_cv=coefficient_of_variation(pow_intervals),
        mean_interval_ms=float(np.mean(recorded)),
        updates_per_block=float(np.mean(updates)),
        too_early=refused,
        final_metric_bp=round(model.metric(model.applied)),
    )


def measured_gain_noise(ledger: Any, task_id: str) -> tuple[float, int]:
    """(noise in bp, proposals used): the pooled within-proposal standard deviation of the gains
    that different attesters measured for the same proposed version, from a real run's ledger.

    Each attester evaluates the same two models on its own held-out rows, so the spread of their
    gains is the evaluation noise the simulated model draws (``BlockRateConfig.noise_bp``).
    """
    variances = []
    for block in ledger.evaluate("ListVersions", {"task_id": task_id})[1:]:
        view = ledger.evaluate(
            "GetProposal", {"task_id": task_id, "proposal_id": block["proposal_id"]}
        )
        gains = [
            a["metric_bp"] - a["base_metric_bp"]
            for a in view["attestations"]
            if a["verdict"] == "accept"
        ]
        if len(gains) >= 2:
            variances.append(float(np.var(gains, ddof=1)))
    return (math.sqrt(float(np.mean(variances))) if variances else math.nan), len(variances)
