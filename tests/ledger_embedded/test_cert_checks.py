"""What the embedded ledger accepts as a creator certificate: an end-entity certificate of the
consortium CA, only while both it and the CA are valid."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.identity import CertificateAuthority
from consortium.ledger.embedded.certs import CertValidator


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1000


def _signed_by(ca: CertificateAuthority, not_after: dt.datetime) -> str:
    """A member certificate issued by ``ca`` (its key) whatever the CA's own end date."""
    member, _ = ca.issue("a", ["hospital"], "client")
    builder = (
        x509.CertificateBuilder()
        .subject_name(member.subject)
        .issuer_name(ca.cert.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(member.not_valid_before_utc)
        .not_valid_after(not_after)
    )
    for ext in member.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_the_ca_certificate_is_not_a_creator() -> None:
    ca = CertificateAuthority.create("c")
    info = CertValidator(ca.cert_pem).info(ca.cert_pem)
    assert info.error == "certificate is a CA certificate, not a member's"
    assert not info.valid_at(_ms(dt.datetime.now(dt.UTC)))


def test_a_member_certificate_is_not_valid_after_its_ca() -> None:
    ca = CertificateAuthority.create("c")
    ca_end = ca.cert.not_valid_after_utc
    info = CertValidator(ca.cert_pem).info(_signed_by(ca, ca_end + dt.timedelta(days=700)))
    assert info.error is None
    assert info.valid_at(_ms(ca_end - dt.timedelta(days=1)))
    assert not info.valid_at(_ms(ca_end + dt.timedelta(days=1)))
