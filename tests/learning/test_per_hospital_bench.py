"""How `bench/per_hospital.py --demo` turns a held-out AUROC into the number it counts wins on.

Switzerland's demo split holds one negative among 21 rows, so its AUROC is that patient's rank
among 20 positives: 0.0 (every positive scored below it) is as possible as the 0.050 the demo
prints. Only an undefined AUROC (one class) may stand in as 0.5; a real 0.0 must stay 0.0, or a
model that ranked every pair wrong is counted as beating a local model at 0.3.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import OrderedDict
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from consortium.federation.session import Cohort
from consortium.learning.models import ModelSpec, build_model, state_arrays
from consortium.privacy import accountant

BENCH = Path(__file__).resolve().parents[2] / "bench" / "per_hospital.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # the bench memoizes `accountant.epsilon_of` when imported: undo that after the test
    monkeypatch.setattr(accountant, "epsilon_of", accountant.epsilon_of)
    spec = importlib.util.spec_from_file_location("per_hospital_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


def _all_pairs_wrong(arrays: OrderedDict[str, np.ndarray], spec: ModelSpec) -> Cohort:
    """21 held-out rows whose one negative is the row ``arrays`` scores highest: AUROC 0.0."""
    from consortium.demo import _proba

    X = np.random.default_rng(0).normal(size=(21, spec.in_features)).astype(np.float32)
    p = _proba(arrays, spec, X)
    assert len(np.unique(p)) == len(p)  # no ties: the AUROC is exactly 0
    y = np.ones(21, dtype=np.float32)
    y[int(np.argmax(p))] = 0.0
    return Cohort(X, y, X, y)


def test_a_sync_auroc_of_zero_is_counted_as_zero_not_as_chance(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = ModelSpec(in_features=5, hidden=bench.SPEC.hidden)
    model = state_arrays(build_model(spec, seed=1))
    cohort = _all_pairs_wrong(model, spec)

    def federate(*_: Any, **__: Any) -> OrderedDict[str, np.ndarray]:
        return model

    monkeypatch.setattr(bench, "_demo_split", lambda out: ({}, {"switzerland": cohort}))
    monkeypatch.setattr(bench, "_federate", federate)
    a = bench.Args(eps_fed=2.0, ft_epochs=1, ft_lr=0.05, rounds=1)
    sync = bench._sync_on_split(tmp_path, a, seed=0)
    assert sync == {"switzerland": 0.0}
    assert not bench.beats(sync["switzerland"], 0.3)  # no win over a local model at 0.3


def test_only_an_undefined_auroc_stands_in_as_one_half(bench: ModuleType) -> None:
    from consortium.demo import ModelScore

    assert bench.counted_auroc(ModelScore(auroc=None, n=20, positives=20)) == 0.5
    assert bench.counted_auroc(ModelScore(auroc=0.0, n=21, positives=20)) == 0.0
    assert bench.counted_auroc(ModelScore(auroc=0.85, n=21, positives=20)) == 0.85
