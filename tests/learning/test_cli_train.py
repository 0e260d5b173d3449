"""`consortium train`: a local model with DP, its report, refusal past the budget, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.canonical import sha256_hex
from consortium.cli import app
from consortium.datasets.heart import heart_cohort_table

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _train(cohort: Path, out: Path, *extra: str) -> object:
    args = ["train", "--cohort", str(cohort), "--out", str(out), "--epochs", "3", "--seed", "1"]
    return CliRunner().invoke(app, [*args, *extra])


def test_train_with_dp_writes_model_and_report_then_refuses_a_second_run(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _train(cohort, out, "--epsilon", "2", "--delta", "1e-5", "--accountant", "rdp")
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    report = json.loads((out / "report.json").read_text())
    model = (out / "model.safetensors").read_bytes()
    assert report["model_digest"] == sha256_hex(model)
    assert report["dp"] is True and float(report["epsilon_spent"]) <= 2.0
    assert report["test"]["n"] == 57 and report["sites"] == ["cleveland"]
    assert "ε spent" in first.output and "AUROC" in first.output  # type: ignore[attr-defined]

    again = ("--epsilon", "2", "--delta", "1e-5", "--accountant", "rdp")
    second = _train(cohort, tmp_path / "out2", *again)  # the budget is the patients'
    assert second.exit_code == 2  # type: ignore[attr-defined]
    assert "refused" in second.output and "remaining" in second.output  # type: ignore[attr-defined]
    # a baseline without DP into the DP model's folder: refused unless --force
    plain = _train(cohort, out, "--no-dp")
    assert plain.exit_code == 2 and "--force" in plain.output  # type: ignore[attr-defined]
    assert (out / "model.safetensors").read_bytes() == model  # nothing overwritten
    forced = _train(cohort, out, "--no-dp", "--force")
    assert forced.exit_code == 0, forced.output  # type: ignore[attr-defined]
    assert json.loads((out / "report.json").read_text())["dp"] is False


def test_no_dp_baseline_says_so(cohort: Path, tmp_path: Path) -> None:
    result = _train(cohort, tmp_path / "plain", "--no-dp")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert json.loads((tmp_path / "plain" / "report.json").read_text())["epsilon_spent"] is None
    assert "no differential privacy" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "give --epsilon"),
        (("--epsilon", "-1"), "must be > 0"),
        (("--no-dp", "--hidden", "a,b"), "--hidden"),
    ],
)
def test_bad_input_gets_one_clear_error(
    cohort: Path, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    result = _train(cohort, tmp_path / "o", *extra)
    assert result.exit_code == 2 and message in result.output  # type: ignore[attr-defined]


def test_missing_cohort_table_points_at_ingest(tmp_path: Path) -> None:
    result = _train(tmp_path / "nowhere", tmp_path / "o", "--no-dp")
    assert result.exit_code == 2 and "consortium ingest" in result.output  # type: ignore[attr-defined]


def test_a_new_out_folder_does_not_reset_the_budget(cohort: Path, tmp_path: Path) -> None:
    # the accountant lives with the patients (the cohort folder), not with an output folder
    dp = ("--epsilon", "1", "--accountant", "rdp")
    first = _train(cohort, tmp_path / "run1", *dp)
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    second = _train(cohort, tmp_path / "run2", *dp)
    assert second.exit_code == 2, second.output  # type: ignore[attr-defined]
    assert "refused" in second.output  # type: ignore[attr-defined]
    assert not (tmp_path / "run2" / "model.safetensors").exists()


def test_pooling_cohorts_under_dp_names_the_pooled_accountant(cohort: Path, tmp_path: Path) -> None:
    other = tmp_path / "va"
    other.mkdir()
    heart_cohort_table("va").to_parquet(other / "cohort.parquet", index=False)
    args = ["train", "--cohort", str(cohort), "--cohort", str(other), "--out",
            str(tmp_path / "pooled"), "--epsilon", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "--state-dir" in result.output


# A wrong --out or a damaged cohort folder: one `error:` line, no ε spent on a model that
# cannot be written.
def test_an_out_that_is_a_file_is_refused_before_any_epsilon_is_spent(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model-file"
    out.write_text("keep me")
    state = tmp_path / "state"
    result = _train(cohort, out, "--epsilon", "3", "--state-dir", str(state))
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "error:" in result.output  # type: ignore[attr-defined]
    assert not (state / "privacy").exists()  # no ε spent
    assert out.read_text() == "keep me"
    ok = _train(cohort, tmp_path / "models", "--epsilon", "3", "--state-dir", str(state))
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]


def test_an_out_that_is_a_file_with_the_default_state_dir(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "model-file"
    out.write_text("keep me")
    result = _train(cohort, out, "--epsilon", "3")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "is a file" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("damaged", ["cohort.parquet", "report.json"])
def test_a_damaged_cohort_folder_is_one_error_line(
    cohort: Path, tmp_path: Path, damaged: str
) -> None:
    (cohort / damaged).write_text("pid,site\n{oops")
    result = _train(cohort, tmp_path / "out", "--no-dp")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "cannot read the cohort" in result.output  # type: ignore[attr-defined]


def test_the_reported_epsilon_is_never_below_the_accountants(cohort: Path, tmp_path: Path) -> None:
    # report.json is the run's record of what it spent: rounded to 6 decimals, never down
    from decimal import Decimal

    from consortium.privacy.accountant import AccountantStore

    for budget in ("0.5", "1", "2"):
        state = tmp_path / f"state-{budget}"
        dp = ("--epsilon", budget, "--accountant", "rdp", "--state-dir", str(state))
        result = _train(cohort, tmp_path / f"out-{budget}", *dp)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        reported = json.loads((tmp_path / f"out-{budget}" / "report.json").read_text())
        spent = AccountantStore.open(state / "privacy" / "local" / "local.json").epsilon_spent()
        assert Decimal(reported["epsilon_spent"]) >= Decimal(repr(spent)), (budget, spent)


@pytest.mark.parametrize("value", ["nan", "inf", "1e9"])
def test_an_epsilon_that_is_no_usable_budget_is_refused_before_anything_is_spent(
    cohort: Path, tmp_path: Path, value: str
) -> None:
    # nan reached the accountant ("past the task's budget ε=nan"); inf and 1e9 a MemoryError
    result = _train(cohort, tmp_path / "o", "--epsilon", value)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "--epsilon " in result.output and "at most 1000" in result.output  # type: ignore[attr-defined]
    assert not (cohort / "privacy").exists()


def test_a_cohort_table_without_rows_is_one_error_line(cohort: Path, tmp_path: Path) -> None:
    empty = heart_cohort_table("cleveland").iloc[:0]
    empty.to_parquet(cohort / "cohort.parquet", index=False)
    result = _train(cohort, tmp_path / "o", "--epsilon", "3")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "no rows" in result.output and "consortium ingest" in result.output  # type: ignore[attr-defined]


def test_a_cohort_given_as_its_table_file_names_the_folder_to_give(
    cohort: Path, tmp_path: Path
) -> None:
    result = _train(cohort / "cohort.parquet", tmp_path / "o", "--no-dp")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert f"--cohort {cohort}" in result.output.replace("\n", "")  # type: ignore[attr-defined]
    assert "cohort.parquet/cohort.parquet" not in result.output  # type: ignore[attr-defined]


def test_another_epsilon_on_a_started_accountant_says_what_to_do(
    cohort: Path, tmp_path: Path
) -> None:
    first = _train(cohort, tmp_path / "a", "--epsilon", "1", "--accountant", "rdp")
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    second = _train(cohort, tmp_path / "b", "--epsilon", "3", "--accountant", "rdp")
    assert second.exit_code == 2, second.output  # type: ignore[attr-defined]
    text = " ".join(second.output.split())  # type: ignore[attr-defined]
    assert "--epsilon 1" in text and "--task-id" in text
    assert not (tmp_path / "b" / "model.safetensors").exists()


@pytest.mark.parametrize("flag", ["--lr", "--max-grad-norm"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-0.5"])
def test_a_step_size_or_clip_norm_that_is_no_positive_number_is_refused_before_anything_is_spent(
    cohort: Path, tmp_path: Path, flag: str, value: str
) -> None:
    # --lr nan or inf spent ε, wrote --out, then ended "cannot train on …: Input contains NaN."
    result = _train(cohort, tmp_path / "o", "--epsilon", "3", flag, value)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    text = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert f"error: {flag} {value}:" in text and "a finite number greater than 0" in text
    assert f"e.g. {flag} " in text and "nothing was trained or spent" in text
    assert not (cohort / "privacy").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("extra", [("--epsilon", "1"), ("--no-dp",)])
def test_a_missing_cohort_is_said_before_anything_about_a_site_budget(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    # it printed "no site budget: no node.toml caps …" first, then the error about the cohort
    result = _train(tmp_path / "DOES_NOT_EXIST", tmp_path / "o", *extra)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert result.output.startswith("error: no cohort table at")  # type: ignore[attr-defined]
    assert "site budget" not in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [0, 1])
def test_a_cohort_whose_labels_are_all_one_class_is_refused_before_anything_is_spent(
    cohort: Path, tmp_path: Path, value: int
) -> None:
    # an ingest of Patient.ndjson alone gives label 0 on every row: it trained, spent ε and
    # printed "AUROC n/a accuracy 1.000", a model that says "no disease" to everyone
    table = heart_cohort_table("cleveland").assign(label=value)
    table.to_parquet(cohort / "cohort.parquet", index=False)
    result = _train(cohort, tmp_path / "o", "--epsilon", "1")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    text = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert text.startswith(f"error: every row of the cohort in {cohort} has label {value}"), text
    assert "Condition" in text and "nothing was trained or spent" in text
    assert not (cohort / "privacy").exists() and not (tmp_path / "o").exists()


def test_a_one_class_cohort_pooled_with_one_of_both_classes_trains(
    cohort: Path, tmp_path: Path
) -> None:
    other = tmp_path / "va"
    other.mkdir()
    heart_cohort_table("va").assign(label=1).to_parquet(other / "cohort.parquet", index=False)
    args = ["train", "--cohort", str(cohort), "--cohort", str(other), "--out",
            str(tmp_path / "pooled"), "--no-dp", "--epochs", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
