"""Small chart and formatting helpers for the portal's pages (altair ships with Streamlit)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

__all__ = ["bp_text", "line", "short"]


def bp_text(value: Any) -> str:
    """Basis points as a 0–1 metric with four decimals ('—' when absent)."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{int(value) / 10000:.4f}"


def short(digest: Any, n: int = 12) -> str:
    """The first ``n`` hex characters of a digest or id, for tables."""
    return str(digest or "")[:n]


def line(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str = "",
    rule: float | None = None,
    rule_label: str = "",
    y_format: str | None = None,
    zero: bool = False,
) -> None:
    """A line chart with points; an optional horizontal rule (a budget, a target)."""
    enc: dict[str, Any] = {
        "x": alt.X(
            x,
            title=x.split(":")[0],
            axis=alt.Axis(format="%b %d %H:%M:%S") if x.endswith(":T") else alt.Axis(),
        ),
        "y": alt.Y(
            y,
            title=title or y.split(":")[0],
            scale=alt.Scale(zero=zero),
            axis=alt.Axis(format=y_format) if y_format else alt.Axis(),
        ),
        "tooltip": list(frame.columns.astype(str)),
    }
    if color:
        enc["color"] = color
    chart: Any = alt.Chart(frame).mark_line(point=True).encode(**enc)
    if rule is not None:
        bar = pd.DataFrame({"y": [rule], "label": [rule_label]})
        chart = chart + alt.Chart(bar).mark_rule(color="red", strokeDash=[6, 4]).encode(
            y="y:Q", tooltip=["label"]
        )
    st.altair_chart(chart, width="stretch")
