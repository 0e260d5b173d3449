"""`consortium fabric ...` end to end: the fake peer in its own process, identities enrolled from a
hospital organisation's CA, the genesis transaction and a status check through `open_ledger`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.identity import CertificateAuthority
from consortium.identity.setup import create_identities
from consortium.ledger.factory import open_ledger

runner = CliRunner()


def _text(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    create_identities(root, "demo", {"admin": ["admin"], "v1": ["verifier"]})
    return root


@pytest.fixture
def hospital_ca(tmp_path: Path) -> Path:
    """A folder laid out as cryptogen writes an organisation's CA."""
    ca = CertificateAuthority.create("hospital1.consortium.example")
    folder = tmp_path / "ca"
    ca.save(folder / "ca.hospital1.consortium.example-cert.pem", folder / "priv_sk")
    return folder


def _start_fake_peer(directory: Path) -> subprocess.Popen[str]:
    """`consortium fabric fake-peer --configure` in its own process, once it listens."""
    command = [sys.executable, "-m", "consortium", "fabric", "fake-peer", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--configure", "-C", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "fake Fabric gateway on" in line, process.stderr.read() if process.stderr else line
    return process


@pytest.fixture
def fake_peer(directory: Path) -> Iterator[subprocess.Popen[str]]:
    process = _start_fake_peer(directory)
    yield process
    process.terminate()
    process.wait(timeout=10)


def _enroll(directory: Path, member: str, role: str, ca: Path) -> Result:
    return runner.invoke(
        app,
        [
            "fabric",
            "enroll",
            member,
            "--role",
            role,
            "--org-ca",
            str(ca),
            "--msp-id",
            "Hospital1MSP",
            "-C",
            str(directory),
        ],
    )


def test_enroll_writes_a_member_of_the_hospital_msp(directory: Path, hospital_ca: Path) -> None:
    result = _enroll(directory, "h1", "hospital", hospital_ca)

    assert result.exit_code == 0, result.output
    config = ConsortiumConfig.load(directory)
    assert config.members["h1"].msp_id == "Hospital1MSP"
    assert (config.member_msp("h1") / "cacerts" / "ca.pem").read_text() == (
        hospital_ca / "ca.hospital1.consortium.example-cert.pem"
    ).read_text()


def test_enroll_refuses_a_folder_that_is_not_a_ca(directory: Path, tmp_path: Path) -> None:
    result = _enroll(directory, "h1", "hospital", tmp_path)
    assert result.exit_code != 0
    assert "not a cryptogen CA folder" in _text(result)


def test_enroll_refuses_a_ca_whose_key_is_not_ecdsa(
    directory: Path, hospital_ca: Path, tmp_path: Path
) -> None:
    """An RSA key where the CA's key should be stopped enroll with an AssertionError traceback."""
    import shutil

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ca = tmp_path / "rsa-ca"
    shutil.copytree(hospital_ca, ca)
    for key in list(ca.glob("*_sk")):
        key.unlink()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (ca / "priv_sk").write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    result = _enroll(directory, "h1", "hospital", ca)
    assert result.exit_code == 2, result.output
    assert "RSAPrivateKey, not the ECDSA P-256 key" in _text(result)
    assert "h1" not in ConsortiumConfig.load(directory).members


def test_bootstrap_and_status_against_the_fake_peer_process(
    directory: Path, fake_peer: subprocess.Popen[str]
) -> None:
    boot = runner.invoke(app, ["fabric", "bootstrap", "--as", "admin", "-C", str(directory)])
    status = runner.invoke(app, ["fabric", "status", "--as", "v1", "-C", str(directory)])
    again = runner.invoke(app, ["fabric", "bootstrap", "--as", "admin", "-C", str(directory)])

    assert boot.exit_code == 0, boot.output
    assert "bootstrapped 2 members" in _text(boot)
    assert "keys shared with 2 members" in _text(boot)  # as `consortium init` does
    assert status.exit_code == 0, status.output
    assert "lists 2 members" in _text(status)
    assert again.exit_code != 0 and "ALREADY_BOOTSTRAPPED" in _text(again)
    ledger = open_ledger(ConsortiumConfig.load(directory), "v1")  # the factory's Fabric path
    try:
        assert [(t.fn, t.code) for t in ledger.transactions()] == [
            ("Bootstrap", "VALID"),
            ("ShareKey", "VALID"),
            ("ShareKey", "VALID"),
            ("Bootstrap", "ALREADY_BOOTSTRAPPED"),
        ]
    finally:
        ledger.close()
    # the keys exist: a task can be published (it failed with SHARE_NOT_FOUND before), and new
    # keys are refused
    template = runner.invoke(app, ["task", "template", "--task-id", "heart"])
    (directory / "task.json").write_text(template.output)
    publish = runner.invoke(app, ["task", "publish", str(directory / "task.json"),
                                  "-C", str(directory)])  # fmt: skip
    assert publish.exit_code == 0, publish.output
    share = runner.invoke(app, ["fabric", "share-keys", "--as", "admin", "-C", str(directory)])
    assert share.exit_code != 0 and "holds a key share already" in _text(share)


def test_status_says_what_to_do_when_the_peer_is_down(directory: Path) -> None:
    config = ConsortiumConfig.load(directory)
    config.ledger.backend = "fabric"
    config.ledger.fabric.peer_endpoint = "127.0.0.1:1"
    config.ledger.fabric.tls_ca = "ca/ca.pem"
    config.save()

    result = runner.invoke(app, ["fabric", "status", "--as", "v1", "-C", str(directory)])

    assert result.exit_code != 0
    assert "cannot reach the Fabric peer at 127.0.0.1:1" in _text(result)


def test_enrolled_hospital_member_transacts_under_its_own_msp(
    directory: Path, hospital_ca: Path
) -> None:
    assert _enroll(directory, "h1", "hospital", hospital_ca).exit_code == 0
    process = _start_fake_peer(directory)
    try:
        boot = runner.invoke(
            app,
            [
                "fabric",
                "bootstrap",
                "--as",
                "admin",
                "--member",
                "admin",
                "--member",
                "h1",
                "-C",
                str(directory),
            ],
        )
        ledger = open_ledger(ConsortiumConfig.load(directory), "h1")
        try:
            me = ledger.evaluate("GetMember", {"member_id": "h1"})
            listed = ledger.evaluate("ListMembers", {})
            genesis, *shares = list(ledger.transactions())
        finally:
            ledger.close()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert boot.exit_code == 0, boot.output
    assert "bootstrapped 2 members" in _text(boot)
    assert sorted(m["member_id"] for m in listed) == ["admin", "h1"]  # v1 was left out
    assert me["msp_id"] == "Hospital1MSP" and me["roles"] == ["hospital"]
    assert genesis.creator == "admin"
    assert [(t.fn, t.args["member_id"]) for t in shares] == [
        ("ShareKey", "admin"),
        ("ShareKey", "h1"),
    ]


def test_bootstrap_of_a_directory_made_by_init_says_how_to_replace_its_embedded_keys(
    tmp_path: Path,
) -> None:
    """docs/fabric.md starts from `consortium init`, which also made keys for its embedded ledger:
    bootstrap refused them ("already has keys ... once that is fixed") without saying how, and
    share-keys repeated it."""
    directory = tmp_path / "demo"
    made = runner.invoke(app, ["init", str(directory), "--member", "h1", "--member", "h2",
                               "--member", "h3"])  # fmt: skip
    assert made.exit_code == 0, made.output
    process = _start_fake_peer(directory)
    try:
        boot = runner.invoke(app, ["fabric", "bootstrap", "--as", "admin", "-C", str(directory)])
        context = directory / "crypto" / "public_context.tenseal"
        assert boot.exit_code == 2
        assert "holds keys that no member on the channel holds" in _text(boot)
        assert f"mv {context} {context}.embedded" in _text(boot)
        assert context.exists()  # nothing of the user's is removed

        context.rename(context.with_name(context.name + ".embedded"))  # what the message says
        share = runner.invoke(app, ["fabric", "share-keys", "--as", "admin", "-C", str(directory)])
        assert share.exit_code == 0, share.output
        assert "keys shared with 4 members" in _text(share)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (["share-keys"], "no admin's key is here"),
        (["bootstrap"], "no admin's key is here"),
        (["status", "--as", "admin"], "whose key is here (here: v1)"),
    ],
    ids=["share-keys", "bootstrap", "status"],
)
def test_acting_without_the_identitys_key_is_refused_before_the_peer_is_reached(
    directory: Path, args: list[str], instead: str
) -> None:
    """A hospital's copy of the directory holds no admin key: share-keys said "cannot act as
    'admin' here … with --member or --as" (it has no --member), unlike `task publish`."""
    import shutil

    config = ConsortiumConfig.load(directory)
    config.ledger.backend = "fabric"
    config.ledger.fabric.peer_endpoint = "127.0.0.1:1"  # nothing listens: never reached
    config.ledger.fabric.tls_ca = "ca/ca.pem"
    config.save()
    keystore = directory / "members" / "admin" / "msp" / "keystore"
    shutil.rmtree(keystore)

    result = runner.invoke(app, ["fabric", *args, "-C", str(directory)], terminal_width=400)

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert f"no private key of 'admin' in {keystore}" in lines[0]
    assert instead in lines[0] and "--as NAME" in lines[0]
    assert "--member" not in lines[0] and "cannot reach" not in lines[0]
