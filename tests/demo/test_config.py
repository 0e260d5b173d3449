"""`DemoConfig` refuses, when it is made, a number the demo cannot use, as `SimConfig` does; and the
simulator's configuration it builds (`sim_config`) goes through SimConfig's checks, so no value
reaches the nodes unchecked (``model_copy(update=...)`` validates nothing)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from consortium.cli import app
from consortium.cli.demo import DEMO_MARKER
from consortium.demo import DemoConfig, sim_config
from consortium.simulate.config import SimConfig


@pytest.mark.parametrize("field", ["lr", "baseline_lr", "max_seconds"])
@pytest.mark.parametrize("value", [math.nan, math.inf, 0.0, -0.1])
def test_a_rate_or_duration_must_be_finite_and_above_0(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        DemoConfig(**{field: value})  # type: ignore[arg-type]
    assert f"{field} must be a finite number greater than 0 (got {value})" in str(caught.value)


def test_the_nodes_lr_is_refused_with_an_example_not_its_default_none() -> None:
    with pytest.raises(ValidationError) as caught:
        DemoConfig(lr=math.nan)
    assert f"e.g. lr={SimConfig().lr}" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("planned_updates", 0, "of at least 1"),
        ("epochs", 0, "of at least 1"),
        ("local_epochs", -20, "of at least 1"),
        ("central_epochs", 0, "of at least 1"),
        ("holdout_fold", 5, "of at least 0 and at most 4"),
        ("holdout_fold", -1, "of at least 0 and at most 4"),
    ],
)
def test_a_whole_number_outside_its_range_is_refused(field: str, value: int, bound: str) -> None:
    # pydantic's own words ("Input should be greater than or equal to 1") named neither the
    # value nor what to give; the floats' messages do (`consortium.bounds`)
    with pytest.raises(ValidationError) as caught:
        DemoConfig(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a whole number {bound} (got {value})" in message
    assert f"e.g. {field}={DemoConfig.model_fields[field].default}" in message


def test_the_nodes_lr_reaches_the_simulator() -> None:
    assert sim_config(DemoConfig(lr=0.05)).lr == 0.05
    assert sim_config(DemoConfig()).lr == SimConfig().lr  # None: the simulator's default


def test_a_value_set_past_validation_is_still_checked_by_the_simulator() -> None:
    unchecked = DemoConfig().model_copy(update={"lr": math.nan, "max_seconds": math.inf})
    with pytest.raises(ValidationError) as caught:
        sim_config(unchecked)
    message = str(caught.value)
    assert "lr must be a finite number greater than 0 (got nan)" in message
    assert "max_seconds must be a finite number greater than 0 (got inf)" in message


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--max-seconds", "nan"], "max_seconds must be a finite number greater than 0 (got nan)"),
        (["--max-seconds", "inf"], "max_seconds must be a finite number greater than 0 (got inf)"),
        (
            ["--planned-updates", "0"],
            "planned_updates must be a whole number of at least 1 (got 0), "
            "e.g. --planned-updates 6",
        ),
    ],
)
def test_the_command_refuses_a_bad_number_before_it_replaces_an_earlier_run(
    tmp_path: Path, option: list[str], said: str
) -> None:
    out = tmp_path / "demo-out"
    out.mkdir()
    (out / DEMO_MARKER).write_text("")
    (out / "report.json").write_text("{}")

    res = CliRunner().invoke(app, ["demo", "--out", str(out), *option])

    assert res.exit_code == 2, res.output
    assert f"{option[0]} {option[1]}: " in res.output and said in res.output
    assert "nothing was run" in res.output and "e.g. max_seconds=" not in res.output
    assert (out / "report.json").read_text() == "{}"  # the earlier run is kept


# ε is a decimal string (the task's budget is a Decimal): it was first read at stage 3 (the
# task's publication) or 4 (the baselines' float), after the earlier run's folder was replaced
# and the FHIR written and ingested; "abc" stopped there with decimal.InvalidOperation.
@pytest.mark.parametrize("value", ["abc", "", "-1", "0", "nan", "inf", "1e400"])
def test_an_epsilon_that_is_no_finite_number_above_0_is_refused_when_made(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DemoConfig(epsilon=value)
    message = str(caught.value)
    assert f"epsilon must be a finite number greater than 0 (got {value!r})" in message
    assert "e.g. epsilon=3" in message


@pytest.mark.parametrize("value", ["3", "2.0", "0.5", " 4 "])
def test_an_epsilon_above_0_is_kept_as_given(value: str) -> None:
    assert DemoConfig(epsilon=value).epsilon == value
    assert sim_config(DemoConfig(epsilon=value)).epsilon_budget == value


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("epsilon_budget", "abc", "epsilon_budget must be a finite number greater than 0"),
        ("epsilon_budget", "-4", "epsilon_budget must be a finite number greater than 0"),
        ("delta", "1", "delta must be a finite number greater than 0 and below 1"),
        ("delta", "x", "delta must be a finite number greater than 0 and below 1"),
    ],
)
def test_the_simulators_budget_is_checked_too(field: str, value: str, said: str) -> None:
    with pytest.raises(ValidationError, match=rf"{said} \(got '{value}'\)"):
        SimConfig(**{field: value})  # type: ignore[arg-type]


def test_the_demo_refuses_a_budget_set_past_validation_before_it_writes(tmp_path: Path) -> None:
    from consortium.demo import run_demo

    unchecked = DemoConfig(out=tmp_path / "demo").model_copy(update={"epsilon": "abc"})
    with pytest.raises(ValidationError, match=r"epsilon must be a finite number .*\(got 'abc'\)"):
        run_demo(unchecked, say=lambda _: None)
    assert not (tmp_path / "demo").exists()  # no FHIR, no ingest, no marker
