"""Cutting blocks: the embedded orderer, which on one machine also validates and commits.

A block is cut inside one SQLite write transaction (``BEGIN IMMEDIATE``): take the oldest pending
envelopes, validate and execute them in order (`Executor`), store them with their codes, apply
their writes, append the block header and the orderer's signature, delete them from ``pending``,
and commit. Either all of that is on disk or none of it is, so a process killed in the middle of a
block (kill -9, power cut) leaves the pending envelopes to the next cutter and nothing half-applied.

What the orderer signs is the canonical JSON header::

    {"channel", "merkle_root", "number", "orderer", "prev_hash", "timestamp_ms", "tx_count"}
    (+ "ca_sha256" in block 0)

``prev_hash`` chains blocks; ``merkle_root`` (RFC 6962) covers every transaction's envelope,
creator signature, validation code, result and write set; ``orderer`` is the SHA-256 of the
orderer's certificate, stored in ``certs``. In Fabric the validation flags are unsigned peer
metadata; here ordering and validation happen in the same step, so the orderer signs both.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from consortium.canonical import canonical_json, sha256_hex
from consortium.identity import Identity
from consortium.ledger.embedded.execute import AUTHENTIC_FAILURES, Executor, Outcome
from consortium.ledger.embedded.merkle import merkle_root

__all__ = ["GENESIS_PREV", "BlockPolicy", "cut_block", "make_header", "seen_in_db"]

GENESIS_PREV = "0" * 64


@dataclass(frozen=True)
class BlockPolicy:
    """When to cut: as soon as ``max_txs`` are pending, or when the oldest waited ``max_wait_ms``.

    A short wait lets concurrent submitters share one block (one fsync, one orderer signature)
    instead of each paying for its own.
    """

    max_txs: int = 500
    max_wait_ms: int = 2


def make_header(
    *,
    channel: str,
    number: int,
    prev_hash: str,
    root: str,
    count: int,
    orderer: Identity,
    ca_sha256: str | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, object]:
    """The header dictionary the orderer signs."""
    header: dict[str, object] = {
        "channel": channel,
        "merkle_root": root,
        "number": number,
        "orderer": orderer.cert_sha256,
        "prev_hash": prev_hash,
        "timestamp_ms": time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms,
        "tx_count": count,
    }
    if ca_sha256 is not None:
        header["ca_sha256"] = ca_sha256
    return header


def seen_in_db(conn: sqlite3.Connection) -> Callable[[str], bool]:
    """``seen_before`` for a live ledger: an authentic transaction with that id is stored."""
    marks = ",".join("?" * len(AUTHENTIC_FAILURES))
    sql = f"SELECT 1 FROM txs WHERE tx_id = ? AND code NOT IN ({marks}) LIMIT 1"

    def seen(tx_id: str) -> bool:
        return conn.execute(sql, (tx_id, *AUTHENTIC_FAILURES)).fetchone() is not None

    return seen


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
    return (0, GENESIS_PREV) if row is None else (int(row[0]) + 1, str(row[1]))


def cut_block(
    conn: sqlite3.Connection,
    executor: Executor,
    orderer: Identity,
    batch: list[tuple[int, bytes, bytes]],
    ca_sha256: str | None = None,
    checked: dict[int, bool | None] | None = None,
) -> tuple[int, list[Outcome]]:
    """Validate, execute and append ``batch`` (seq, envelope, signature) as the next block.

    ``checked`` holds signature verdicts this process already computed for pending rows (by
    ``seq``; pending rows never change). The caller holds the write transaction and commits it.
    """
    number, prev_hash = _head(conn)
    executor.ids.clear()
    # The block time, taken before validating: certificates and transaction timestamps are judged
    # against it, and the header carries it so that a replay judges them the same way.
    block_ms = time.time_ns() // 1_000_000
    executor.block_ms = block_ms
    known = checked or {}
    outcomes = [
        executor.execute(number, i, env, sig, known.get(seq))
        for i, (seq, env, sig) in enumerate(batch)
    ]
    conn.executemany(
        "INSERT INTO txs (block_number, tx_index, tx_id, envelope, signature, code, message, "
        "result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (number, i, o.tx_id, env, sig, o.code, o.message, o.result)
            for i, ((_, env, sig), o) in enumerate(zip(batch, outcomes, strict=True))
        ],
    )
    seqs = [(seq, number, i) for i, (seq, _, _) in enumerate(batch) if seq >= 0]
    conn.executemany("INSERT INTO receipts (seq, block_number, tx_index) VALUES (?, ?, ?)", seqs)
    conn.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s, _, _ in seqs])
    header = make_header(
        channel=executor.channel,
        number=number,
        prev_hash=prev_hash,
        root=merkle_root([o.leaf for o in outcomes]),
        count=len(outcomes),
        orderer=orderer,
        ca_sha256=ca_sha256,
        timestamp_ms=block_ms,
    )
    data = canonical_json(header)
    conn.execute(
        "INSERT OR IGNORE INTO certs (sha256, pem) VALUES (?, ?)",
        (orderer.cert_sha256, orderer.cert_pem),
    )
    conn.execute(
        "INSERT INTO blocks (number, header, hash, signature) VALUES (?, ?, ?, ?)",
        (number, data, hashlib.sha256(data).hexdigest(), orderer.sign(data)),
    )
    return number, outcomes


def block_hash(header: bytes) -> str:
    """Hex SHA-256 of a stored header."""
    return sha256_hex(header)
