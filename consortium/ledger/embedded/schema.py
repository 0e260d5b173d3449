"""The SQLite file of the embedded ledger: tables, pragmas, connections.

Ledger data (covered by hashes and signatures, checked by `verify_ledger`):
  ``blocks``  one row per block: canonical-JSON header, its SHA-256, the orderer's signature;
  ``txs``     every ordered transaction (valid or not): signed envelope, creator signature,
              validation code, message and the contract's result;
  ``state``   the world state: value and version (block, tx) of each key;
  ``certs``   orderer certificates by SHA-256 (content-addressed, so tampering is visible).
Local bookkeeping (not ledger data):
  ``pending`` signed envelopes waiting to be ordered;
  ``receipts`` which block/tx a pending submission became, so that `submit` can return.

WAL mode lets readers (followers, queries) run while one process cuts a block; writers are
serialized by SQLite's write lock, which is what makes one block at a time safe across processes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

__all__ = ["SCHEMA", "connect"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
  number INTEGER PRIMARY KEY, header BLOB NOT NULL, hash TEXT NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
  block_number INTEGER NOT NULL, tx_index INTEGER NOT NULL, tx_id TEXT NOT NULL,
  envelope BLOB NOT NULL, signature BLOB NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
  result BLOB NOT NULL, PRIMARY KEY (block_number, tx_index)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS txs_by_id ON txs (tx_id);
CREATE TABLE IF NOT EXISTS state (
  key TEXT PRIMARY KEY, value BLOB NOT NULL, block INTEGER NOT NULL, tx INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS certs (sha256 TEXT PRIMARY KEY, pem TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, envelope BLOB NOT NULL, signature BLOB NOT NULL,
  queued_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (
  seq INTEGER PRIMARY KEY, block_number INTEGER NOT NULL, tx_index INTEGER NOT NULL);
"""

# How long a process waits for another one's write lock before giving up. Cutting a full block
# takes well under a second; this is generous so that a busy machine does not fail submissions.
BUSY_TIMEOUT_S = 60.0


def connect(
    path: Path | str, *, create: bool = False, sync: Literal["normal", "full"] = "normal"
) -> sqlite3.Connection:
    """Open the ledger file in autocommit mode (transactions are explicit ``BEGIN``s).

    ``sync="normal"`` (WAL with synchronous=NORMAL): a committed block survives the death of any
    process (kill -9) because it is in the WAL before the commit returns; a power cut may lose
    the last blocks not yet synced (never corrupt the file). ``sync="full"`` also fsyncs every
    commit, surviving power cuts, at one fsync per block (`bench/ledger.py --sync full` shows the
    cost; docs/decisions/0003-embedded-ledger.md).
    """
    target = Path(path)
    if not create and str(path) != ":memory:" and not target.is_file():
        raise FileNotFoundError(f"no ledger at {target}: run `consortium init` first")
    if create and str(path) != ":memory:":
        target.parent.mkdir(parents=True, exist_ok=True)
    # Shared across threads of one client: `EmbeddedLedger` serializes its use with a lock.
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    if create:
        conn.executescript(SCHEMA)
    return conn
