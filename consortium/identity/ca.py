"""The consortium certificate authority: a self-signed ECDSA P-256 root issuing member identities.

Certificates follow what Fabric CA issues, so that an identity made here is accepted by a Fabric
peer unchanged:

- ECDSA P-256 with SHA-256 (Fabric's default BCCSP; FIPS 186-4 curve, 128-bit security);
- the subject's ``OU`` is the Fabric NodeOU (``client``, ``admin``, ``orderer``), matched by the
  MSP folder's ``config.yaml``;
- roles travel in Fabric CA's attribute extension (OID 1.2.3.4.5.6.7.8.1, raw JSON
  ``{"attrs": {...}}``), which chaincode reads with ``GetAttributeValue``;
- private keys are written 0600 (in a 0700 ``keystore/``) and never leave the member's folder.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consortium.durable import create_durably
from consortium.identity.identity import ATTR_OID

__all__ = ["CertificateAuthority", "write_msp", "write_private_key"]

CA_YEARS = 10
MEMBER_YEARS = 5
# Certificates are valid from a little before "now" so that a peer whose clock lags slightly does
# not reject a freshly issued identity.
_BACKDATE = dt.timedelta(minutes=5)

_NODE_OU_YAML = """\
NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, created with mode 0600 (never world-readable).

    Whole or not at all: the key is written and synced under a temporary name, then linked to
    ``path``, which must not exist (`FileExistsError`); a crash never leaves a truncated key that a
    retry would refuse to replace."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_durably(path, data, mode=0o600)


@dataclass(frozen=True)
class CertificateAuthority:
    """The consortium root: its certificate and signing key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        """The root certificate, PEM."""
        return _pem(self.cert)

    @classmethod
    def create(cls, consortium: str) -> CertificateAuthority:
        """A new self-signed root for ``consortium``."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, consortium),
                x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{consortium}"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - _BACKDATE)
            .not_valid_after(_now() + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert=cert, key=key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """Load a root written by `save`."""
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(
                f"{key_path} holds a {type(key).__name__.lstrip('_')}, not the ECDSA P-256 key "
                "a Fabric CA (and the consortium's) signs with"
            )
        return cls(cert=cert, key=key)

    def save(self, cert_path: Path, key_path: Path) -> None:
        """Write the root certificate and (0600) key."""
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_text(self.cert_pem)
        write_private_key(key_path, self.key)

    def issue(
        self, member_id: str, roles: list[str], node_ou: str
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A fresh key pair for ``member_id`` and its certificate carrying ``roles``.

        The certificate ends when the CA does if that is sooner than `MEMBER_YEARS`: a chain is
        valid only while every certificate in it is, so a longer one would only promise a
        lifetime it cannot have. An expired CA issues nothing (`ValueError`)."""
        now, ca_end = _now(), self.cert.not_valid_after_utc
        if now >= ca_end:
            raise ValueError(
                f"the consortium CA expired on {ca_end:%Y-%m-%d}: it can issue no more identities"
            )
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = {"consortium.member": member_id, "consortium.roles": ",".join(roles)}
        org = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(org)),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, node_ou),
                x509.NameAttribute(NameOID.COMMON_NAME, member_id),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(min(now + dt.timedelta(days=365 * MEMBER_YEARS), ca_end))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(self._authority_key_id(), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(ATTR_OID, json.dumps({"attrs": attrs}).encode()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert, key

    def _authority_key_id(self) -> x509.AuthorityKeyIdentifier:
        """The AKI of a certificate this CA issues: the CA's own subject key identifier.

        RFC 5280 (4.2.1.1) has the AKI carry the issuer's SKI. The consortium's root computes its
        SKI as SHA-1 of the key (`create`), but a Fabric CA made by cryptogen or fabric-ca
        (`consortium fabric enroll` issues with it) states SHA-256 of the point; deriving the AKI
        from the key would then name a key id the issuer does not have. A CA without an SKI
        extension gets the RFC's SHA-1 method."""
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,  # members derive wrapping keys by ECDH (consortium.crypto)
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def write_msp(
    msp_dir: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, ca_pem: str
) -> None:
    """Lay out a new Fabric MSP folder: signcerts/cert.pem, keystore/key.pem (0600, in a 0700
    folder), cacerts/ca.pem, config.yaml (NodeOUs).

    Refuses (`FileExistsError`, nothing written) a folder that exists: it holds someone's identity,
    and a new certificate beside its old key would leave neither usable."""
    try:
        msp_dir.mkdir(parents=True)
    except FileExistsError:
        raise FileExistsError(
            f"{msp_dir} exists: an identity is there already; move it away or choose another "
            "name (nothing was changed)"
        ) from None
    (msp_dir / "signcerts").mkdir(parents=True, exist_ok=True)
    (msp_dir / "cacerts").mkdir(parents=True, exist_ok=True)
    (msp_dir / "signcerts" / "cert.pem").write_text(_pem(cert))
    (msp_dir / "cacerts" / "ca.pem").write_text(ca_pem)
    (msp_dir / "config.yaml").write_text(_NODE_OU_YAML)
    (msp_dir / "keystore").mkdir(mode=0o700)  # owner-only, like the key file in it
    write_private_key(msp_dir / "keystore" / "key.pem", key)
