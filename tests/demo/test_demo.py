"""The demo pipeline end to end, reduced (two updates per hospital, short baselines, in-process
nodes): FHIR -> ingest -> init -> baselines -> federated PoLe -> pull -> trace -> ledger verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.canonical import sha256_hex
from consortium.cli import app
from consortium.demo import DemoConfig, DemoReport, run_demo

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    out = tmp_path_factory.mktemp("demo") / "out"
    cfg = DemoConfig(
        out=out,
        in_process=True,
        planned_updates=2,
        local_epochs=3,
        central_epochs=3,
        max_seconds=120,
    )
    return run_demo(cfg, say=lambda _: None)


def test_the_pipeline_ends_with_a_traced_model_and_a_verified_ledger(demo: DemoReport) -> None:
    out = demo.config.out
    assert demo.blocks >= 1 and demo.trace_matches and demo.ledger_ok
    assert sha256_hex((out / "model.safetensors").read_bytes()) == demo.model_digest
    prov = json.loads((out / "model.safetensors.provenance.json").read_text())
    assert prov["model_digest"] == demo.model_digest and prov["download"]["tx_id"]
    saved = DemoReport.model_validate_json((out / "report.json").read_text())
    assert saved.sites == demo.sites
    assert all(
        (out / name).is_file()
        for name in ("auroc_over_time.png", "auroc_per_hospital.png", "epsilon.png")
    )


def test_every_hospital_ingested_and_scored_on_its_own_rows(demo: DemoReport) -> None:
    out = demo.config.out
    assert [r.site for r in demo.sites] == list(demo.config.sites)
    for row in demo.sites:
        assert (out / "ingest" / row.site / "cohort.parquet").is_file()
        # The three models are scored on the same held-out rows of that hospital.
        assert row.federated.n == row.local_dp.n == row.central.n > 0
        assert 0 < row.federated.positives <= row.federated.n
        assert 0 < float(row.epsilon_spent) <= float(demo.config.epsilon)
        assert 0 < float(row.local_epsilon) <= float(demo.config.epsilon)
    assert demo.pooled["federated"].n == sum(r.federated.n for r in demo.sites)
    assert sum(demo.rewards.values()) == 1000 * demo.blocks  # block_reward units per block


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path: Path) -> None:
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("do not delete")
    res = CliRunner().invoke(app, ["demo", "--out", str(keep)])
    assert res.exit_code == 2 and "was not made by `consortium demo`" in res.output
    assert (keep / "notes.txt").read_text() == "do not delete"


def test_a_demo_folder_is_marked_as_replaceable(demo: DemoReport) -> None:
    assert (demo.config.out / ".consortium-demo").is_file()


def test_the_results_say_which_held_out_sets_are_too_thin_to_judge(demo: DemoReport) -> None:
    from rich.console import Console

    from consortium.cli.demo import print_results

    console = Console(record=True, width=250)
    print_results(console, demo)
    lines = console.export_text().splitlines()

    # The demo's split (seed 0): Switzerland 1 negative of 21, VA 9 of 38, the others more.
    assert [line for line in lines if "held-out rows, so its AUROC is where" in line] == [
        "switzerland: 1 negative among its 21 held-out rows, so its AUROC is where that patient "
        "ranks among 20 others; the verifiers measure no AUROC on fewer than 8 of a class"
    ]


def test_each_hospital_gets_the_federated_minus_local_difference_with_its_interval(
    demo: DemoReport,
) -> None:
    from rich.console import Console

    from consortium.cli.demo import print_results

    # Switzerland's one held-out negative gives no interval (the same patient in every resample)
    by_site = {row.site: row for row in demo.sites}
    assert by_site["switzerland"].fed_minus_local is None
    measured = [row for row in demo.sites if row.site != "switzerland"]
    for row in measured:
        d = row.fed_minus_local
        assert d is not None and row.federated.auroc is not None and row.local_dp.auroc is not None
        assert d.difference == pytest.approx(row.federated.auroc - row.local_dp.auroc, abs=1e-12)
        assert d.low <= d.difference <= d.high
    console = Console(record=True, width=250)
    print_results(console, demo)
    text = console.export_text()
    assert all(row.fed_minus_local.summary() in text for row in measured)  # type: ignore[union-attr]
    above = sum(1 for row in measured if row.fed_minus_local.low > 0)  # type: ignore[union-attr]
    below = sum(1 for row in measured if row.fed_minus_local.high < 0)  # type: ignore[union-attr]
    assert (
        f"above 0 at {above}, below 0 at {below}, containing 0 at {3 - above - below} of the 3 "
        "hospitals with an interval" in text
    )
    assert "switzerland  n/a (fewer than 8 rows of a class)" in text


def test_a_tie_is_not_counted_as_a_win(demo: DemoReport) -> None:
    from rich.console import Console

    from consortium.cli.demo import print_results

    tied = demo.model_copy(deep=True)
    for row in tied.sites:  # every federated AUROC equal to the local one but for the last bit
        assert row.local_dp.auroc is not None
        row.federated = row.local_dp.model_copy(update={"auroc": row.local_dp.auroc + 1e-16})
    console = Console(record=True, width=250)
    print_results(console, tied)
    assert "federated beats local-only at 0 of 4 hospitals (tied at 4)" in console.export_text()


def _report_with_rejections(tmp_path: Path) -> DemoReport:
    """A demo report whose only content is Switzerland's one rejected update, rejected by two
    endorsements (a committee of 3 with quorum 2), as in the transcript of docs/demo.md."""
    from consortium.demo import ModelScore

    score = ModelScore(auroc=0.8, n=173, positives=96)
    return DemoReport.model_validate(
        {
            "config": DemoConfig(out=tmp_path), "sites": [],
            "pooled": {"federated": score, "central": score}, "versions": [], "blocks": 0,
            "interval_cv": None, "rewards": {},
            "rejected": {"switzerland": {"DIRECTION_OUTLIER": 2}},
            "rejected_updates": {"switzerland": 1}, "trace_matches": True, "model_digest": "",
            "download_tx_id": "", "ledger_ok": True, "ledger_summary": "", "seconds": {},
        }
    )  # fmt: skip


def test_the_rejected_line_counts_updates_not_their_endorsements(tmp_path: Path) -> None:
    from rich.console import Console

    from consortium.cli.demo import print_results

    console = Console(record=True, width=250)
    print_results(console, _report_with_rejections(tmp_path))
    line = next(ln for ln in console.export_text().splitlines() if "rejected" in ln)
    # one rejected update, whose two rejecting endorsements both gave DIRECTION_OUTLIER
    assert "switzerland 1 ({'DIRECTION_OUTLIER': 2})" in line, line


def test_rejected_updates_are_counted_once_each_as_on_the_ledger(demo: DemoReport) -> None:
    from consortium.node.open import open_session

    s = open_session(demo.config.out / "consortium", "admin")
    try:
        views = s.q("ListUpdates", task_id=s.task_id)
    finally:
        s.ledger.close()
    on_ledger: dict[str, int] = {}
    for v in views:
        if v["status"] == "rejected":
            member = v["update"]["member_id"]
            on_ledger[member] = on_ledger.get(member, 0) + 1
    assert demo.rejected_updates == on_ledger
    assert set(demo.rejected) == set(on_ledger)
