"""Member names and the folders identities are written to: a name the ledger would refuse, or one
that leads out of the consortium directory, is refused before anything is written or signed, and
an MSP folder that exists already is never overwritten (`init`, `member add`, `fabric enroll`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.identity import CertificateAuthority
from consortium.ledger.factory import open_ledger

runner = CliRunner()

# Accepted by str.isalnum() but not by the ledger's member id pattern, or too long for it (and for
# a certificate's CN, 64 characters).
NAMES_THE_LEDGER_REFUSES = ["zürich", "²", "b" * 65]


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("names") / "demo"
    code, output = _invoke("init", str(root), "--member", "a")
    assert code == 0, output
    return root


@pytest.fixture(scope="module")
def org_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Fabric organisation's CA folder as cryptogen lays it out."""
    folder = tmp_path_factory.mktemp("orgca")
    CertificateAuthority.create("Org1").save(folder / "ca.org1-cert.pem", folder / "priv_sk")
    return folder


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", NAMES_THE_LEDGER_REFUSES, ids=["accent", "superscript", "long"])
def test_init_refuses_a_name_the_ledger_would_refuse_before_writing(
    tmp_path: Path, name: str
) -> None:
    root = tmp_path / "c"
    code, output = _invoke("init", str(root), "--member", name)
    assert code == 2
    assert f"member name {name!r}" in output
    assert not root.exists()


@pytest.mark.parametrize("name", NAMES_THE_LEDGER_REFUSES, ids=["accent", "superscript", "long"])
def test_member_add_refuses_a_name_the_ledger_would_refuse_before_signing(
    demo: Path, name: str
) -> None:
    config = ConsortiumConfig.load(demo)
    ledger = open_ledger(config, "admin")
    height = ledger.height()
    ledger.close()
    code, output = _invoke("member", "add", name, "--role", "hospital", "-C", str(demo))
    assert code == 2
    assert f"member name {name!r}" in output
    ledger = open_ledger(config, "admin")
    assert ledger.height() == height  # no refused RegisterMember left on the ledger
    ledger.close()


def test_init_keeps_an_identity_folder_that_was_there(tmp_path: Path) -> None:
    root = tmp_path / "c"
    cert = root / "members" / "cleveland" / "msp" / "signcerts" / "cert.pem"
    cert.parent.mkdir(parents=True)
    cert.write_text("the hospital's own certificate")
    before = _files(root)
    code, output = _invoke("init", str(root), "--member", "cleveland", "--member", "hungary")
    assert code == 2
    assert "members/cleveland" in output and "exists" in output
    assert _files(root) == before
    assert sorted(p.name for p in root.iterdir()) == ["members"]


def test_fabric_enroll_refuses_a_name_that_leaves_the_directory(demo: Path, org_ca: Path) -> None:
    config_before = (demo / "consortium.toml").read_bytes()
    code, output = _invoke(
        "fabric", "enroll", "../../escaped", "--role", "hospital",
        "--org-ca", str(org_ca), "--msp-id", "Org1MSP", "-C", str(demo),
    )  # fmt: skip
    assert code == 2
    assert "member name '../../escaped'" in output
    assert not (demo.parent.parent / "escaped").exists()
    assert (demo / "consortium.toml").read_bytes() == config_before


def test_fabric_enroll_keeps_an_identity_folder_that_was_there(demo: Path, org_ca: Path) -> None:
    msp = demo / "members" / "b" / "msp"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "signcerts" / "cert.pem").write_text("b's own certificate")
    before = _files(msp)
    code, output = _invoke(
        "fabric", "enroll", "b", "--role", "hospital",
        "--org-ca", str(org_ca), "--msp-id", "Org1MSP", "-C", str(demo),
    )  # fmt: skip
    assert code == 2
    assert "exists" in output and "members/b" in output
    assert _files(msp) == before
    assert "b" not in ConsortiumConfig.load(demo).members
