"""Fixtures of the FHIR ingest tests: demo FHIR, a fixed pseudonym key, ingested demo sites, and
the HL7 FHIR R4 examples package (fetched with npm if `make hl7-examples` has not run)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from consortium.datasets.demo import write_demo_fhir
from consortium.datasets.heart import DEMO_TABLE_KEY
from consortium.fhir.ingest import IngestReport, ingest

REPO = Path(__file__).resolve().parents[2]
HL7_DIR = REPO / ".cache" / "hl7.fhir.r4.examples"
HL7_PACKAGE = "hl7.fhir.r4.examples@4.0.1"


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo FHIR of the four sites (NDJSON folders and bundles/<site>.json)."""
    root = tmp_path_factory.mktemp("demo-fhir")
    write_demo_fhir(root, bundles=True)
    return root


@pytest.fixture(scope="session")
def demo_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key file holding the public test key that `heart_cohort_table` uses."""
    path = tmp_path_factory.mktemp("key") / "pseudonym.key"
    path.write_bytes(DEMO_TABLE_KEY)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def demo_ingested(
    demo_dir: Path, demo_key: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, IngestReport]]:
    """Each demo site ingested with k=5 and the test key: site -> (out folder, report)."""
    results = {}
    for site in ("cleveland", "hungary", "switzerland", "va"):
        out = tmp_path_factory.mktemp(f"out-{site}")
        results[site] = (out, ingest([demo_dir / site], site, "heart", out, key_path=demo_key))
    return results


@pytest.fixture(scope="session")
def hl7_examples() -> Path:
    """The unpacked `hl7.fhir.r4.examples` package folder (npm pack + untar when missing)."""
    package = HL7_DIR / "package"
    if not (package / "package.json").exists():
        HL7_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "pack", "--silent", HL7_PACKAGE],
            cwd=HL7_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm pack {HL7_PACKAGE} failed: {done.stderr.strip()[:500]}")
        tarball = HL7_DIR / done.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as archive:
            archive.extractall(HL7_DIR, filter="data")
        tarball.unlink()
    return package
