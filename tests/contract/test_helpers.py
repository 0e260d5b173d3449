"""Certificate decoding, decimal comparison and the SML commitment."""

from __future__ import annotations

import base64
import hashlib

import pytest

from consortium.ledger.base import Creator
from consortium.ledger.contract._state import cert_der_sha256, decimal_cmp
from consortium.ledger.contract._updates import sml_commitment


def test_cert_digest_is_the_sha256_of_the_der(people: dict[str, Creator]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = people["h1"].cert_pem
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)

    assert cert_der_sha256(pem) == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize(
    "body",
    ["", "not*base64", "MAo", "MA=o", "AAAA"],  # empty, bad alphabet, length, inner '=', not DER
)
def test_malformed_certificates_have_no_digest(body: str) -> None:
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"

    assert cert_der_sha256(pem) is None


def test_a_minimal_sequence_is_accepted() -> None:
    body = base64.b64encode(b"\x30\x00").decode()

    assert cert_der_sha256(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("8", "8.0", 0),
        ("8.000001", "8", 1),
        ("2.25", "2.5", -1),
        ("10", "9.99", 1),
        ("0", "0.0", 0),
    ],
)
def test_decimal_comparison_is_exact(a: str, b: str, expected: int) -> None:
    assert decimal_cmp(a, b) == expected


def test_sml_commitment_hashes_the_prefixed_hex_nonce() -> None:
    nonce = "ab" * 32

    expected = hashlib.sha256(b"consortium/sml-commit/v1|" + nonce.encode("ascii")).hexdigest()

    assert sml_commitment(nonce) == expected
