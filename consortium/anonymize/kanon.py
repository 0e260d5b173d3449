"""k-anonymity by suppression (Sweeney 2002, "k-anonymity: a model for protecting privacy").

Each row of the released table must share its quasi-identifier values with at least k-1 other
rows; rows in smaller groups are removed (suppressed), never altered. Generalization happens before
this step (Safe Harbor: 5-year age bands, ZIP3), so suppression only removes the rare combinations
that remain.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["suppress_below_k"]


def suppress_below_k(
    table: pd.DataFrame, quasi_identifiers: list[str], k: int
) -> tuple[pd.DataFrame, int]:
    """Drop the rows whose quasi-identifier group has fewer than ``k`` rows.

    Returns the kept rows (index reset) and the number suppressed.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if table.empty:
        return table.reset_index(drop=True), 0
    sizes = table.groupby(quasi_identifiers, dropna=False)[quasi_identifiers[0]].transform("size")
    keep = sizes >= k
    return table[keep].reset_index(drop=True), int((~keep).sum())
