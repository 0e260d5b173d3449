"""Signed transaction envelopes: what a member signs and what the ledger keeps.

An envelope is canonical JSON::

    {"channel", "creator": {"cert_pem", "msp_id"}, "fn", "args", "nonce", "timestamp_ms", "tx_id"}

- ``tx_id = sha256(nonce || creator)`` in hex, as Fabric computes it (``protoutil.ComputeTxID``:
  SHA-256 of the nonce and the serialized creator), with ``creator`` the canonical JSON of
  ``{"cert_pem", "msp_id"}``. A fresh 24-byte random nonce (Fabric's size) makes every honest
  transaction id unique; a replayed envelope keeps its id and is caught as ``DUPLICATE_TXID``;
  changing the nonce or creator changes the id and breaks the signature.
- ``channel`` (the consortium name) binds the envelope to one ledger, so a transaction signed for
  one consortium cannot be replayed on another that shares members.
- The signature covers the exact envelope bytes (low-S ECDSA P-256, `Identity.sign`), including the
  creator's certificate, so the creator cannot be swapped.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from consortium.canonical import sha256_hex, to_plain
from consortium.identity import Identity

__all__ = [
    "NONCE_BYTES",
    "ParsedEnvelope",
    "make_envelope",
    "parse_envelope",
    "plain_canonical",
    "tx_id_for",
]

NONCE_BYTES = 24


def plain_canonical(value: Any) -> bytes:
    """Canonical JSON of a value already made of plain JSON types without floats.

    Same bytes as `canonical_json` (which also converts and checks arbitrary values) at a
    fraction of the cost; used on the commit path for values parsed by `_strict_loads` or built
    from strings only.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _no_float(text: str) -> Any:
    raise ValueError(f"float {text} in an envelope: canonical JSON has no floats")


# One decoder for every envelope (``json.loads`` with hooks builds a new one per call). Envelopes
# are UTF-8: other encodings, which ``json.loads`` would guess, fail here as they would fail the
# canonical comparison anyway.
_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)


def _strict_loads(data: bytes) -> Any:
    return _DECODER.decode(data.decode("utf-8"))


@functools.lru_cache(maxsize=4096)
def _creator_bytes(cert_pem: str, msp_id: str) -> bytes:
    return plain_canonical({"cert_pem": cert_pem, "msp_id": msp_id})


def tx_id_for(nonce_hex: str, cert_pem: str, msp_id: str) -> str:
    """Fabric-style transaction id: hex SHA-256 of the nonce bytes then the creator bytes."""
    return sha256_hex(bytes.fromhex(nonce_hex) + _creator_bytes(cert_pem, msp_id))


def make_envelope(
    identity: Identity, channel: str, fn: str, args: dict[str, Any], timestamp_ms: int | None = None
) -> tuple[bytes, bytes, str]:
    """Build and sign an envelope; returns (envelope bytes, signature, tx_id)."""
    nonce = os.urandom(NONCE_BYTES).hex()
    tx_id = tx_id_for(nonce, identity.cert_pem, identity.msp_id)
    body = {
        "args": to_plain(args, "$.args"),  # refuses floats and other non-canonical values
        "channel": channel,
        "creator": {"cert_pem": identity.cert_pem, "msp_id": identity.msp_id},
        "fn": fn,
        "nonce": nonce,
        "timestamp_ms": time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms,
        "tx_id": tx_id,
    }
    data = plain_canonical(body)
    return data, identity.sign(data), tx_id


@dataclass(frozen=True)
class ParsedEnvelope:
    """The fields of an envelope, after structural checks."""

    tx_id: str
    channel: str
    fn: str
    args: dict[str, Any]
    nonce: str
    timestamp_ms: int
    cert_pem: str
    msp_id: str


def parse_envelope(data: bytes, *, known_canonical: bool = False) -> ParsedEnvelope:
    """Parse envelope bytes; raise ValueError if they are not a well-formed canonical envelope.

    ``known_canonical=True`` skips re-encoding the body to compare it with ``data``; pass it only
    when this very function already accepted these exact bytes (as `verify_ledger`'s signature
    workers do), so the check is moved, not dropped.
    """
    body = _strict_loads(data)
    if not isinstance(body, dict):
        raise ValueError("envelope is not a JSON object")
    if not known_canonical and plain_canonical(body) != data:
        raise ValueError("envelope is not canonical JSON")
    creator = body["creator"]
    env = ParsedEnvelope(
        tx_id=body["tx_id"],
        channel=body["channel"],
        fn=body["fn"],
        args=body["args"],
        nonce=body["nonce"],
        timestamp_ms=body["timestamp_ms"],
        cert_pem=creator["cert_pem"],
        msp_id=creator["msp_id"],
    )
    types_ok = all(
        isinstance(v, str)
        for v in (env.tx_id, env.channel, env.fn, env.nonce, env.cert_pem, env.msp_id)
    )
    if not types_ok or not isinstance(env.args, dict) or type(env.timestamp_ms) is not int:
        raise ValueError("envelope fields have the wrong types")
    return env
