"""No direct identifier of the input reaches any output file outside quarantine/.

The list of identifiers is built from the input itself: every name part, identifier value, phone
number, e-mail address and address line of every Patient. A rejected Patient is added on purpose:
its identifiers must be found in quarantine/ (which proves the scanner finds what is there) and
nowhere else.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from consortium.fhir.ingest import ingest

REJECTED = {
    "resourceType": "Patient",
    "id": "rejected",
    "name": [{"family": "Quarantinova", "given": ["Zelda"]}],
    "identifier": [{"system": "urn:mrn", "value": "QX-998877"}],
    "telecom": [{"system": "email", "value": "zelda.q@example.net"}],
    "birthDate": "not a date",
}


def _identifiers(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            if resource.get("resourceType") != "Patient":
                continue
            for name in resource.get("name", []):
                found.update([name.get("family", ""), *name.get("given", [])])
            found.update(i["value"] for i in resource.get("identifier", []))
            found.update(t["value"] for t in resource.get("telecom", []))
            for address in resource.get("address", []):
                found.update(address.get("line", []))
    return {s for s in found if s}


def _texts(path: Path) -> list[str]:
    """What a reader of ``path`` could see: its bytes, and for parquet every decoded cell."""
    texts = [path.read_bytes().decode("utf-8", errors="replace")]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        texts.extend(str(v) for column in table.columns for v in column.to_pylist())
        texts.append(str(table.schema.metadata))
    return texts


def test_outputs_hold_no_direct_identifier(demo_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in"
    shutil.copytree(demo_dir / "hungary", source)
    with (source / "Patient.ndjson").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(REJECTED) + "\n")
    secrets = _identifiers(source)
    assert {"Zelda", "QX-998877", "zelda.q@example.net"} <= secrets and len(secrets) > 500
    out = tmp_path / "out"

    report = ingest([source], "hungary", "heart", out)

    assert report.quarantined == 1 and report.rows > 250
    quarantine = " ".join(t for p in (out / "quarantine").glob("*") for t in _texts(p))
    assert "Zelda" in quarantine and "QX-998877" in quarantine
    outputs = [p for p in out.rglob("*") if p.is_file() and "quarantine" not in p.parts]
    assert {p.name for p in outputs} >= {"cohort.parquet", "report.json", "pseudonym.key"}
    for path in outputs:
        for text in _texts(path):
            leaked = sorted(s for s in secrets if s in text)
            assert not leaked, (path.name, leaked[:5])
