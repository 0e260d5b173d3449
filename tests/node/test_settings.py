"""node.toml: a member's local settings, including its verifier's thresholds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from consortium.federation.checks import Thresholds
from consortium.node.settings import NodeSettings, cohort_path, load_settings, save_settings


def test_a_verifier_table_sets_only_the_keys_it_names(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("[verifier]\nmin_cosine = -0.2\nmirror_margin_bp = 1200\n")

    settings = load_settings(tmp_path)

    assert settings.verifier.min_cosine == -0.2
    assert settings.verifier.mirror_margin_bp == 1200
    defaults = Thresholds()
    assert settings.verifier.norm_ratio_max == defaults.norm_ratio_max
    assert settings.verifier.plateau_z == defaults.plateau_z


def test_without_a_verifier_table_the_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("epochs = 3\n")

    assert load_settings(tmp_path).verifier == Thresholds()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[verifier]\nmin_cosin = -0.2\n", "min_cosin"),  # a typo is refused, not ignored
        ("[verifier]\nmirror_margin_bp = 'wide'\n", "mirror_margin_bp"),
        # no reference, no median to compare a norm with: 0 used to stop the node (KeyError)
        ("[verifier]\nmin_reference = 0\n", "min_reference"),
        # nan passes (or fails) every update; inf turns a check off; a cosine lies in [-1, 1]
        ("[verifier]\nnorm_z_max = nan\n", "norm_z_max must be a finite number greater than 0"),
        ("[verifier]\nplateau_z = inf\n", "plateau_z must be a finite number of at least 0"),
        ("[verifier]\nmin_cosine = -2.0\n", "min_cosine must be a finite number of at least -1"),
        # a negative margin fails the honest updates that barely move the metric, every time
        ("[verifier]\nmetric_drop_bp = -800\n", "metric_drop_bp must be a whole number of at"),
    ],
)
def test_a_bad_verifier_table_names_the_file_and_the_key(
    tmp_path: Path, text: str, named: str
) -> None:
    (tmp_path / "node.toml").write_text(text)

    with pytest.raises(ValueError) as err:
        load_settings(tmp_path)

    assert str(tmp_path / "node.toml") in str(err.value)
    assert named in str(err.value)
    assert (tmp_path / "node.toml").read_text() == text  # what the admin wrote is kept


def test_saved_thresholds_load_back(tmp_path: Path) -> None:
    settings = NodeSettings(verifier=Thresholds(min_cosine=-0.3, metric_drop_bp=500))

    save_settings(tmp_path, settings)

    assert load_settings(tmp_path) == settings


def test_a_test_seed_gives_each_update_its_own_noise() -> None:
    from types import SimpleNamespace

    from consortium.federation.trainer import _round_seed

    def session(seed: int | None, member: str = "va") -> Any:
        return SimpleNamespace(settings=SimpleNamespace(seed=seed), member_id=member)

    heads = [{"model_digest": c * 64} for c in "ab"]
    assert _round_seed(session(None), heads[0]) is None  # the OS CSPRNG, as in production
    first, second = (_round_seed(session(7), h) for h in heads)
    assert first is not None and second is not None and first != second
    assert _round_seed(session(7), heads[0]) == first  # still reproducible, for tests
    assert _round_seed(session(7, "cleveland"), heads[0]) != first


@pytest.mark.parametrize("secure", [True, False])
def test_the_node_trains_with_the_noise_its_settings_name(
    secure: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node.toml's ``secure_noise`` (on unless set off) reaches DP-SGD as Opacus' secure_mode."""
    from types import SimpleNamespace

    import numpy as np

    import consortium.learning.train as train_module
    from consortium.federation import trainer
    from consortium.learning.models import ModelSpec, build_model, state_arrays

    assert NodeSettings().secure_noise is True
    seen: dict[str, Any] = {}
    real = train_module.train_local

    def recording(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(train_module, "train_local", recording)
    spec = ModelSpec(in_features=3, hidden=(4,))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)).astype(np.float32), (rng.random(40) > 0.5).astype(np.float32)
    settings = NodeSettings(dp=False, secure_noise=secure, epochs=1)
    s = SimpleNamespace(
        settings=settings, cohort=SimpleNamespace(X_train=X, y_train=y), spec=lambda: spec
    )
    trainer._train(s, state_arrays(build_model(spec, seed=0)), None)  # type: ignore[arg-type]
    assert seen["secure_mode"] is secure


