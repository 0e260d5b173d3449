"""Identities: MSP layout, roles in the Fabric CA attribute extension, low-S signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from consortium.config import ConsortiumConfig
from consortium.identity import (
    ATTR_OID,
    CertificateAuthority,
    IdentityError,
    load_identity,
    verify_signature,
)
from consortium.identity.identity import P256_N, is_low_s
from consortium.identity.setup import add_member_identity, create_identities, member_roles


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "demo"
    roles = member_roles(
        members=["cleveland", "hungary"],
        admins=[],
        aggregators=["agg"],
        auditors=["ethics"],
        verifiers=["hungary"],
    )
    create_identities(root, "demo", roles)
    return root


def test_roles_from_options_default_admin_and_union() -> None:
    roles = member_roles(
        members=["a"], admins=[], aggregators=["x"], auditors=["x"], verifiers=["a"]
    )
    assert roles == {
        "a": ["hospital", "verifier"],
        "admin": ["admin"],
        "x": ["aggregator", "auditor"],
    }


def test_msp_folder_layout_and_key_mode(consortium_dir: Path) -> None:
    msp = consortium_dir / "members" / "cleveland" / "msp"
    for rel in ["signcerts/cert.pem", "keystore/key.pem", "cacerts/ca.pem", "config.yaml"]:
        assert (msp / rel).is_file(), rel
    assert stat.S_IMODE((msp / "keystore" / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((consortium_dir / "ca" / "ca-key.pem").stat().st_mode) == 0o600
    assert "OrganizationalUnitIdentifier: admin" in (msp / "config.yaml").read_text()


def test_every_keystore_folder_is_owner_only(tmp_path: Path) -> None:
    import os

    old_umask = os.umask(0o022)  # the usual umask: folders 0755 unless made otherwise
    try:
        root = tmp_path / "c"
        create_identities(root, "c", {"a": ["hospital"], "admin": ["admin"]})
    finally:
        os.umask(old_umask)
    keystores = sorted(root.rglob("keystore"))
    assert len(keystores) == 3  # orderer, a, admin
    for folder in keystores:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def _ca_made_years_ago(monkeypatch: pytest.MonkeyPatch, years: int) -> CertificateAuthority:
    import consortium.identity.ca as ca_module

    now = ca_module._now
    with monkeypatch.context() as patch:
        patch.setattr(ca_module, "_now", lambda: now() - dt.timedelta(days=365 * years))
        return CertificateAuthority.create("old")


def test_a_member_certificate_never_outlives_the_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    ca = _ca_made_years_ago(monkeypatch, 7)  # 3 years left, members get 5
    cert, _ = ca.issue("late", ["hospital"], "client")
    assert cert.not_valid_after_utc <= ca.cert.not_valid_after_utc
    assert cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 2)


def test_an_expired_ca_issues_no_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    ca = _ca_made_years_ago(monkeypatch, 11)
    with pytest.raises(ValueError, match="the consortium CA expired on"):
        ca.issue("late", ["hospital"], "client")


def test_certificate_carries_fabric_attributes_and_node_ou(consortium_dir: Path) -> None:
    cert_pem = (consortium_dir / "members/cleveland/msp/signcerts/cert.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(cert_pem)
    raw = cert.extensions.get_extension_for_oid(ATTR_OID).value.value  # type: ignore[attr-defined]
    assert json.loads(raw) == {
        "attrs": {"consortium.member": "cleveland", "consortium.roles": "hospital,verifier"}
    }
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "client"
    admin = load_identity(consortium_dir / "members/admin/msp")
    admin_ou = admin.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[
        0
    ].value
    assert (admin.roles, admin_ou) == (("admin",), "admin")


def test_certificate_chains_to_the_consortium_ca(consortium_dir: Path) -> None:
    ca = x509.load_pem_x509_certificate((consortium_dir / "ca/ca.pem").read_bytes())
    ident = load_identity(consortium_dir / "members/hungary/msp")
    ident.certificate.verify_directly_issued_by(ca)
    assert ident.member_id == "hungary"
    assert ident.roles == ("hospital", "verifier")


def test_the_authority_key_id_names_the_issuers_own_key_id() -> None:
    """A cryptogen / fabric-ca root states its SKI as SHA-256 of the point; the member's AKI must
    repeat it (RFC 5280 4.2.1.1), not a SHA-1 id derived from the key that the issuer lacks."""
    ours = CertificateAuthority.create("demo")
    key = ours.key
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    sha256_ski = x509.SubjectKeyIdentifier(hashlib.sha256(point).digest())
    name = ours.cert.subject
    fabric_root = CertificateAuthority(
        cert=x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ours.cert.not_valid_before_utc)
        .not_valid_after(ours.cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(sha256_ski, critical=False)
        .sign(key, hashes.SHA256()),
        key=key,
    )
    for ca in (ours, fabric_root):
        cert, _ = ca.issue("m", ["hospital"], "client")
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest


def test_sign_is_low_s_and_verifies(consortium_dir: Path) -> None:
    ident = load_identity(consortium_dir / "members/cleveland/msp")
    for i in range(40):
        data = f"message {i}".encode()
        sig = ident.sign(data)
        assert is_low_s(sig)
        assert verify_signature(ident.cert_pem, data, sig)
        assert not verify_signature(ident.cert_pem, data + b"!", sig)


def test_high_s_twin_is_refused(consortium_dir: Path) -> None:
    ident = load_identity(consortium_dir / "members/cleveland/msp")
    sig = ident.sign(b"payload")
    r, s = decode_dss_signature(sig)
    twin = encode_dss_signature(r, P256_N - s)  # mathematically valid, but high-S
    assert not verify_signature(ident.cert_pem, b"payload", twin)


def test_signature_by_another_member_is_refused(consortium_dir: Path) -> None:
    a = load_identity(consortium_dir / "members/cleveland/msp")
    b = load_identity(consortium_dir / "members/hungary/msp")
    assert not verify_signature(b.cert_pem, b"x", a.sign(b"x"))


def test_refuses_to_overwrite_existing_consortium(consortium_dir: Path) -> None:
    before = (consortium_dir / "consortium.toml").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a consortium"):
        create_identities(consortium_dir, "demo", {"z": ["hospital"]})
    assert (consortium_dir / "consortium.toml").read_bytes() == before
    assert not (consortium_dir / "members" / "z").exists()


def test_config_round_trip_and_add_member(consortium_dir: Path, tmp_path: Path) -> None:
    config = ConsortiumConfig.load(consortium_dir)
    assert config.members["agg"].roles == ["aggregator"]
    assert config.ledger.backend == "embedded" and config.blobs.url == "file://blobs"
    assert config.ledger_path == consortium_dir.resolve() / "ledger/ledger.sqlite"
    add_member_identity(config, "zurich", ["hospital"])
    assert load_identity(config.member_msp("zurich")).roles == ("hospital",)
    with pytest.raises(FileExistsError):
        add_member_identity(config, "zurich", ["hospital"])


def test_load_identity_rejects_mismatched_key(consortium_dir: Path, tmp_path: Path) -> None:
    import shutil

    msp = tmp_path / "msp"
    shutil.copytree(consortium_dir / "members/cleveland/msp", msp)
    (msp / "keystore/key.pem").chmod(0o600)
    (msp / "keystore/key.pem").write_bytes(
        (consortium_dir / "members/hungary/msp/keystore/key.pem").read_bytes()
    )
    with pytest.raises(IdentityError, match="does not match"):
        load_identity(msp)


def test_a_missing_msp_folder_is_named_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match=r"no MSP folder at .*missing.*consortium member add"):
        load_identity(tmp_path / "missing" / "msp")


def test_a_private_key_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that stopped half-way (disk full, kill) used to leave a truncated key.pem at its
    final name, which a retry then refused to replace."""
    import os

    from cryptography.hazmat.primitives.asymmetric import ec

    from consortium.identity.ca import write_private_key

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "keystore" / "key.pem"
    real_fdopen = os.fdopen

    class _HalfWritten:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> _HalfWritten:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: _HalfWritten(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space"):
        write_private_key(path, key)
    assert not path.exists() and list(path.parent.iterdir()) == []

    monkeypatch.setattr(os, "fdopen", real_fdopen)
    write_private_key(path, key)  # the retry writes it
    assert (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(FileExistsError):
        write_private_key(path, key)
