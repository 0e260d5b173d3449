"""How `bench/async_vs_sync.py --pairs N` judges each pair against the goal of issue 5.

The goal: the asynchronous run reaches the target AUROC in at most half the synchronous run's
time (from every node up), and the final AUROCs are within 0.01. A synchronous run that never
reaches the target counts as slower than any asynchronous run that does; an asynchronous run
that never reaches it misses the goal whatever the synchronous one did.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "async_vs_sync.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("async_vs_sync_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("async_crossed", "sync_crossed", "ratio", "gap", "met"),
    [
        (True, True, 0.26, +0.006, True),
        (True, True, 0.50, -0.010, True),  # both bounds are inclusive
        (True, True, 0.51, +0.000, False),  # too slow
        (True, True, 0.29, +0.0103, False),  # final AUROCs too far apart
        (True, False, None, +0.0095, True),  # sync never reached the target
        (False, True, None, -0.002, False),  # async never reached it
        (False, False, None, +0.001, False),
        (True, True, None, +0.001, False),  # crossed before every node was up: no ratio
        (True, True, 0.2, None, False),  # no final AUROC
    ],
)
def test_a_pair_meets_the_goal_only_when_async_is_fast_enough_and_as_good(
    bench: ModuleType,
    async_crossed: bool,
    sync_crossed: bool,
    ratio: float | None,
    gap: float | None,
    met: bool,
) -> None:
    pair = bench.Pair(async_crossed, sync_crossed, ratio, None, gap)
    assert pair.met() is met


def test_the_tally_counts_each_outcome(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = [
        bench.Pair(True, True, 0.26, 0.37, +0.0064),
        bench.Pair(True, False, None, None, +0.0095),
        bench.Pair(True, True, 0.66, 0.7, -0.0088),
        bench.Pair(False, True, None, None, -0.0028),
    ]
    bench._print_tally(pairs)
    out = capsys.readouterr().out
    assert "4 pairs: both crossed in 2 (ratio 0.26, 0.66; <= 0.5 in 1)" in out
    assert "only async in 1, only sync in 1, neither in 0; final within 0.01 in 4" in out
    assert "goal met in 2 of 4 pairs" in out
