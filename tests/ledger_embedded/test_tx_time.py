"""A creator's certificate is judged at the orderer's (signed) block time, and a transaction stamped
far from it is refused: back-dating must not revive an expired certificate."""

from __future__ import annotations

import datetime as dt
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from consortium.config import ConsortiumConfig
from consortium.identity import CertificateAuthority, Identity
from consortium.ledger.embedded import EmbeddedLedger
from consortium.ledger.embedded.envelope import make_envelope
from consortium.ledger.embedded.verify import verify_ledger

from .conftest import OpenAs
from .kv_contract import KVContract

DAY_MS = 86_400_000


def _queue(ledger: EmbeddedLedger, envelope: bytes, signature: bytes) -> tuple[str, str]:
    conn = ledger._conn
    conn.execute(
        "INSERT INTO pending (envelope, signature, queued_ms) VALUES (?, ?, 0)",
        (envelope, signature),
    )
    assert ledger.cut(force=True)
    row = conn.execute(
        "SELECT code, message FROM txs ORDER BY block_number DESC, tx_index DESC LIMIT 1"
    ).fetchone()
    return str(row[0]), str(row[1])


def _expired_twin(config: ConsortiumConfig, identity: Identity) -> Identity:
    """The same key and attributes in a certificate whose validity ended yesterday."""
    ca = CertificateAuthority.load(config.ca_cert_path, config.resolve(config.ca_key))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(identity.certificate.subject)
        .issuer_name(ca.cert.subject)
        .public_key(identity.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
    )
    for ext in identity.certificate.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    cert = builder.sign(ca.key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return Identity(cert_pem=pem, private_key=identity.private_key, msp_id=identity.msp_id)


def test_an_expired_certificate_is_refused_even_when_the_transaction_is_back_dated(
    config: ConsortiumConfig, open_as: OpenAs
) -> None:
    # Arrange
    a = open_as("a")
    expired = _expired_twin(config, a.identity)
    back_dated = time.time_ns() // 1_000_000 - 2 * DAY_MS  # inside the old validity period
    envelope, signature, _ = make_envelope(
        expired, a.channel, "Put", {"key": "k", "value": "v"}, timestamp_ms=back_dated
    )
    # Act
    code, _ = _queue(a, envelope, signature)
    # Assert
    assert code in ("UNKNOWN_CREATOR", "BAD_TIMESTAMP")
    assert verify_ledger(config.ledger_path, config.ca_cert_path, KVContract()).ok


def test_a_transaction_stamped_far_from_the_block_time_is_refused(
    config: ConsortiumConfig, open_as: OpenAs
) -> None:
    # Arrange
    a = open_as("a")
    now = time.time_ns() // 1_000_000
    codes = []
    for stamp in (now + 365 * DAY_MS, now - 7 * DAY_MS, now):
        envelope, signature, _ = make_envelope(
            a.identity, a.channel, "Put", {"key": f"k{stamp}", "value": "v"}, timestamp_ms=stamp
        )
        # Act
        codes.append(_queue(a, envelope, signature)[0])
    # Assert
    assert codes == ["BAD_TIMESTAMP", "BAD_TIMESTAMP", "VALID"]
    assert verify_ledger(config.ledger_path, config.ca_cert_path, KVContract()).ok
