"""Tampering: any single changed byte of a stored block, transaction, signature, certificate or
world-state row is caught by `verify_ledger`, which names the block, transaction or key."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consortium.config import ConsortiumConfig
from consortium.ledger.embedded.verify import verify_ledger

from .conftest import OpenAs
from .kv_contract import KVContract

# (table, columns that may be altered, columns that identify the row)
TARGETS = {
    "blocks": (["header", "hash", "signature"], ["number"]),
    "txs": (
        ["tx_id", "envelope", "signature", "code", "message", "result", "block_number", "tx_index"],
        ["block_number", "tx_index"],
    ),
    "state": (["key", "value", "block", "tx"], ["key"]),
    "certs": (["pem"], ["sha256"]),
}


def _alter(value: object, position: int, new_byte: int) -> object:
    if isinstance(value, int):
        return value + 1000 + new_byte  # beyond every real index: no key collision
    raw = bytearray(value if isinstance(value, bytes) else str(value).encode())
    position %= len(raw)
    raw[position] = new_byte if new_byte != raw[position] else (new_byte + 1) % 256
    if isinstance(value, bytes):
        return bytes(raw)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return bytes(raw)  # SQLite keeps it as a BLOB: still the same bytes but one


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    table=st.sampled_from(sorted(TARGETS)),
    row_pick=st.integers(min_value=0, max_value=10_000),
    column_pick=st.integers(min_value=0, max_value=100),
    position=st.integers(min_value=0, max_value=100_000),
    new_byte=st.integers(min_value=0, max_value=255),
)
def test_any_single_byte_change_is_caught_and_located(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    table: str,
    row_pick: int,
    column_pick: int,
    position: int,
    new_byte: int,
) -> None:
    source, ca = sealed
    target = Path(tempfile.mkdtemp(dir=tmp_path)) / "ledger.sqlite"  # fresh: no stale -wal file
    shutil.copyfile(source, target)
    columns, ident = TARGETS[table]
    column = columns[column_pick % len(columns)]
    with sqlite3.connect(target) as conn:
        rows = conn.execute(f"SELECT {', '.join(ident)}, {column} FROM {table}").fetchall()
        row = rows[row_pick % len(rows)]
        *where, value = row
        if value in ("", b""):
            return  # nothing to change in an empty message
        clause = " AND ".join(f"{c} = ?" for c in ident)
        conn.execute(
            f"UPDATE {table} SET {column} = ? WHERE {clause}",
            (_alter(value, position, new_byte), *where),
        )
    report = verify_ledger(target, ca, KVContract())
    assert not report.ok
    failure = report.failure
    assert failure is not None
    if table == "blocks":
        assert failure.block == where[0]
    elif table == "txs" and column not in ("block_number", "tx_index"):
        assert failure.block == where[0]
        assert failure.tx_index in (where[1], None)
    elif table == "txs":
        assert failure.block is not None
    elif table == "state":
        assert failure.key is not None
    else:
        assert failure.block is not None
    shutil.rmtree(target.parent)


def test_truncated_chain_and_foreign_ca_are_caught(
    sealed: tuple[Path, Path], tmp_path: Path, config: ConsortiumConfig
) -> None:
    source, ca = sealed
    target = tmp_path / "cut.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        conn.execute("DELETE FROM blocks WHERE number = 2")
    report = verify_ledger(target, ca, KVContract())
    assert report.failure is not None and report.failure.block == 2
    foreign = verify_ledger(source, config.ca_cert_path, KVContract())
    assert foreign.failure is not None and foreign.failure.block == 0
    assert "another CA" in foreign.failure.reason


def test_report_counts(sealed: tuple[Path, Path], open_as: OpenAs) -> None:
    report = verify_ledger(*sealed, KVContract())
    # `sealed` built: genesis (1 tx), 6 puts, 1 rejected put, 1 revoke, 1 put + 1 rejected put:
    # 5 blocks, 11 transactions, 2 rejected; members a, b, admin, ethics, of which b revoked.
    assert (report.ok, report.blocks, report.transactions) == (True, 5, 11)
    assert (report.valid, report.invalid) == (9, 2)
    assert report.codes["REJECTED_VALUE"] == 2
    assert (report.members, report.revoked_members) == (4, 1)


def test_signature_pool_gives_the_same_verdicts(sealed: tuple[Path, Path], tmp_path: Path) -> None:
    source, ca = sealed
    assert verify_ledger(source, ca, KVContract(), workers=1).ok
    target = tmp_path / "sig.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        block, index, sig = conn.execute(
            "SELECT block_number, tx_index, signature FROM txs "
            "WHERE block_number = 1 AND tx_index = 3"
        ).fetchone()
        conn.execute(
            "UPDATE txs SET signature = ? WHERE block_number = ? AND tx_index = ?",
            (sig[:-1] + bytes([sig[-1] ^ 1]), block, index),
        )
    pooled = verify_ledger(target, ca, KVContract(), workers=1).failure
    alone = verify_ledger(target, ca, KVContract()).failure
    assert pooled is not None and pooled == alone
    assert (pooled.block, pooled.tx_index) == (1, 3) and "BAD_SIGNATURE" in pooled.reason


@pytest.mark.parametrize("field, value", [("timestamp_ms", "soon"), ("tx_count", 7)])
def test_rehashed_forged_header_is_caught_by_the_orderer_signature(
    sealed: tuple[Path, Path], tmp_path: Path, field: str, value: object
) -> None:
    import hashlib
    import json

    from consortium.canonical import canonical_json

    source, ca = sealed
    target = tmp_path / "forged.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        header = json.loads(
            conn.execute("SELECT header FROM blocks WHERE number = 3").fetchone()[0]
        )
        header[field] = value
        forged = canonical_json(header)
        conn.execute(
            "UPDATE blocks SET header = ?, hash = ? WHERE number = 3",
            (forged, hashlib.sha256(forged).hexdigest()),
        )
    failure = verify_ledger(target, ca, KVContract()).failure
    assert failure is not None and failure.block == 3
