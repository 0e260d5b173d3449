"""`EmbeddedLedger`: the SQLite ledger as one member sees it (submit, evaluate, follow).

Submitting inserts the signed envelope into ``pending`` (a short write transaction), then waits
for its receipt. Every process that holds the orderer key (on one machine: every process of the
consortium directory) helps: while waiting it tries to cut the next block itself. Whoever gets
SQLite's write lock first cuts a block holding everything pending, so concurrent submitters share
blocks, and a submitter that is killed leaves its envelope to be ordered by the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from consortium.canonical import sha256_hex
from consortium.identity import Identity
from consortium.ledger.base import CommittedTx, Contract, Ledger, TxResult
from consortium.ledger.embedded.certs import CertValidator
from consortium.ledger.embedded.envelope import make_envelope
from consortium.ledger.embedded.execute import Executor, StateContext
from consortium.ledger.embedded.orderer import BlockPolicy, cut_block, seen_in_db
from consortium.ledger.embedded.schema import connect

__all__ = ["EmbeddedLedger", "create_ledger", "decode_tx"]

_RECEIPTS = (
    "SELECT r.seq, t.block_number, t.tx_id, t.code, t.message, t.result FROM receipts r "
    "JOIN txs t ON t.block_number = r.block_number AND t.tx_index = r.tx_index "
    "WHERE r.seq IN ({})"
)
_CHUNK = 500  # SQLite's default limit on bound parameters is 999


def decode_tx(row: tuple[Any, ...]) -> CommittedTx:
    """A ``txs`` row (block, index, tx_id, envelope, code, result) as followers see it."""
    block, index, tx_id, envelope, code, result = row
    try:
        body = json.loads(envelope)
        fn, args, ts = str(body["fn"]), dict(body["args"]), int(body["timestamp_ms"])
        creator = CertValidator.member_of(body["creator"]["cert_pem"])
    except (ValueError, KeyError, TypeError):
        fn, args, ts, creator = "", {}, 0, ""
    try:
        value = json.loads(result)
    except ValueError:
        value = None
    return CommittedTx(
        block_number=block,
        tx_index=index,
        tx_id=tx_id,
        fn=fn,
        args=args,
        creator=creator,
        timestamp_ms=ts,
        code=code,
        result=value,
    )


class EmbeddedLedger(Ledger):
    """A member's client of the embedded ledger; orders blocks too when given the orderer key."""

    def __init__(
        self,
        path: Path | str,
        *,
        identity: Identity,
        contract: Contract,
        ca_cert_pem: str,
        channel: str,
        orderer: Identity | None = None,
        policy: BlockPolicy | None = None,
        timeout_s: float = 120.0,
        sync: Literal["normal", "full"] = "normal",
    ) -> None:
        self.path = Path(path)
        self.identity = identity
        self.contract = contract
        self.channel = channel
        self.orderer = orderer
        self.policy = policy or BlockPolicy()
        self.timeout_s = timeout_s
        self._conn = connect(self.path, sync=sync)
        self._lock = threading.RLock()
        self._certs = CertValidator(ca_cert_pem)
        self._cutter = _CutterLock(Path(f"{self.path}.cutter.lock"))
        self._executor = Executor(
            self._conn, contract, self._certs, channel, seen_in_db(self._conn)
        )

    # -- submitting ------------------------------------------------------------------------
    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        """Sign, order and commit one transaction; returns once it is committed."""
        return self.submit_many([(fn, args)])[0]

    def submit_many(self, calls: list[tuple[str, dict[str, Any]]]) -> list[TxResult]:
        """Submit several transactions at once (one insert, usually one block); results in order."""
        signed = [make_envelope(self.identity, self.channel, fn, args) for fn, args in calls]
        now = time.time_ns() // 1_000_000
        sql = "INSERT INTO pending (envelope, signature, queued_ms) VALUES (?, ?, ?)"
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursors = [self._conn.execute(sql, (env, sig, now)) for env, sig, _ in signed]
                seqs = [int(c.lastrowid or 0) for c in cursors]
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return self._await(seqs)  # outside the lock: other threads may submit meanwhile

    def _await(self, seqs: list[int]) -> list[TxResult]:
        deadline = time.monotonic() + self.timeout_s
        done: dict[int, TxResult] = {}
        pause = 0.001
        while True:
            done.update(self._receipts([s for s in seqs if s not in done]))
            if len(done) == len(seqs):
                return [done[s] for s in seqs]
            if self.orderer is not None and self.cut():
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(seqs) - len(done)} transaction(s) not committed after "
                    f"{self.timeout_s:.0f} s: is a process holding the orderer key running?"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def _receipts(self, seqs: list[int]) -> dict[int, TxResult]:
        found: dict[int, TxResult] = {}
        for i in range(0, len(seqs), _CHUNK):
            part = seqs[i : i + _CHUNK]
            sql = _RECEIPTS.format(",".join("?" * len(part)))
            with self._lock:
                rows = self._conn.execute(sql, part).fetchall()
            for seq, block, tx_id, code, message, result in rows:
                found[int(seq)] = TxResult(
                    tx_id=tx_id,
                    code=code,
                    message=message,
                    block_number=block,
                    result=json.loads(result),
                )
        return found

    def cut(self, *, force: bool = False) -> bool:
        """Cut one block from pending envelopes if the policy says so; True if a block was cut.

        One process at a time is the cutter (an advisory file lock, released by the kernel if
        the process dies). It checks the signatures of the pending envelopes *before* taking
        SQLite's write lock, so that other processes keep inserting envelopes meanwhile, then
        validates, executes and commits the block under the write lock.
        """
        if self.orderer is None:
            raise PermissionError("this ledger client has no orderer key")
        with self._lock:
            if not self._cutter.acquire():
                return False
            try:
                rows = self._pending()
                if not rows or (not force and not self._due(rows)):
                    return False
                checked = {int(r[0]): self._check_signature(r[1], r[2]) for r in rows}
                return self._commit_block(checked)
            finally:
                self._cutter.release()

    def _pending(self) -> list[tuple[Any, ...]]:
        return self._conn.execute(
            "SELECT seq, envelope, signature, queued_ms FROM pending ORDER BY seq LIMIT ?",
            (self.policy.max_txs,),
        ).fetchall()

    def _due(self, rows: list[tuple[Any, ...]]) -> bool:
        now = time.time_ns() // 1_000_000
        return len(rows) >= self.policy.max_txs or now - int(rows[0][3]) >= self.policy.max_wait_ms

    def _check_signature(self, envelope: bytes, signature: bytes) -> bool | None:
        try:
            cert_pem = json.loads(envelope)["creator"]["cert_pem"]
            return self._certs.info(str(cert_pem)).verify(bytes(envelope), bytes(signature))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: the executor decides the code under the write lock

    def _commit_block(self, checked: dict[int, bool | None]) -> bool:
        conn = self._conn
        assert self.orderer is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self._pending()  # again, under the lock: the authoritative batch
            if not rows:
                conn.execute("ROLLBACK")
                return False
            batch = [(int(s), bytes(e), bytes(g)) for s, e, g, _ in rows]
            cut_block(conn, self._executor, self.orderer, batch, checked=checked)
            conn.execute("COMMIT")
            return True
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- reading ---------------------------------------------------------------------------
    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        """Run a read-only contract query against a consistent snapshot of the world state."""
        creator = self._certs.creator(self.identity.cert_pem, self.identity.msp_id)
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                ctx = StateContext(
                    self._conn, secrets.token_hex(32), time.time_ns() // 1_000_000, creator
                )
                return self.contract.query(ctx, fn, args)
            finally:
                self._conn.execute("COMMIT")

    def height(self) -> int:
        """Number of committed blocks."""
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM blocks").fetchone()
        return int(row[0])

    def transactions(self, start_block: int = 0) -> Iterator[CommittedTx]:
        """Committed transactions from ``start_block`` on, in order, read in pages.

        A client holding the orderer key first orders envelopes left pending (e.g. by a submitter
        that died before its block was cut), so polling followers keep the ledger moving.
        """
        if self.orderer is not None:
            self.cut()
        block, index = start_block, -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT block_number, tx_index, tx_id, envelope, code, result FROM txs "
                    "WHERE (block_number, tx_index) > (?, ?) AND block_number >= ? "
                    "ORDER BY block_number, tx_index LIMIT 1000",
                    (block, index, start_block),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield decode_tx(row)
            block, index = int(rows[-1][0]), int(rows[-1][1])

    def follow(
        self,
        checkpoint_path: Path | str,
        poll_s: float = 0.5,
        until: Callable[[], bool] | None = None,
    ) -> Iterator[CommittedTx]:
        """Committed transactions forever (or until ``until()``), resuming after a restart.

        The checkpoint file holds the next block to process; it is advanced (atomically) once the
        caller has taken every transaction of a block and asks for more. A process killed in the
        middle of a block sees that block again: handlers must be idempotent per transaction.
        """
        path = Path(checkpoint_path)
        next_block = int(path.read_text()) if path.is_file() else 0
        while True:
            current = -1
            for tx in self.transactions(next_block):
                if tx.block_number != current and current >= 0:
                    _write_checkpoint(path, current + 1)
                current = tx.block_number
                yield tx
            if current >= 0:
                next_block = current + 1
                _write_checkpoint(path, next_block)
            if until is not None and until():
                return
            time.sleep(poll_s)

    def close(self) -> None:
        """Close the SQLite connection."""
        self._conn.close()
        self._cutter.close()


