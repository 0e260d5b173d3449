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


@pytest.fixture()
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal must come before the run: a simulation started here fails the test at once."""
    from consortium.simulate import runner as sim_runner

    def ran(cfg: SimConfig, **_: object) -> None:
        raise AssertionError(f"the simulation ran: {cfg}")

    monkeypatch.setattr(sim_runner, "run_simulation", ran)


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("value", ["1.5", "0", "-0.2", "nan"])
def test_a_target_auroc_outside_0_to_1_is_refused(value: str) -> None:
    # an AUROC lies in [0, 1]: a target of 1.5 was accepted and could never be reached
    result = runner.invoke(app, ["simulate", "--target-auroc", value])
    assert result.exit_code == 2, result.output
    assert f"--target-auroc {value}" in result.output and "between 0 and 1" in result.output


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("flag", ["--speed", "--attack"])
def test_a_site_named_twice_is_refused(flag: str) -> None:
    # `--speed va=5 --speed va=2` ran with one of the two, silently
    value = {"--speed": ("va=5", "va=2"), "--attack": ("va=noise", "va=sign_flip")}[flag]
    result = runner.invoke(app, ["simulate", flag, value[0], flag, value[1]])
    assert result.exit_code == 2, result.output
    assert f"{flag} names va twice" in result.output and value[1] in result.output


def test_an_out_folder_holding_a_report_is_kept_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a second run with the same --out replaced the first run's report.json and plots silently
    out = tmp_path / "sim-report"
    out.mkdir()
    (out / "report.json").write_text('{"the": "first run"}')
    _config_of(monkeypatch, ["--out", str(tmp_path / "elsewhere")])  # patches the run away
    result = runner.invoke(app, ["simulate", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "--force" in result.output and "nothing was run" in result.output
    assert (out / "report.json").read_text() == '{"the": "first run"}'
    assert _config_of(monkeypatch, ["--out", str(out), "--force"]).out == str(out)
    assert _config_of(monkeypatch, ["--out", str(tmp_path / "empty")]).out == str(
        tmp_path / "empty"
    )


def test_the_summary_says_why_the_run_stopped_and_what_each_count_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consortium.simulate import runner as sim_runner
    from consortium.simulate.config import SimReport, SiteReport

    def finished(cfg: SimConfig, **_: object) -> SimReport:
        site = SiteReport(site="hungary", speed=1.0, attack="sign_flip", submitted=2,
                          accepted=0, rejected=2, reasons={"DIRECTION_OUTLIER": 3},
                          epsilon_spent="3.976839")  # fmt: skip
        return SimReport(config=cfg, seconds=19.4, seconds_to_target=13.1, final_auroc=0.833,
                         final_auroc_honest=0.791, versions=[], sites=[site], stopped="target",
                         workdir=str(tmp_path))  # fmt: skip

    monkeypatch.setattr(sim_runner, "run_simulation", finished)
    result = runner.invoke(app, ["simulate", "--target-auroc", "0.8", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "stopped after 19.4 s: target AUROC 0.8 reached at 13.1 s" in text
    assert "hungary (sign_flip) submitted 2: accepted 0, rejected 2" in text
    assert "ε 3.976839 of 4 (δ 1e-05)" in text
    assert "rejecting endorsements: DIRECTION_OUTLIER 3" in text
    assert "honest hospitals' rows 0.791" in text


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_max_seconds_that_is_no_finite_positive_number_is_refused(value: str) -> None:
    # --max-seconds inf was accepted: a run whose nodes stall would never end
    result = runner.invoke(app, ["simulate", "--max-seconds", value])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"--max-seconds {value}: must be a finite number of seconds greater than 0" in text
    assert "e.g. --max-seconds 180 (nothing was run)" in text


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_a_speed_factor_that_is_not_finite_is_refused(value: str) -> None:
    result = runner.invoke(app, ["simulate", "--speed", f"va={value}"])
    assert result.exit_code == 2, result.output
    assert f"--speed va={value}" in result.output and "greater than 0" in result.output


def _summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **fields: object) -> str:
    """The printed summary of a run whose report (report.json's fields) is ``fields``."""
    from consortium.simulate import runner as sim_runner
    from consortium.simulate.config import SimReport

    def finished(cfg: SimConfig, **_: object) -> SimReport:
        site = {"site": "va", "speed": 1.0, "attack": "sign_flip", "submitted": 2,
                "accepted": 0, "rejected": 2, "reasons": {}, "epsilon_spent": "3.9"}  # fmt: skip
        run = {"config": cfg.model_dump(), "seconds": 19.4, "seconds_to_target": None,
               "final_auroc": 0.833, "final_auroc_honest": 0.791, "versions": [],
               "sites": [site], "workdir": str(tmp_path)}  # fmt: skip
        return SimReport.model_validate({**run, **fields})

    monkeypatch.setattr(sim_runner, "run_simulation", finished)
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_the_summary_gives_the_rows_and_positives_each_auroc_stands_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "final pooled held-out AUROC 0.833 (honest hospitals' rows 0.791)": on how many rows?
    held_out = {"sites": ["cleveland", "va"], "n": 173, "positives": 96}
    honest = {"sites": ["cleveland"], "n": 57, "positives": 25}
    text = _summary(tmp_path, monkeypatch, held_out=held_out, held_out_honest=honest)
    assert "final pooled held-out AUROC 0.833 (n=173, 96 positive)" in text
    assert "honest hospitals' rows 0.791 (n=57, 25 positive)" in text


def test_a_report_from_before_the_row_counts_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # report.json written before held_out existed: read as before, no counts invented
    text = _summary(tmp_path, monkeypatch)
    assert "final pooled held-out AUROC 0.833 (honest hospitals' rows 0.791)," in text
    assert "n=" not in text


def test_the_summary_gives_each_sites_final_auroc_on_its_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run's metric over time per site: the last version's, with the rows it stands on
    version = {
        "height": 3,
        "seconds": 30.0,
        "auroc": 0.833,
        "auroc_honest": 0.791,
        "n_updates": 3,
        "auroc_by_site": {"cleveland": 0.8912, "switzerland": None},
    }
    rows = {"cleveland": {"sites": ["cleveland"], "n": 57, "positives": 25},
            "switzerland": {"sites": ["switzerland"], "n": 21, "positives": 21}}  # fmt: skip
    text = _summary(tmp_path, monkeypatch, versions=[version], held_out_by_site=rows)
    assert (
        "final AUROC on each site's own held-out rows: cleveland 0.891 (n=57, 25 positive), "
        "switzerland n/a (n=21, 21 positive)"
    ) in text
    assert "own held-out rows" not in _summary(tmp_path, monkeypatch, versions=[version])


def test_a_verdict_timeout_reaches_the_published_task(monkeypatch: pytest.MonkeyPatch) -> None:
    # SimConfig.verdict_timeout_ms had no option: a simulation's task never had a timeout
    from consortium.federation.publish import task_record
    from consortium.simulate.setup import task_params

    digest = "0" * 64
    timed = _config_of(monkeypatch, ["--verdict-timeout-ms", "5000"])
    plain = _config_of(monkeypatch, [])

    # the record the simulation's admin submits with PublishTask (setup.create_consortium)
    assert task_record(task_params(timed), digest, digest)["verdict_timeout_ms"] == 5000
    assert plain.verdict_timeout_ms == 0  # off, as before
    assert "verdict_timeout_ms" not in task_record(task_params(plain), digest, digest)


@pytest.mark.usefixtures("no_run")
@pytest.mark.parametrize("value", ["-1", "-5000", str(2**40 + 1)])
def test_a_verdict_timeout_out_of_range_is_refused(value: str) -> None:
    result = runner.invoke(app, ["simulate", "--verdict-timeout-ms", value])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"--verdict-timeout-ms {value}: give 0 (no timeout, the default)" in text
    assert "e.g. --verdict-timeout-ms 30000 (nothing was run)" in text
