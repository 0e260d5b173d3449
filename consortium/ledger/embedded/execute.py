"""Validating and executing one ordered transaction: the same code commits blocks and replays them.

Order of checks (Fabric's committer order): well-formed envelope and transaction id, channel,
timestamp near the block's, creator certificate chains to the consortium CA and is valid at the
block's time, creator signature, duplicate transaction id, then the contract. The block time is the
orderer's clock, signed in the block header, so a replay gives the same answer; the creator's own
timestamp cannot revive an expired certificate (Fabric's orderer also judges expiry by its
clock). The first failing check gives the validation code; an invalid transaction writes nothing.
Because `verify_ledger` replays the ledger through this very function, a stored code or state
that the code here would not produce is a verification failure.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from consortium.canonical import CanonicalError, canonical_json, sha256_hex
from consortium.ledger.base import VALID, BufferedContext, Contract, ContractError, Creator
from consortium.ledger.embedded.certs import CertValidator
from consortium.ledger.embedded.envelope import (
    ParsedEnvelope,
    parse_envelope,
    plain_canonical,
    tx_id_for,
)
from consortium.ledger.embedded.merkle import leaf_hash

# JSON string literal with non-ASCII kept as is: what json.dumps(ensure_ascii=False) emits.
_string: Callable[[str], str] = encode_basestring


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "AUTHENTIC_FAILURES",
    "BAD_SIGNATURE",
    "BAD_TIMESTAMP",
    "BAD_TXID",
    "CONTRACT_ERROR",
    "DUPLICATE_TXID",
    "MALFORMED_TX",
    "MAX_TX_AGE_MS",
    "MAX_TX_AHEAD_MS",
    "UNKNOWN_CREATOR",
    "WRONG_CHANNEL",
    "Executor",
    "Outcome",
    "result_bytes",
    "tx_leaf",
    "tx_leaf_reference",
]

MALFORMED_TX = "MALFORMED_TX"
BAD_TXID = "BAD_TXID"
WRONG_CHANNEL = "WRONG_CHANNEL"
BAD_TIMESTAMP = "BAD_TIMESTAMP"
UNKNOWN_CREATOR = "UNKNOWN_CREATOR"
BAD_SIGNATURE = "BAD_SIGNATURE"
DUPLICATE_TXID = "DUPLICATE_TXID"
CONTRACT_ERROR = "CONTRACT_ERROR"
# Codes given before the signature is known to be good: such a transaction does not "use" its id.
AUTHENTIC_FAILURES = (
    MALFORMED_TX,
    BAD_TXID,
    WRONG_CHANNEL,
    BAD_TIMESTAMP,
    UNKNOWN_CREATOR,
    BAD_SIGNATURE,
)
# How far a transaction's own timestamp may be from the block's: an envelope may wait in
# `pending` (no process with the orderer key running) but not for longer than this, and clients on
# the orderer's machine share its clock.
MAX_TX_AGE_MS = 3_600_000
MAX_TX_AHEAD_MS = 60_000

_UPSERT = (
    "INSERT INTO state (key, value, block, tx) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
    "SET value = excluded.value, block = excluded.block, tx = excluded.tx"
)


@dataclass(frozen=True)
class Outcome:
    """The validation result of one transaction, as stored in ``txs`` and hashed into the block."""

    tx_id: str
    code: str
    message: str
    result: bytes
    writes: dict[str, bytes]
    leaf: bytes


def tx_leaf(
    envelope: bytes,
    signature: bytes,
    code: str,
    message: str,
    result: bytes,
    writes: dict[str, bytes],
) -> bytes:
    """The Merkle leaf of a transaction: what was ordered (envelope, signature) and what the
    validation made of it (code, message, result, write set), so the orderer's block signature
    covers both.

    The leaf hashes the canonical JSON of ``{code, envelope, message, result, signature, writes}``
    (hex SHA-256 digests for the byte fields, the write set as the sorted ``[key, sha256(value)]``
    pairs). That object has a fixed shape, so its canonical bytes are assembled directly with the
    JSON string encoder `canonical_json` itself uses: the same bytes at a fraction of the cost
    (`tests/ledger_embedded/test_fast_paths.py` checks they equal `tx_leaf_reference`).
    """
    pairs = ",".join(f'[{_string(key)},"{_sha(writes[key])}"]' for key in sorted(writes))
    record = (
        f'{{"code":{_string(code)},"envelope":"{_sha(envelope)}",'
        f'"message":{_string(message)},"result":"{_sha(result)}",'
        f'"signature":"{signature.hex()}","writes":"{_sha(f"[{pairs}]".encode())}"}}'
    )
    return leaf_hash(record.encode())


def tx_leaf_reference(
    envelope: bytes,
    signature: bytes,
    code: str,
    message: str,
    result: bytes,
    writes: dict[str, bytes],
) -> bytes:
    """`tx_leaf` written out with the generic canonical encoder (the definition; for tests)."""
    record = {
        "code": code,
        "envelope": sha256_hex(envelope),
        "message": message,
        "result": sha256_hex(result),
        "signature": signature.hex(),
        "writes": sha256_hex(
            plain_canonical(sorted([k, sha256_hex(v)] for k, v in writes.items()))
        ),
    }
    return leaf_hash(plain_canonical(record))


_PLAIN_SCALARS = (str, int, bool, type(None))


def _exactly_plain(value: Any) -> bool:
    """True if ``value`` is made only of exact dict (str keys), list, str, int, bool and None:
    the values `to_plain` returns unchanged, so the plain encoder gives the canonical bytes."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is dict:
        return all(type(k) is str and _exactly_plain(v) for k, v in value.items())
    if kind is list:
        return all(_exactly_plain(v) for v in value)
    return False


