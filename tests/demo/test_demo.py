"""The demo pipeline end to end, reduced (two updates per hospital, short baselines, in-process
nodes): FHIR -> ingest -> init -> baselines -> federated PoLe -> pull -> trace -> ledger verify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
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
    assert saved.ingest_warnings == demo.ingest_warnings
    assert all(
        (out / name).is_file()
        for name in ("auroc_over_time.png", "auroc_per_hospital.png", "epsilon.png")
    )


def test_every_hospital_ingested_and_scored_on_its_own_rows(demo: DemoReport) -> None:
    out = demo.config.out
    assert [r.site for r in demo.sites] == list(demo.config.sites)
    for row in demo.sites:
        assert (out / "ingest" / row.site / "cohort.parquet").is_file()
        ingest_report = json.loads((out / "ingest" / row.site / "report.json").read_text())
        assert demo.ingest_warnings[row.site] == ingest_report["warnings"]
        # The three models are scored on the same held-out rows of that hospital.
        assert row.federated.n == row.local_dp.n == row.central.n > 0
        assert 0 < row.federated.positives <= row.federated.n
        assert 0 < float(row.epsilon_spent) <= float(demo.config.epsilon)
        assert 0 < float(row.local_epsilon) <= float(demo.config.epsilon)
    assert len(demo.ingest_warnings["switzerland"]) == 1  # it measured no cholesterol
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


def test_the_report_holds_each_hospitals_held_out_rows_to_recompute_its_aurocs(
    demo: DemoReport,
) -> None:
    from sklearn.metrics import roc_auc_score

    from consortium.demo import _splits
    from consortium.learning.evaluate import metrics_from_scores

    tables = {site: pd.read_parquet(demo.config.out / "ingest" / site / "cohort.parquet")
              for site in demo.config.sites}  # fmt: skip
    for row in demo.sites:
        held = row.held_out
        assert held is not None
        assert held.labels == [int(v) for v in _splits(tables[row.site], 0).y_test]
        for name in ("federated", "local_dp", "central"):
            probabilities = getattr(held, name)
            assert len(probabilities) == row.federated.n
            m = metrics_from_scores(np.asarray(held.labels), np.asarray(probabilities))
            assert getattr(row, name).auroc == m.auroc
            if m.auroc is not None:
                assert m.auroc == pytest.approx(roc_auc_score(held.labels, probabilities))


def _fold_report(cfg: DemoConfig, tables: dict[str, pd.DataFrame]) -> DemoReport:
    """What `run_demo` reports for ``cfg`` (its held-out fold), with made-up probabilities on the
    real held-out rows of that fold."""
    from consortium.demo import HeldOut, ModelScore, SiteRow, _splits

    fold = cfg.holdout_fold
    rng = np.random.default_rng(fold)
    rows = []
    for site, table in tables.items():
        y = [int(v) for v in _splits(table, fold).y_test]
        held = HeldOut(labels=y, **{k: list(rng.random(len(y))) for k in
                                    ("federated", "local_dp", "central")})  # fmt: skip
        score = ModelScore(auroc=None, n=len(y), positives=sum(y))
        rows.append(
            SiteRow(site=site, federated=score, local_dp=score, central=score,
                    epsilon_spent="2.9", local_epsilon=f"2.{fold}", held_out=held)
        )  # fmt: skip
    score = ModelScore(auroc=0.5, n=1, positives=1)
    return DemoReport.model_validate(
        {
            "config": cfg, "sites": rows, "pooled": {"federated": score, "central": score},
            "versions": [], "blocks": 1, "interval_cv": None, "rewards": {}, "rejected": {},
            "trace_matches": True, "model_digest": "", "download_tx_id": "", "ledger_ok": True,
            "ledger_summary": "", "seconds": {},
        }
    )  # fmt: skip


def _two_sites() -> dict[str, pd.DataFrame]:
    from consortium.datasets.heart import heart_cohort_table

    return {site: heart_cohort_table(site) for site in ("hungary", "switzerland")}


def fake_fold_demo(cfg_json: str) -> str:
    """A stand-in for `consortium.demo.fold_demo` (importable by a spawned worker): records the
    configuration it was given in its folder and reports `_fold_report`."""
    cfg = DemoConfig.model_validate_json(cfg_json)
    cfg.out.mkdir(parents=True)
    (cfg.out / "given.json").write_text(cfg_json)
    return _fold_report(cfg, _two_sites()).model_dump_json()


@pytest.mark.parametrize("workers", [1, 2])
def test_cross_fitting_scores_every_row_of_each_hospital_once_by_the_run_that_held_it_out(
    tmp_path: Path, workers: int
) -> None:
    from consortium.demo import CrossFitReport, run_cross_fit
    from consortium.learning.evaluate import metrics_from_scores

    tables = _two_sites()
    cfg = DemoConfig(out=tmp_path / "out", seed=7, in_process=True)
    first = _fold_report(cfg, tables)
    cfg.out.mkdir()

    crossed = run_cross_fit(cfg, first, say=lambda _: None, workers=workers, runner=fake_fold_demo)

    given = [
        DemoConfig.model_validate_json((cfg.out / "folds" / str(f) / "given.json").read_text())
        for f in (1, 2, 3, 4)
    ]
    assert [c.holdout_fold for c in given] == [1, 2, 3, 4]
    # the same demo, another fifth held out
    assert all(c.seed == 7 and c.in_process for c in given)
    assert [f["fold"] for f in crossed.folds] == [0, 1, 2, 3, 4]
    folds = [first] + [_fold_report(c, tables) for c in given]
    for row in crossed.sites:
        assert row.federated.n == len(tables[row.site])  # every row, once
        parts = [next(r for r in f.sites if r.site == row.site).held_out for f in folds]
        y = np.concatenate([p.labels for p in parts])  # type: ignore[union-attr]
        p_fed = np.concatenate([p.federated for p in parts])  # type: ignore[union-attr]
        assert row.federated.auroc == metrics_from_scores(y, p_fed).auroc
        assert row.local_epsilon == "2.4"  # the largest any fold spent
    assert crossed.pooled["federated"].n == sum(len(t) for t in tables.values())
    assert CrossFitReport.model_validate_json((cfg.out / "cross_fit.json").read_text()) == crossed


def test_cross_fitting_refuses_runs_that_do_not_cover_the_folds(tmp_path: Path) -> None:
    from consortium.demo import cross_fitted

    runs = [_fold_report(DemoConfig(out=tmp_path, holdout_fold=f), _two_sites()) for f in (0, 2)]
    with pytest.raises(ValueError, match=r"one run per fold 0..K-1 \(K ≥ 2\), got folds \[0, 2\]"):
        cross_fitted(runs)
