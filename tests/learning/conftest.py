"""Fixtures shared by the `consortium train` command's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from consortium.datasets.heart import heart_cohort_table


@pytest.fixture()
def cohort(tmp_path: Path) -> Path:
    """A folder holding Cleveland's cohort table, as `consortium ingest --out` writes it."""
    folder = tmp_path / "cleveland"
    folder.mkdir()
    heart_cohort_table("cleveland").to_parquet(folder / "cohort.parquet", index=False)
    return folder