def test_a_relative_cohort_is_read_from_the_folder_of_node_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reader of node.toml (the node, `consortium train`, the portal) finds the same file,
    whatever folder it was started from: a relative ``cohort`` is relative to node.toml's folder,
    as consortium.toml's paths are relative to its own."""
    member_dir = tmp_path / "c" / "members" / "a"
    member_dir.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = cohort_path(member_dir, NodeSettings(cohort="../../../site/cohort.parquet"))
    assert path == member_dir / "../../../site/cohort.parquet"


def test_a_cohort_naming_the_ingest_folder_reads_its_cohort_parquet(tmp_path: Path) -> None:
    out = tmp_path / "site-data" / "a"
    out.mkdir(parents=True)
    (out / "cohort.parquet").write_bytes(b"")
    assert cohort_path(tmp_path / "m", NodeSettings(cohort=str(out))) == out / "cohort.parquet"


def test_an_absolute_cohort_is_taken_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "x" / "cohort.parquet"
    assert cohort_path(tmp_path / "m", NodeSettings(cohort=str(path))) == path


def test_a_fold_that_does_not_exist_is_refused_naming_the_file_and_the_range(
    tmp_path: Path,
) -> None:
    (tmp_path / "node.toml").write_text("holdout_fold = 5\n")  # 2000 bp: folds 0 to 4

    with pytest.raises(ValueError) as err:
        load_settings(tmp_path)

    assert str(tmp_path / "node.toml") in str(err.value)
    assert "folds run from 0 to 4" in str(err.value)


def test_the_node_holds_out_the_fold_its_settings_name(tmp_path: Path) -> None:
    from consortium.datasets.heart import heart_cohort_table
    from consortium.learning.data import folds_of
    from consortium.node.open import _load_cohort

    table = heart_cohort_table("hungary")
    table.to_parquet(tmp_path / "cohort.parquet")
    held, every_row = [], None
    for fold in range(folds_of(2000)):
        settings = NodeSettings(cohort="cohort.parquet", holdout_fold=fold)
        c = _load_cohort(tmp_path, settings, "heart")
        assert c is not None and len(c.y_train) + len(c.y_test) == len(table)
        assert len(c.y_test) == pytest.approx(len(table) / 5, abs=2)
        held.append(c.X_test)
        every_row = np.concatenate([c.X_train, c.X_test]) if every_row is None else every_row

    def rows(x: np.ndarray) -> list[tuple[float, ...]]:
        return sorted(map(tuple, x.tolist()))

    assert every_row is not None
    assert rows(np.concatenate(held)) == rows(every_row)  # the five folds hold out each row once


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("planed_updates = 4\n", "planed_updates: Extra inputs are not permitted"),
        ('planned_updates = "x"\n', "planned_updates: Input should be a valid integer"),
        # a message that names its field already says the dotted location once, in its place
        ("[verifier]\nmin_reference = 0\n", ": verifier.min_reference must be a whole number "),
        ("[verifier]\nnorm_z_max = nan\n", ": verifier.norm_z_max must be a finite number "),
        ("poll_seconds = inf\n", "node.toml: poll_seconds must be a finite number greater than 0"),
        ("holdout_fold = 5\n", "node.toml: holdout_fold = 5 does not exist at holdout_bp = 2000"),
    ],
)
def test_a_setting_refused_is_named_in_one_line(tmp_path: Path, text: str, says: str) -> None:
    """pydantic's report (a count, an indented location, a URL to its docs) was printed as it is,
    over four lines: the node's `error:` line is one line naming the file, the key and why."""
    (tmp_path / "node.toml").write_text(text)

    with pytest.raises(ValueError) as err:
        load_settings(tmp_path)

    message = str(err.value)
    assert "\n" not in message and "errors.pydantic.dev" not in message
    assert message.startswith(f"{tmp_path / 'node.toml'} is not a valid node.toml: ")
    assert says in message
    assert "norm_z_max: norm_z_max" not in message and "seconds: poll_seconds" not in message
    assert "min_reference: min_reference" not in message


# node.toml's numbers that must be finite: an inf poll, flush or round wait never ends, an inf lr
# or clipping norm trains nothing useful, an inf speed breaks the ε budget's pacing; nan compares
# false with everything (pydantic's gt=0 refused it, but as "Input should be greater than 0")
POSITIVE = ["lr", "max_grad_norm", "speed", "flush_seconds", "sync_round_seconds",
            "sealer_timeout_seconds", "max_clock_skew_seconds", "poll_seconds"]  # fmt: skip


def test_every_float_setting_is_covered() -> None:
    floats = {
        n for n, f in NodeSettings.model_fields.items() if f.annotation in (float, float | None)
    }
    assert floats == {*POSITIVE, "update_seconds", "site_epsilon_budget", "site_delta"}


