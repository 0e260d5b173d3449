"""`Thresholds` refuses a line that no check can draw, naming the field, the value and an example.

A nan line makes every comparison with it false, so its check silently passes every update (a
``>`` line) or fails every one (a ``<`` line); inf turns a check off. A line outside a field's
range (a cosine below -1, a norm ratio at or below the median's own) rejects honest updates or
none. node.toml's ``[verifier]`` table and ``--verifier KEY=VALUE`` reach the same model.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from consortium.federation.checks import Thresholds, thresholds_from_pairs

FLOAT_FIELDS = [name for name, f in Thresholds.model_fields.items() if f.annotation is float]


def test_every_float_threshold_is_covered() -> None:
    # the bounds in the annotations leave each field a float: the tests below see all fourteen
    assert len(FLOAT_FIELDS) == 14 and {"norm_ratio_max", "reveal_rel_tol"} <= set(FLOAT_FIELDS)


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_threshold_must_be_a_finite_number(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        Thresholds(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a finite number" in message and f"(got {value})" in message
    assert f"e.g. {field}={Thresholds.model_fields[field].default}" in message


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        # a norm line at or below the median's own score rejects the honest updates above it
        ("norm_ratio_max", 1.0, "greater than 1"),
        ("norm_ratio_max", 0.001, "greater than 1"),
        ("norm_z_max", 0.0, "greater than 0"),
        ("norm_z_max", -3.0, "greater than 0"),
        # a cosine lies between -1 and 1
        ("min_cosine", -2.0, "of at least -1 and at most 1"),
        ("min_cosine", 1.5, "of at least -1 and at most 1"),
        ("duplicate_cosine", 1.01, "of at least -1 and at most 1"),
        # multiples of 1/√d, the spread of a random direction's cosine
        ("descending_z", -1.0, "of at least 0"),
        ("plateau_z", -2.5, "of at least 0"),
        ("strict_z", -4.0, "of at least 0"),
        ("record_z", -1.5, "of at least 0"),  # a record at or below +1.5 would flag honest ones
        ("duplicate_rel_distance", -0.05, "of at least 0"),
        # a fraction of the median reference norm: at 1, the honest half below it is no learning
        ("null_rel_norm", 1.0, "of at least 0 and below 1"),
        ("null_rel_norm", -0.001, "of at least 0 and below 1"),
        ("null_abs_norm", -1e-5, "of at least 0"),
        # 0: the rounding of every honest reveal would be inconsistent
        ("reveal_rel_tol", 0.0, "greater than 0"),
    ],
)
def test_a_threshold_outside_its_range_is_refused(field: str, value: float, bound: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Thresholds(**{field: value})  # type: ignore[arg-type]
    assert f"{field} must be a finite number {bound} (got {value})" in str(caught.value)


def test_the_ends_of_each_range_are_kept() -> None:
    th = Thresholds(norm_ratio_max=1.01, norm_z_max=0.01, min_cosine=-1.0, duplicate_cosine=1.0,
                    descending_z=0.0, plateau_z=1e6, strict_z=0.0, probation_z=-1000.0,
                    duplicate_rel_distance=0.0, null_rel_norm=0.0, null_abs_norm=0.0,
                    reveal_rel_tol=1e-9)  # fmt: skip
    assert (th.min_cosine, th.plateau_z, th.probation_z, th.null_rel_norm) == (-1, 1e6, -1000, 0)
    assert Thresholds(min_cosine=1.0, probation_z=50.0).probation_z == 50


@pytest.mark.parametrize("pair", ["norm_z_max=nan", "min_cosine=-inf", "plateau_z=inf"])
def test_a_command_line_threshold_that_is_not_finite_is_refused(pair: str) -> None:
    field, value = pair.split("=")
    with pytest.raises(ValueError, match=rf"{field} must be a finite number .*\(got {value}\)"):
        thresholds_from_pairs([pair])


INT_FIELDS = [name for name, f in Thresholds.model_fields.items() if f.annotation is int]


def test_every_int_threshold_is_covered() -> None:
    assert set(INT_FIELDS) == {"mirror_margin_bp", "mirror_margin_first_bp", "metric_drop_bp",
                               "sml_gap_bp", "min_reference", "min_peers"}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        # a negative margin asks an update to beat its mirror (or the base, or its own mapped
        # model) by that much: an honest update that changes little fails every time
        ("mirror_margin_bp", -800, "of at least 0 and at most 10000"),
        ("mirror_margin_first_bp", -1, "of at least 0 and at most 10000"),
        ("metric_drop_bp", -800, "of at least 0 and at most 10000"),
        ("sml_gap_bp", -300, "of at least 0 and at most 10000"),
        # two AUROCs (or accuracies) in bp differ by at most 10000: 10000 already turns it off
        ("mirror_margin_bp", 10_001, "of at least 0 and at most 10000"),
        pytest.param(
            "metric_drop_bp",
            10**400,
            "of at least 0 and at most 10000",
            id="metric_drop_bp-10**400",
        ),  # past a float's range: no OverflowError
        # a count of reference deltas or peers: with none there is no median norm
        ("min_reference", 0, "of at least 1"),
        ("min_peers", -2, "of at least 1"),
    ],
)
def test_an_int_threshold_outside_its_range_is_refused(field: str, value: int, bound: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Thresholds(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a whole number {bound} (got {value})" in message
    assert f"e.g. {field}={Thresholds.model_fields[field].default}" in message


def test_the_ends_of_each_int_range_are_kept() -> None:
    low = Thresholds(mirror_margin_bp=0, mirror_margin_first_bp=0, metric_drop_bp=0,
                     sml_gap_bp=0, min_reference=1, min_peers=1)  # fmt: skip
    high = Thresholds(mirror_margin_bp=10_000, mirror_margin_first_bp=10_000,
                      metric_drop_bp=10_000, sml_gap_bp=10_000, min_reference=10**30,
                      min_peers=10**30)  # fmt: skip
    assert (low.mirror_margin_bp, low.sml_gap_bp, low.min_peers) == (0, 0, 1)
    assert (high.metric_drop_bp, high.min_reference) == (10_000, 10**30)


def test_a_command_line_int_threshold_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"mirror_margin_bp must be a whole number of at least 0 "
                       r"and at most 10000 \(got -800\)"):  # fmt: skip
        thresholds_from_pairs(["mirror_margin_bp=-800"])