def result_bytes(value: Any) -> bytes:
    """Canonical JSON of a contract result; raises `CanonicalError` (a float, a set...).

    Results are nearly always small plain values: those skip `canonical_json`'s conversion
    (same bytes); anything else (models, tuples, floats) goes through it and is converted or
    refused exactly as before.
    """
    if _exactly_plain(value):
        return plain_canonical(value)
    return canonical_json(value)


class StateContext(BufferedContext):
    """`TxContext` over the SQLite world state, buffering this transaction's writes."""

    def __init__(self, conn: sqlite3.Connection, tx_id: str, timestamp_ms: int, creator: Creator):
        super().__init__(tx_id, timestamp_ms, creator)
        self._conn = conn

    def get_state(self, key: str) -> bytes | None:
        """The committed value (reads do not see this transaction's own writes, as in Fabric)."""
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Committed keys in [start, end) in byte order; an empty ``end`` means no upper bound."""
        sql = "SELECT key, value FROM state WHERE key >= ?"
        params: tuple[str, ...] = (start,)
        if end:
            sql, params = sql + " AND key < ?", (start, end)
        rows = self._conn.execute(sql + " ORDER BY key", params).fetchall()
        for key, value in rows:
            yield str(key), bytes(value)


class Executor:
    """Validates and executes transactions in ledger order against one SQLite world state.

    ``seen_before(tx_id)`` answers whether an authentic transaction with that id was committed in
    an earlier block; ids within the block being executed are tracked here.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        contract: Contract,
        certs: CertValidator,
        channel: str,
        seen_before: Callable[[str], bool],
    ) -> None:
        self.conn = conn
        self.contract = contract
        self.certs = certs
        self.channel = channel
        self.seen_before = seen_before
        self.ids: set[str] = set()
        self.block_ms: int | None = None  # the block's (orderer's) time, set per block

    def execute(
        self,
        block: int,
        index: int,
        envelope: bytes,
        signature: bytes,
        signature_ok: bool | None = None,
        known_canonical: bool = False,
    ) -> Outcome:
        """Validate, run and (if valid) apply one transaction. ``signature_ok`` lets a caller that
        checked the signature already (e.g. in a process pool) skip that check;
        ``known_canonical`` one that already ran `parse_envelope` on these bytes skip the
        canonical re-encoding."""
        try:
            env = parse_envelope(envelope, known_canonical=known_canonical)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return self._outcome(envelope, signature, "", MALFORMED_TX, "malformed envelope")
        code, message = self._precheck(env, envelope, signature, signature_ok)
        if code:
            return self._outcome(envelope, signature, env.tx_id, code, message)
        self.ids.add(env.tx_id)
        ctx = StateContext(
            self.conn, env.tx_id, env.timestamp_ms, self.certs.creator(env.cert_pem, env.msp_id)
        )
        try:
            result = result_bytes(self.contract.invoke(ctx, env.fn, env.args))
        except ContractError as exc:
            return self._outcome(envelope, signature, env.tx_id, exc.code, exc.message)
        except CanonicalError as exc:
            return self._outcome(envelope, signature, env.tx_id, CONTRACT_ERROR, str(exc))
        except Exception as exc:  # a contract bug must not stop the ledger; keep it recorded
            return self._outcome(envelope, signature, env.tx_id, CONTRACT_ERROR, type(exc).__name__)
        for key in sorted(ctx.writes):
            self.conn.execute(_UPSERT, (key, ctx.writes[key], block, index))
        return self._outcome(envelope, signature, env.tx_id, VALID, "", result, ctx.writes)

    def _precheck(
        self, env: ParsedEnvelope, envelope: bytes, signature: bytes, signature_ok: bool | None
    ) -> tuple[str, str]:
        try:
            if tx_id_for(env.nonce, env.cert_pem, env.msp_id) != env.tx_id:
                return BAD_TXID, "tx_id is not sha256(nonce + creator)"
        except ValueError:
            return BAD_TXID, "nonce is not hex"
        if env.channel != self.channel:
            return WRONG_CHANNEL, "envelope is for another consortium"
        now = env.timestamp_ms if self.block_ms is None else self.block_ms
        if not now - MAX_TX_AGE_MS <= env.timestamp_ms <= now + MAX_TX_AHEAD_MS:
            return BAD_TIMESTAMP, "transaction timestamp too far from the block time"
        info = self.certs.info(env.cert_pem)
        if not info.valid_at(now):
            return UNKNOWN_CREATOR, info.error or "certificate not valid at the block time"
        ok = info.verify(envelope, signature) if signature_ok is None else signature_ok
        if not ok:
            return BAD_SIGNATURE, "signature does not match the creator certificate"
        if env.tx_id in self.ids or self.seen_before(env.tx_id):
            return DUPLICATE_TXID, "a transaction with this id is already on the ledger"
        return "", ""

    @staticmethod
    def _outcome(
        envelope: bytes,
        signature: bytes,
        tx_id: str,
        code: str,
        message: str,
        result: bytes = b"null",
        writes: dict[str, bytes] | None = None,
    ) -> Outcome:
        writes = writes or {}
        if not tx_id:
            tx_id = hashlib.sha256(envelope).hexdigest()
        leaf = tx_leaf(envelope, signature, code, message, result, writes)
        return Outcome(tx_id, code, message, result, writes, leaf)


def result_value(result: bytes) -> Any:
    """The contract result stored as canonical JSON bytes, decoded."""
    import json

    return json.loads(result)