@pytest.mark.parametrize("field", POSITIVE)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 0.0, -1.0])
def test_a_duration_rate_or_norm_must_be_finite_and_above_0(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        NodeSettings(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a finite number greater than 0 (got {value})" in message
    assert f"e.g. {field}={NodeSettings.model_fields[field].default}" in message


@pytest.mark.parametrize("value", [math.inf, math.nan, -0.5])
def test_update_seconds_must_be_finite_and_not_negative(value: float) -> None:
    with pytest.raises(ValidationError, match=rf"update_seconds must be a finite number of at "
                       rf"least 0 \(got {value}\)"):  # fmt: skip
        NodeSettings(update_seconds=value)


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0, -3.0])
def test_a_site_budget_must_be_a_finite_epsilon_above_0(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        NodeSettings(site_epsilon_budget=value)
    message = str(caught.value)
    assert f"site_epsilon_budget must be a finite number greater than 0 (got {value})" in message
    assert "e.g. site_epsilon_budget=3.0" in message  # an ε, not the default None


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0, 1.0])
def test_a_site_delta_must_lie_between_0_and_1(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        NodeSettings(site_delta=value)
    assert f"site_delta must be a finite number greater than 0 and below 1 (got {value})" in str(
        caught.value
    )


def test_an_infinite_setting_in_node_toml_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("poll_seconds = inf\n")

    with pytest.raises(ValueError) as err:
        load_settings(tmp_path)

    assert str(tmp_path / "node.toml") in str(err.value)
    assert "poll_seconds must be a finite number greater than 0 (got inf)" in str(err.value)


def test_the_settings_a_node_can_use_are_kept() -> None:
    settings = NodeSettings(lr=0.05, update_seconds=0.0, speed=5.0, poll_seconds=0.01,
                            site_epsilon_budget=3.0, site_delta=1e-6)  # fmt: skip
    assert (settings.lr, settings.update_seconds, settings.speed) == (0.05, 0.0, 5.0)
    assert (settings.site_epsilon_budget, settings.site_delta) == (3.0, 1e-6)
    assert NodeSettings().site_epsilon_budget is None


# A verifier holds at most 2 × reference_window norms (its last accepted updates and its last own
# deltas, `verifier._references`): a min_reference above that leaves the norm check off for good.
@pytest.mark.parametrize(("window", "needed"), [(8, 17), (1, 3), (4, 100)])
def test_a_norm_reference_the_verifier_can_never_hold_is_refused(
    tmp_path: Path, window: int, needed: int
) -> None:
    text = f"reference_window = {window}\n[verifier]\nmin_reference = {needed}\n"
    (tmp_path / "node.toml").write_text(text)

    with pytest.raises(ValueError) as err:
        load_settings(tmp_path)

    message = str(err.value)
    assert f"verifier.min_reference = {needed}" in message
    assert f"reference_window = {window}" in message and f"at most {2 * window} norms" in message
    assert f"give verifier.min_reference at most {2 * window}" in message
    assert f"or reference_window at least {(needed + 1) // 2}" in message
    assert (tmp_path / "node.toml").read_text() == text


def test_a_norm_reference_the_verifier_can_fill_is_kept() -> None:
    settings = NodeSettings(reference_window=3, verifier=Thresholds(min_reference=6))
    assert (settings.reference_window, settings.verifier.min_reference) == (3, 6)


# The whole numbers say their range as the floats do (`consortium.bounds`): pydantic's own words
# ("Input should be greater than or equal to 1") named neither the value nor what to give.
@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("holdout_bp", 99, "of at least 100 and at most 9000"),
        ("holdout_bp", 9001, "of at least 100 and at most 9000"),
        ("holdout_fold", -1, "of at least 0"),
        ("planned_updates", 0, "of at least 1"),
        ("epochs", 0, "of at least 1"),
        ("batch_size", -32, "of at least 1"),
        ("reference_window", 0, "of at least 1"),
    ],
)
def test_a_whole_number_outside_its_range_is_refused(field: str, value: int, bound: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NodeSettings(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a whole number {bound} (got {value})" in message
    assert f"e.g. {field}={NodeSettings.model_fields[field].default}" in message


def test_the_whole_numbers_ends_are_kept() -> None:
    low = NodeSettings(holdout_bp=100, holdout_fold=0, planned_updates=1, epochs=1, batch_size=1,
                       reference_window=1)  # fmt: skip
    high = NodeSettings(holdout_bp=9000, holdout_fold=1, planned_updates=10**6)
    assert (low.holdout_bp, low.reference_window, high.holdout_bp, high.holdout_fold) == (
        100, 1, 9000, 1,
    )  # fmt: skip
