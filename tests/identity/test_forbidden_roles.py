"""A member never holds aggregator or auditor together with hospital or verifier: the contract
refuses it (ROLE_FORBIDDEN, decisions/0001 "Roles"). The rule is static, so every command that sets
roles (`init`, `member add`, `fabric enroll`, `fabric bootstrap`) refuses such a member before
anything is written or signed: no identity files, no config change, no refused transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.config import ConsortiumConfig, MemberEntry
from consortium.identity import CertificateAuthority
from consortium.identity.setup import create_identities
from consortium.ledger.factory import open_ledger

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _files(root: Path) -> dict[str, bytes]:
    """Every file but the ledger's (a client opening it may touch its lock file)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "ledger" not in p.parts
    }


def _height(root: Path) -> int:
    ledger = open_ledger(ConsortiumConfig.load(root), "admin")
    try:
        return ledger.height()
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roles") / "demo"
    code, output = _invoke("init", str(root), "--member", "a")
    assert code == 0, output
    return root


def _says_what_and_what_to_do(output: str, name: str, keyless: str, keyed: str) -> None:
    flat = " ".join(output.split())
    assert f"member {name!r} cannot be {keyless} and {keyed}" in flat
    assert "secret key" in flat  # why
    assert f"give {keyless} to another member" in flat  # what to do
    assert "nothing was changed" in flat


@pytest.mark.parametrize(
    ("roles", "keyless", "keyed"),
    [(("hospital", "auditor"), "auditor", "hospital"),
     (("verifier", "aggregator", "admin"), "aggregator", "verifier")],
    ids=["hospital-auditor", "verifier-aggregator"],
)  # fmt: skip
def test_member_add_refuses_the_roles_before_writing_or_signing(
    demo: Path, roles: tuple[str, ...], keyless: str, keyed: str
) -> None:
    files, height = _files(demo), _height(demo)

    code, output = _invoke(
        "member", "add", "x", *(a for r in roles for a in ("--role", r)), "-C", str(demo)
    )

    assert code == 2
    assert _height(demo) == height  # no refused RegisterMember on the ledger
    assert _files(demo) == files  # no certificate or key of x, consortium.toml unchanged
    assert not (demo / "members" / "x").exists()
    _says_what_and_what_to_do(output, "x", keyless, keyed)
    assert "ROLE_FORBIDDEN" not in output  # known before the ledger was asked


def test_init_refuses_the_roles_before_writing(tmp_path: Path) -> None:
    root = tmp_path / "c"

    with pytest.raises(ValueError, match="member 'a' cannot be aggregator and hospital"):
        create_identities(root, "c", {"a": ["aggregator", "hospital", "verifier"]})

    assert not root.exists()  # no CA, no identity was issued to be undone afterwards


def test_fabric_enroll_refuses_the_roles_before_writing(demo: Path, tmp_path: Path) -> None:
    CertificateAuthority.create("Org1").save(tmp_path / "ca.org1-cert.pem", tmp_path / "priv_sk")
    files = _files(demo)

    code, output = _invoke(
        "fabric", "enroll", "x", "--role", "hospital", "--role", "auditor",
        "--org-ca", str(tmp_path), "--msp-id", "Org1MSP", "-C", str(demo),
    )  # fmt: skip

    assert code == 2
    _says_what_and_what_to_do(output, "x", "auditor", "hospital")
    assert _files(demo) == files


def test_fabric_bootstrap_refuses_a_directory_holding_such_a_member(tmp_path: Path) -> None:
    # a directory made before the rule (or edited by hand) may hold one: Bootstrap would be
    # refused on the channel, so the genesis is not sent at all
    root = tmp_path / "c"
    code, output = _invoke("init", str(root), "--member", "a")
    assert code == 0, output
    config = ConsortiumConfig.load(root)
    entry = config.members["a"]
    config.members["a"] = MemberEntry(
        msp=entry.msp, roles=["aggregator", "hospital"], msp_id=entry.msp_id
    )
    config.save()

    code, output = _invoke("fabric", "bootstrap", "-C", str(root))

    assert code == 2
    _says_what_and_what_to_do(output, "a", "aggregator", "hospital")
