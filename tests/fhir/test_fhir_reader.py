"""Whatever mix of good and bad lines an NDJSON file holds, every non-blank line is read once and
ends up accepted or quarantined."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.fhir import ingest as ingest_module
from consortium.fhir.ingest import ingest
from consortium.fhir.reader import RawResource, iter_file

POOL = [
    json.dumps({"resourceType": "Patient", "id": "a", "gender": "male"}),
    json.dumps({"resourceType": "Patient", "birthDate": "19xx"}),
    json.dumps({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
    json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "b"}},
        {"resource": {"resourceType": "Nope"}},
    ]}),
    "{broken",
    "42",
    "   ",
    json.dumps({"resourceType": "SubstancePolymer"}),
]  # fmt: skip


def _expected_items(line: str) -> int:
    if not line.strip():
        return 0
    if line.startswith('{"resourceType": "Bundle"'):
        return 3  # the Bundle and its two entries
    return 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=1, max_size=12))
def test_nothing_is_lost(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in" / "x.ndjson"
        source.parent.mkdir()
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        expected = sum(_expected_items(line) for line in lines)
        assert len(list(iter_file(source))) == expected
        if expected == 0:
            return
        report = ingest([source.parent], "t", "heart", Path(tmp) / "out", k=1)
        assert report.read == expected == report.accepted + report.quarantined
        assert report.quarantined == len(list((Path(tmp) / "out" / "quarantine").iterdir()))


def test_encodings_and_several_objects_in_a_json_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    patient = json.dumps({"resourceType": "Patient", "id": "p"})
    (folder / "bom.json").write_text("\ufeff" + patient, encoding="utf-8")
    (folder / "lines.json").write_text(patient + "\n" + patient.replace('"p"', '"q"') + "\n")
    bad = b'{"resourceType": "Patient", "name": [{"family": "M\xfcller"}]}\n'
    (folder / "latin1.ndjson").write_bytes(bad)
    out = tmp_path / "out"

    report = ingest([folder], "t", "heart", out, k=1)

    assert (report.read, report.accepted, report.quarantined) == (4, 3, 1)
    record = json.loads(next((out / "quarantine").glob("*.json")).read_bytes().decode("latin-1"))
    assert record["error"].startswith("not valid UTF-8")
    quarantined = next((out / "quarantine").glob("*.json")).read_bytes()
    assert bad.rstrip(b"\n").replace(b'"', b'\\"') in quarantined  # the bytes as given


def test_an_unreadable_file_is_quarantined_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.ndjson", "b.ndjson"):
        (folder / name).write_text(json.dumps({"resourceType": "Patient", "id": name}) + "\n")

    def failing(path: Path) -> Iterator[RawResource]:
        yield from iter_file(path)
        if path.name == "a.ndjson":
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(ingest_module, "iter_file", failing)
    report = ingest([folder], "t", "heart", tmp_path / "o", k=1)
    assert (report.read, report.accepted, report.quarantined) == (3, 2, 1)
    record = json.loads(next((tmp_path / "o" / "quarantine").glob("*.json")).read_text())
    assert record["error"].startswith("unreadable:") and record["source"].endswith("a.ndjson")
