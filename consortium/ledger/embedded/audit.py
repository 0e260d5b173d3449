"""Read-only views of the embedded ledger for auditors: blocks, filtered transactions, export.

These read the SQLite file directly (no identity needed); they show what is stored. Whether what
is stored is authentic is `verify_ledger`'s job: run it before relying on an export.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from consortium.canonical import canonical_json, sha256_hex
from consortium.ledger.embedded.certs import CertValidator
from consortium.ledger.embedded.schema import connect

__all__ = [
    "AuditTx",
    "BlockSummary",
    "export_transactions",
    "member_ids",
    "read_blocks",
    "read_transactions",
]


class BlockSummary(BaseModel):
    """One block header as stored."""

    number: int
    hash: str
    prev_hash: str
    merkle_root: str
    tx_count: int
    timestamp_ms: int


class AuditTx(BaseModel):
    """One stored transaction, decoded for people and spreadsheets."""

    block_number: int
    tx_index: int
    tx_id: str
    timestamp_ms: int
    creator: str
    msp_id: str
    fn: str
    code: str
    message: str
    args: dict[str, Any]
    result: Any = None
    envelope_sha256: str
    signature: str


def read_blocks(path: Path | str, last: int | None = None) -> list[BlockSummary]:
    """Headers of the ``last`` most recent blocks (all if None), oldest first."""
    conn = connect(path)
    try:
        sql = "SELECT header, hash FROM blocks ORDER BY number DESC"
        rows = conn.execute(sql + (" LIMIT ?" if last else ""), (last,) if last else ()).fetchall()
    finally:
        conn.close()
    out = []
    for header, block_hash in reversed(rows):
        h = json.loads(header)
        out.append(
            BlockSummary(
                number=h["number"],
                hash=block_hash,
                prev_hash=h["prev_hash"],
                merkle_root=h["merkle_root"],
                tx_count=h["tx_count"],
                timestamp_ms=h["timestamp_ms"],
            )
        )
    return out


def member_ids(path: Path | str) -> list[str]:
    """The ids of the members the stored world state holds (``member/<id>``), revoked included."""
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT key FROM state WHERE key >= 'member/' AND key < 'member0' ORDER BY key"
        ).fetchall()
    finally:
        conn.close()
    return [str(key).removeprefix("member/") for (key,) in rows]


def _decode(row: tuple[Any, ...]) -> AuditTx:
    block, index, tx_id, envelope, signature, code, message, result = row
    try:
        body = json.loads(envelope)
        creator = body["creator"]
        fn, args, ts = str(body["fn"]), dict(body["args"]), int(body["timestamp_ms"])
        member, msp_id = CertValidator.member_of(creator["cert_pem"]), str(creator["msp_id"])
    except (ValueError, KeyError, TypeError):
        fn, args, ts, member, msp_id = "", {}, 0, "", ""
    try:
        value = json.loads(result)
    except ValueError:
        value = None
    return AuditTx(
        block_number=block,
        tx_index=index,
        tx_id=tx_id,
        timestamp_ms=ts,
        creator=member,
        msp_id=msp_id,
        fn=fn,
        code=code,
        message=message,
        args=args,
        result=value,
        envelope_sha256=sha256_hex(bytes(envelope)),
        signature=bytes(signature).hex(),
    )


def read_transactions(
    path: Path | str,
    *,
    start_block: int = 0,
    fn: str | None = None,
    creator: str | None = None,
    invalid_only: bool = False,
) -> Iterator[AuditTx]:
    """Stored transactions in ledger order, optionally filtered."""
    conn = connect(path)
    try:
        cursor: sqlite3.Cursor = conn.execute(
            "SELECT block_number, tx_index, tx_id, envelope, signature, code, message, result "
            "FROM txs WHERE block_number >= ? ORDER BY block_number, tx_index",
            (start_block,),
        )
        for row in cursor:
            tx = _decode(row)
            if (fn and tx.fn != fn) or (creator and tx.creator != creator):
                continue
            if invalid_only and tx.code == "VALID":
                continue
            yield tx
    finally:
        conn.close()


def export_transactions(
    txs: Iterator[AuditTx], out: io.TextIOBase | Any, fmt: Literal["jsonl", "csv"]
) -> int:
    """Write ``txs`` as JSON lines (canonical JSON) or CSV (args/result as canonical JSON).

    A CSV always has its header row, also with no transaction (an export from past the head), so
    that a spreadsheet or a script reading it finds the columns it expects."""
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(AuditTx.model_fields))
        writer.writeheader()
    for tx in txs:
        record = tx.model_dump(mode="json")
        if fmt == "jsonl":
            out.write(canonical_json(record).decode() + "\n")
        else:
            assert writer is not None
            record["args"] = canonical_json(record["args"]).decode()
            record["result"] = canonical_json(record["result"]).decode()
            writer.writerow(record)
        count += 1
    return count
