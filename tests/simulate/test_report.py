"""What the run report and the demo's table say about a rejected update."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from consortium.simulate.config import HeldOut, SimConfig, SimReport, SiteReport, VersionPoint
from consortium.simulate.report import rejection_reasons, write_report

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _e(verdict: str, reason: str) -> dict[str, str]:
    return {"verdict": verdict, "reason": reason}


def test_a_rejection_is_explained_by_its_rejecting_endorsements_only() -> None:
    endorsements = [
        _e("abstain", "UNMEASURABLE"),
        _e("reject", "DIRECTION_OUTLIER"),
        _e("accept", "OK"),
        _e("reject", "NORM_OUTLIER"),
    ]
    assert rejection_reasons(endorsements) == ["DIRECTION_OUTLIER", "NORM_OUTLIER"]


def test_an_update_nobody_could_judge_names_the_abstentions_reason() -> None:
    # every seat abstained: the contract rejects it, and the report says why
    assert rejection_reasons([_e("abstain", "UNMEASURABLE")] * 3) == ["UNMEASURABLE"] * 3
    assert rejection_reasons(iter([])) == []


# --- What a run's report says on its own: why it stopped, and plots whose numbers are labelled


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Monitor:
    """Versions appear one per tick with the given AUROCs; ``done_after`` ticks, all is sealed."""

    def __init__(self, clock: _Clock, aurocs: list[float], done_after: int | None) -> None:
        self.clock, self.aurocs, self.done_after = clock, aurocs, done_after
        self.started, self.ticks = 0.0, 0

    def poll(self) -> list[VersionPoint]:
        if self.ticks >= len(self.aurocs):
            return []
        auroc = self.aurocs[self.ticks]
        return [VersionPoint(height=self.ticks, seconds=self.clock.now, auroc=auroc,
                             auroc_honest=auroc, n_updates=3)]  # fmt: skip

    def done(self) -> bool:
        return self.done_after is not None and self.ticks >= self.done_after


class _Driver:
    def __init__(self, clock: _Clock, monitor: _Monitor) -> None:
        self.clock, self.monitor = clock, monitor

    def tick(self) -> None:
        self.clock.now += 10.0
        self.monitor.ticks += 1


@pytest.mark.parametrize(
    ("target", "done_after", "stopped", "reached"),
    [
        (0.8, None, "target", 10.0),  # the second version reaches 0.8
        (None, 2, "done", None),  # every hospital sent what it planned, all sealed
        (0.99, None, "max_seconds", None),  # neither, until the limit
    ],
)
def test_the_loop_says_why_the_run_stopped(
    monkeypatch: pytest.MonkeyPatch,
    target: float | None,
    done_after: int | None,
    stopped: str,
    reached: float | None,
) -> None:
    from consortium.simulate import runner as sim_runner

    clock = _Clock()
    monkeypatch.setattr(sim_runner.time, "monotonic", clock)
    monitor = _Monitor(clock, [0.6, 0.82, 0.83, 0.84, 0.85], done_after)
    cfg = SimConfig(target_auroc=target, stop_at_target=target is not None, max_seconds=45)
    result = sim_runner._loop(cfg, monitor, _Driver(clock, monitor), None, None)  # type: ignore[arg-type]
    assert result == (reached, stopped)


def _report(tmp_path: Path) -> SimReport:
    sites = [
        SiteReport(site="cleveland", speed=1.0, attack="none", submitted=2, accepted=2,
                   rejected=0, reasons={}, epsilon_spent="3.976839"),
        SiteReport(site="hungary", speed=1.0, attack="sign_flip", submitted=2, accepted=0,
                   rejected=2, reasons={"DIRECTION_OUTLIER": 3}, epsilon_spent="3.976839"),
    ]  # fmt: skip
    versions = [VersionPoint(height=h, seconds=10.0 * h, auroc=0.7 + h / 10,
                             auroc_honest=0.6 + h / 10, n_updates=3) for h in range(3)]  # fmt: skip
    cfg = SimConfig(sites=("cleveland", "hungary"), target_auroc=0.85, epsilon_budget="4")
    held_out = {
        "held_out": {"sites": ["cleveland", "hungary"], "n": 101, "positives": 47},
        "held_out_honest": {"sites": ["cleveland"], "n": 57, "positives": 25},
    }
    return SimReport.model_validate(dict(
        config=cfg, seconds=30.0, seconds_to_target=20.0, seconds_nodes_up=5.0, final_auroc=0.9,
        final_auroc_honest=0.8, versions=versions, sites=sites, stopped="target",
        workdir=str(tmp_path), **held_out,
    ))  # fmt: skip


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Every figure `write_report` saves, by file name, instead of the file."""
    from matplotlib.figure import Figure

    figures: dict[str, Figure] = {}
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, path, **_: figures.update({Path(path).name: fig})
    )
    return figures


