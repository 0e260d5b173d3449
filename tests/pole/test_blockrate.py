"""The block-rate experiment runs on the real contract and measures what it claims."""

from __future__ import annotations

import pytest

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.pole.blockrate import (
    BlockRateConfig,
    _chain,
    _identities,
    coefficient_of_variation,
    run_block_rate,
)

from .federated import Run


@pytest.fixture(scope="module")
def people() -> dict[str, Creator]:
    return _identities()


def test_cv_of_known_values() -> None:
    assert coefficient_of_variation([1, 1, 1]) == 0.0
    assert coefficient_of_variation([1, 3]) == pytest.approx(2**0.5 / 2)


def test_the_bench_publishes_its_task_under_the_rules_the_consortiums_tasks_have(
    people: dict[str, Creator],
) -> None:
    from consortium.federation.publish import task_record
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import task_params

    chain = _chain(BlockRateConfig(), people)
    published = task_record(task_params(SimConfig()), "0" * 64, "0" * 64)  # `task publish`'s

    stored = chain.sc.ok("admin", "GetTask", {"task_id": "t"}, after_ms=0)
    rules = ("committee_seed", "attest_reasons", "metric")
    assert {k: stored[k] for k in rules} == {k: published[k] for k in rules}
    # so a reject in the bench is held to the consortium's rule: it must say why (0001)
    proposal = chain.propose("h1", chain.accepted_update("h1"), interval_ms=60_000).result
    attest = {"task_id": "t", "proposal_id": proposal["proposal_id"], "verdict": "reject"}
    attest |= {"metric_bp": 0, "base_metric_bp": 7000}
    untold = chain.sc.run(proposal["committee"][0], "AttestBlock", attest, after_ms=0)
    assert untold.code == codes.REASON_MISSING, untold


def test_contract_records_the_intervals_and_retargets(people: dict[str, Creator]) -> None:
    cfg = BlockRateConfig(blocks=20, retarget_every=5, noise_bp=30)
    result = run_block_rate(cfg, people)
    assert len(result.intervals_ms) == 20 and min(result.intervals_ms) > 0
    # The requirement changes only at retarget heights (after blocks 5, 10, 15).
    changes = [
        i for i in range(1, 20) if result.required_gain_bp[i] != result.required_gain_bp[i - 1]
    ]
    assert changes and all(i % 5 == 0 for i in changes)
    assert result.required_gain_bp[0] == cfg.initial_required_gain_bp


def test_the_contracts_gate_keeps_the_cv_under_the_goal(people: dict[str, Creator]) -> None:
    # 50 blocks with evaluation noise of 150 bp: with the gate the CV is below 0.3, PoW's near 1.
    gate = run_block_rate(BlockRateConfig(blocks=50, noise_bp=150), people)
    old = run_block_rate(BlockRateConfig(blocks=50, noise_bp=150, min_interval_bp=0), people)
    assert gate.config.min_interval_bp == 9000
    assert gate.cv <= 0.3 < 0.6 < gate.pow_cv
    assert old.cv > 3 * gate.cv and old.too_early == 0
    # The sealer proposed before the gate and the contract refused it (TOO_EARLY).
    assert gate.too_early > 0
    assert min(gate.intervals_ms) >= gate.config.target_interval_ms * 9000 // 10_000
    # The bar still asks for a gain: the gate did not let retargeting drop it to the tolerance.
    assert min(gate.required_gain_bp[-10:]) > 0 > gate.config.min_required_gain_bp


def test_gain_noise_is_measured_from_a_real_run(run: Run) -> None:
    from consortium.pole.blockrate import measured_gain_noise

    s = run.session("admin")
    noise, used = measured_gain_noise(s.ledger, "heart")
    blocks = s.q("ListVersions", task_id="heart")[1:]
    assert used == len(blocks) >= 1  # every block has a quorum of 2 accepting attesters here
    assert noise >= 0


def test_the_decaying_requirement_keeps_a_noiseless_plateau_moving(
    people: dict[str, Creator],
) -> None:
    # Without evaluation noise the gain per block falls toward 0 as the model converges (w0 =
    # 300 updates); once it falls below the bar, retargeting (which acts only on a block) can
    # never lower it: the chain stops. With the requirement decaying after a late head it goes on.
    noiseless = BlockRateConfig(blocks=100, noise_bp=0, w0_updates=300)
    with pytest.raises(RuntimeError, match="no candidate met the requirement"):
        run_block_rate(noiseless, people)
    decaying = run_block_rate(noiseless.model_copy(update={"gain_decay_intervals": 4}), people)
    assert len(decaying.intervals_ms) == 100 and decaying.cv <= 0.3
    # Each block records the bar it met: the head's while on time, lower once late (the contract
    # computed it from the proposal's interval; the sealer's simulation only chose when to try).
    target = decaying.config.target_interval_ms
    rows = list(
        zip(
            decaying.intervals_ms,
            decaying.required_gain_bp,
            decaying.block_required_gain_bp,
            strict=True,
        )
    )
    late = [(head, met) for interval, head, met in rows if interval > target]
    on_time = [(head, met) for interval, head, met in rows if interval <= target]
    assert any(met < head for head, met in late)
    assert on_time and all(met == head for head, met in on_time)
