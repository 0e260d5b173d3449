"""Two `consortium ingest` runs into the same --out at the same time both cleared and filled
`.quarantine.partial`: the second deleted the first one's quarantine records while the first was
writing them (its report then counted records that were gone) or failed itself. A run holds an
exclusive lock on the output folder; a second run is refused, naming the first one's pid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from consortium.cli._errors import UserError
from consortium.fhir.ingest import ingest
from consortium.fhir.reader import RawResource

LINES = [json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "male"}) for i in range(5)]


def _input(tmp_path: Path) -> Path:
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(["{broken 1", *LINES, "{broken 2"]) + "\n")
    return source


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    source, out = _input(tmp_path), tmp_path / "out"
    refusals: list[str] = []

    def start_another_run(item: RawResource, reason: str | None) -> None:
        if item.position == "line 3":  # the first run has quarantined line 1 by now
            with pytest.raises(UserError) as refused:
                ingest([source], "s1", "heart", out, k=1)
            refusals.append(str(refused.value))

    report = ingest([source], "s1", "heart", out, k=1, on_item=start_another_run)

    assert refusals == [f"another ingest is writing to {out} (pid {os.getpid()}); wait for it"]
    assert report.quarantined == 2 == len(list((out / "quarantine").iterdir()))


def test_the_folder_is_free_again_after_a_run_ends_or_fails(tmp_path: Path) -> None:
    source, out = _input(tmp_path), tmp_path / "out"
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    with pytest.raises(UserError, match="they are empty"):
        ingest([empty], "s1", "heart", out, k=1)

    ingest([source], "s1", "heart", out, k=1)
    report = ingest([source], "s1", "heart", out, k=1)

    assert report.quarantined == 2