def test_every_plot_labels_its_axes_and_marks_the_target_and_the_budget(
    tmp_path: Path, saved: dict[str, Figure]
) -> None:
    write_report(_report(tmp_path), tmp_path / "out")
    auroc, updates, epsilon = (
        saved[n].axes[0] for n in ("auroc.png", "updates.png", "epsilon.png")
    )
    legend = [t.get_text() for t in auroc.get_legend().get_texts()]
    assert "target 0.85" in legend
    assert "all hospitals (n=101, 47 positive)" in legend
    assert "honest hospitals' rows only (n=57, 25 positive)" in legend
    assert updates.get_ylabel() == "updates (count)"
    assert "hungary\n(sign_flip)" in [t.get_text() for t in updates.get_xticklabels()]
    assert "δ = 1e-05" in epsilon.get_ylabel()
    assert "budget ε = 4" in [t.get_text() for t in epsilon.get_legend().get_texts()]
    for ax in (auroc, updates, epsilon):
        assert ax.get_title(), "each plot says what run it is from"


def test_the_per_site_plot_draws_each_sites_auroc_over_time_with_its_rows(
    tmp_path: Path, saved: dict[str, Figure]
) -> None:
    report = _report(tmp_path)
    by_site = [{"cleveland": 0.70, "hungary": None}, {"cleveland": 0.75, "hungary": 0.6},
               {"cleveland": 0.80, "hungary": 0.65}]  # fmt: skip
    report = report.model_copy(update={
        "versions": [v.model_copy(update={"auroc_by_site": a})
                     for v, a in zip(report.versions, by_site, strict=True)],
        "held_out_by_site": {"cleveland": HeldOut(sites=("cleveland",), n=57, positives=25),
                             "hungary": HeldOut(sites=("hungary",), n=44, positives=22)},
    })  # fmt: skip
    write_report(report, tmp_path / "out")
    ax = saved["auroc_per_site.png"].axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    cleveland = lines["cleveland (n=57, 25 positive)"]
    assert list(cleveland.get_xdata()) == [0.0, 10.0, 20.0]
    assert list(cleveland.get_ydata()) == pytest.approx([0.70, 0.75, 0.80])
    hungary = lines["hungary (sign_flip) (n=44, 22 positive)"]
    assert list(hungary.get_ydata())[1:] == pytest.approx([0.6, 0.65])
    assert ax.get_ylabel() == "held-out AUROC of each version on the site's own rows"
    assert ax.get_title()
    assert "target 0.85" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_report_from_before_the_per_site_aurocs_still_reads_and_plots_without_them(
    tmp_path: Path, saved: dict[str, Figure]
) -> None:
    old = _report(tmp_path).model_dump()
    old.pop("held_out_by_site", None)
    for v in old["versions"]:
        v.pop("auroc_by_site", None)
    write_report(SimReport.model_validate(old), tmp_path / "out")
    assert "auroc_per_site.png" not in saved
    assert {"auroc.png", "updates.png", "epsilon.png"} <= set(saved)
