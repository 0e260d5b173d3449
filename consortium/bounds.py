"""Bounds on the numbers a user writes in a configuration: node.toml (its ``[verifier]`` table
too), a `SimConfig`, a `DemoConfig`.

A field declares its range in its annotation, ``Annotated[float, Bounds(above=0)]``, and its
model has one validator that calls `within_bounds`. A value outside the range is refused with a
message naming the field, the value, the range, what the number is, and the field's default as
an example of what to give instead.

An int field takes `Bounds` the same way: its range is said as "a whole number of ...", and a
value past a float's range (10**400) is compared as it is, not turned into a float. So does a str
field that holds a decimal number (ε in a task's budget is a Decimal): it is read as a `Decimal`,
and a string that is none ("abc", "") is refused as nan is.

Every range also refuses nan and ±inf. A nan makes every comparison with it false, so a threshold
or a wait of nan silently always (or never) holds; inf never ends a wait and turns a check off.
Turning a check off takes a finite number past every value it can see, said so where it is done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel

__all__ = ["AtLeast0", "AtLeast1", "Bounds", "Positive", "within_bounds"]


@dataclass(frozen=True)
class Bounds:
    """The finite numbers a field may take: greater than ``above`` or at least ``at_least``, below
    ``below`` or at most ``at_most`` (None: no end on that side); ``why`` says, in the message,
    what the number is or why the range; ``example``, a value to give instead, when the field's
    default is none (None)."""

    above: float | None = None
    at_least: float | None = None
    below: float | None = None
    at_most: float | None = None
    why: str = ""
    example: float | None = None

    def admits(self, value: float | Decimal) -> bool:
        return (
            (isinstance(value, int) or math.isfinite(value))  # an int is finite, of any size
            and (self.above is None or value > self.above)
            and (self.at_least is None or value >= self.at_least)
            and (self.below is None or value < self.below)
            and (self.at_most is None or value <= self.at_most)
        )

    def describe(self, whole: bool = False) -> str:
        """The range in words: "a finite number greater than 0", "... of at least -1 and at
        most 1"; with ``whole``, "a whole number of at least 0 and at most 10000"."""
        ends = [f"{words} {_number(end)}" for words, end in (("greater than", self.above),
                ("at least", self.at_least), ("below", self.below), ("at most", self.at_most))
                if end is not None]  # fmt: skip
        of = "of " if ends and ends[0].startswith("at ") else ""
        kind = "a whole number" if whole else "a finite number"
        return f"{kind} {of}{' and '.join(ends)}".rstrip()

    def check(self, field: str, value: float | str, example: object) -> float | str:
        """``value`` (a number, or a str holding a decimal one), or ValueError naming ``field``,
        the value, the range and ``example``."""
        if not self.admits(_as_number(value)):
            why = f": {self.why}" if self.why else ""
            kind = self.describe(whole=isinstance(value, int))
            shown = repr(value) if isinstance(value, str) else value
            raise ValueError(f"{field} must be {kind} (got {shown}){why}, e.g. {field}={example}")
        return value


def _as_number(value: float | str) -> float | Decimal:
    """An int as it is (of any size), a str as the `Decimal` it holds (nan when it holds none),
    anything else as a float."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return math.nan
    return float(value)


def _number(end: float) -> str:
    """An end of a range as written: 10000 and 1099511627776 whole, 0.5 and 1e-05 as floats."""
    return str(end) if isinstance(end, int) else f"{end:g}"


# The ranges most fields need: durations, rates, speeds, norms.
Positive = Annotated[float, Bounds(above=0)]
AtLeast0 = Annotated[float, Bounds(at_least=0)]
# ... and counts: updates, epochs, rows in a batch.
AtLeast1 = Annotated[int, Bounds(at_least=1)]


def within_bounds(model: type[BaseModel], field: str | None, value: Any) -> Any:
    """``value`` if the `Bounds` in the annotation of ``model``'s ``field`` admit it (a field
    without bounds, or None for an optional one, passes as it is); else ValueError.

    Meant for a model's ``@field_validator("*")``; the example in the message is the field's
    default unless the bounds name one."""
    info = model.model_fields.get(field or "")
    if info is None or value is None:
        return value
    for bounds in info.metadata:
        if isinstance(bounds, Bounds):
            example = info.default if bounds.example is None else bounds.example
            bounds.check(field or "", value, example)
    return value