class _CutterLock:
    """A non-blocking advisory lock (flock) naming the one process that cuts blocks right now."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def _write_checkpoint(path: Path, next_block: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(next_block))
    os.replace(tmp, path)


def create_ledger(
    path: Path,
    *,
    channel: str,
    ca_cert_pem: str,
    orderer: Identity,
    creator: Identity,
    contract: Contract,
    fn: str,
    args: dict[str, Any],
) -> TxResult:
    """Create the ledger file with its genesis block: one transaction ``fn(args)`` by ``creator``.

    Refuses an existing file. The genesis block records the CA's SHA-256, so a verifier handed
    another CA certificate is told so.
    """
    if path.exists():
        raise FileExistsError(f"a ledger already exists at {path}")
    conn = connect(path, create=True)
    try:
        certs = CertValidator(ca_cert_pem)
        executor = Executor(conn, contract, certs, channel, lambda _tx_id: False)
        env, sig, _ = make_envelope(creator, channel, fn, args)
        conn.execute("BEGIN IMMEDIATE")
        _, outcomes = cut_block(
            conn, executor, orderer, [(-1, env, sig)], ca_sha256=sha256_hex(ca_cert_pem.encode())
        )
        result = outcomes[0]
        if result.code != "VALID":
            conn.execute("ROLLBACK")
        else:
            conn.execute("COMMIT")
    finally:
        conn.close()
    if result.code != "VALID":
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        raise ValueError(f"genesis transaction rejected: {result.code}: {result.message}")
    return TxResult(
        tx_id=result.tx_id, code=result.code, block_number=0, result=json.loads(result.result)
    )
