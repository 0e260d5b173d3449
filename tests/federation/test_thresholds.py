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
