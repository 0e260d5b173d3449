"""`consortium simulate` and `consortium node run` refuse bad input with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.simulate.config import SimConfig

runner = CliRunner()


def test_unknown_site_in_speed() -> None:
    result = runner.invoke(app, ["simulate", "--speed", "boston=5"])
    assert result.exit_code == 2
    assert "--speed 'boston=5'" in result.output and "cleveland" in result.output


def test_speed_factor_must_be_a_number() -> None:
    result = runner.invoke(app, ["simulate", "--speed", "va=slow"])
    assert result.exit_code == 2
    assert "must be a number" in result.output


def test_unknown_attack() -> None:
    result = runner.invoke(app, ["simulate", "--attack", "va=meteor"])
    assert result.exit_code == 2
    assert "unknown attack 'meteor'" in result.output


def test_a_report_path_that_is_a_file_is_refused_before_running(tmp_path: Path) -> None:
    taken = tmp_path / "report"
    taken.write_text("someone's notes")
    result = runner.invoke(app, ["simulate", "--out", str(taken)])
    assert result.exit_code == 2 and "nothing was run" in result.output
    assert taken.read_text() == "someone's notes"


def test_node_run_without_a_consortium(tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "run", "--member", "va", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "consortium init" in result.output


def test_a_speed_factor_that_is_not_positive_is_refused() -> None:
    for value in ("0", "-2", "nan"):
        result = runner.invoke(app, ["simulate", "--speed", f"va={value}"])
        assert result.exit_code == 2, result.output
        assert f"--speed va={value}" in result.output and "greater than 0" in result.output


def test_planned_updates_must_be_at_least_one() -> None:
    result = runner.invoke(app, ["simulate", "--planned-updates", "0"])
    assert result.exit_code == 2, result.output
    assert "--planned-updates must be at least 1 (got 0)" in result.output


def test_max_seconds_must_be_positive() -> None:
    result = runner.invoke(app, ["simulate", "--max-seconds", "-1"])
    assert result.exit_code == 2, result.output
    assert "--max-seconds must be greater than 0 (got -1.0)" in result.output


class _Captured(Exception):
    """Stops `simulate` at the run, with the configuration it was given."""


def _config_of(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> SimConfig:
    """The SimConfig `consortium simulate ARGS` hands to the runner (nothing is run)."""
    from consortium.simulate import runner as sim_runner

    def capture(cfg: SimConfig, **_: object) -> None:
        raise _Captured(cfg)

    monkeypatch.setattr(sim_runner, "run_simulation", capture)
    result = runner.invoke(app, ["simulate", *args])
    assert isinstance(result.exception, _Captured), result.output
    cfg = result.exception.args[0]
    assert isinstance(cfg, SimConfig)
    return cfg


def test_sync_round_seconds_reaches_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config_of(monkeypatch, ["--sync", "--sync-round-seconds", "7.5"])
    assert cfg.sync and cfg.sync_round_seconds == 7.5
    default = _config_of(monkeypatch, ["--sync"])
    assert default.sync_round_seconds == SimConfig().sync_round_seconds


def test_sync_round_seconds_must_be_positive() -> None:
    for value in ("0", "-3", "nan", "inf"):
        result = runner.invoke(app, ["simulate", "--sync", "--sync-round-seconds", value])
        assert result.exit_code == 2, result.output
        assert "--sync-round-seconds must be a number of seconds greater than 0" in result.output
        assert f"(got {value})" in result.output


def test_sync_round_seconds_needs_sync() -> None:
    result = runner.invoke(app, ["simulate", "--sync-round-seconds", "30"])
    assert result.exit_code == 2, result.output
    assert "--sync-round-seconds only applies with --sync" in result.output


def test_a_refused_round_deadline_is_quoted_with_all_its_digits() -> None:
    """The value the user gave comes back whole, not rounded to six significant digits."""
    result = runner.invoke(app, ["simulate", "--sync", "--sync-round-seconds", "-1234567"])
    assert result.exit_code == 2, result.output
    assert "(got -1234567)" in result.output
