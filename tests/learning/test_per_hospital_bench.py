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


@pytest.mark.parametrize(
    ("pair", "said"),
    [
        ("norm_z_max=nan", "norm_z_max must be a finite number greater than 0 (got nan)"),
        ("mirror_margin_bp=-800", "mirror_margin_bp must be a whole number of at least 0"),
        ("min_cosin=-0.2", "'min_cosin' is no field of Thresholds; known: norm_ratio_max,"),
        ("plateau_z", "'plateau_z' is not KEY=VALUE"),
        ("mirror_margin_bp=wide", "mirror_margin_bp: Input should be a valid integer"),
    ],
)
def test_a_bad_verifier_threshold_is_one_line_before_anything_runs(
    bench: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pair: str,
    said: str,
) -> None:
    import consortium.demo

    def ran(*_: Any, **__: Any) -> Any:
        raise AssertionError("the demo ran")

    monkeypatch.setattr(consortium.demo, "run_demo", ran)
    monkeypatch.setattr(sys, "argv", ["per_hospital.py", "--demo", "--verifier", pair])

    with pytest.raises(SystemExit) as stopped:
        bench.main()

    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    error = err.strip().splitlines()[-1]
    assert error.startswith(f"per_hospital.py: error: --verifier: {said}"), err
    assert "validation error" not in err and "pydantic" not in err and out == ""


def test_a_verifier_threshold_without_the_demo_is_refused(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the stand-in and --cross-fit run no [verifier] of the user's: the option would do nothing
    monkeypatch.setattr(sys, "argv", ["per_hospital.py", "--verifier", "min_cosine=-1"])
    monkeypatch.setattr(bench, "_folds_mode", lambda _: pytest.fail("the folds ran"))

    with pytest.raises(SystemExit) as stopped:
        bench.main()

    assert stopped.value.code == 2
    assert "--verifier sets the demo's verifiers: give --demo" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mode", "value", "said"),
    [
        (["--demo", "--personalize"], "nan", "--eps-fed must be a finite number greater than 0 "
         "(got nan): ε, each hospital's privacy budget, e.g. --eps-fed=2.0"),
        (["--demo", "--personalize"], "-1", "--eps-fed must be a finite number greater than 0 "
         "(got -1.0)"),
        ([], "0", "--eps-fed must be a finite number greater than 0 (got 0.0)"),
        ([], "abc", "argument --eps-fed: invalid float value: 'abc'"),
    ],
)  # fmt: skip
def test_a_federated_epsilon_above_0_is_asked_for_in_one_line_before_anything_runs(
    bench: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: list[str],
    value: str,
    said: str,
) -> None:
    # the demo's epsilon is checked by DemoConfig, per seed, after the table's header: a traceback
    import consortium.demo

    monkeypatch.setattr(consortium.demo, "run_demo", lambda *_, **__: pytest.fail("the demo ran"))
    monkeypatch.setattr(bench, "_folds_mode", lambda _: pytest.fail("the folds ran"))
    monkeypatch.setattr(sys, "argv", ["per_hospital.py", *mode, "--eps-fed", value])

    with pytest.raises(SystemExit) as stopped:
        bench.main()

    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith(f"per_hospital.py: error: {said}"), err
    assert "validation error" not in err and out == ""
