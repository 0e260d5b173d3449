"""`verify_ledger`: re-check an embedded ledger from its genesis block, trusting only the CA.

For every block, in order: the header is canonical JSON whose SHA-256 is the stored hash; it
follows the previous block's hash; it is signed (low-S ECDSA) by an orderer certificate issued by
the consortium CA; its transactions are numbered 0..n-1. Every transaction is then replayed through
the same `Executor` that committed it, on a fresh in-memory world state: signature, certificate
chain, transaction id, duplicate check and the contract must give the stored code, message and
result, and the Merkle root of the replayed leaves must be the header's. Then nothing may say the
chain goes further than its last block (an anchor, transactions stored for a later block, a world
state key written by one): that is reported as the first missing block. At the end the replayed
world state (value and version of every key) must equal the stored one. The first difference is
reported with the block, transaction or key it is in.

Signature checks dominate the cost, so they can run in a process pool (``workers``) a window ahead
of the replay; the replay itself is sequential, as it must be.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from consortium.canonical import canonical_json, sha256_hex
from consortium.ledger.base import VALID, Contract
from consortium.ledger.embedded.certs import CertValidator
from consortium.ledger.embedded.execute import Executor, Outcome
from consortium.ledger.embedded.merkle import merkle_root
from consortium.ledger.embedded.orderer import GENESIS_PREV
from consortium.ledger.embedded.schema import SCHEMA, connect
from consortium.ledger.embedded.sigcheck import Verdict, precheck

__all__ = ["VerifyFailure", "VerifyReport", "verify_ledger"]

Progress = Callable[[int, int], None]
_WINDOW = 500  # transactions per signature-checking job of the pool


# what an auditor does when the anchor shows the file was changed after it was verified
_AFTER_TAMPERING = (
    "stop the nodes that use this file, keep it for the investigation, and restore the ledger "
    "from a backup or another member's copy that verifies against the same anchor"
)


class VerifyFailure(BaseModel):
    """Where verification failed: a block (and transaction), or a world-state key."""

    block: int | None = None
    tx_index: int | None = None
    tx_id: str | None = None
    key: str | None = None
    reason: str

    def describe(self) -> str:
        """One line naming the place and the reason."""
        where = []
        if self.block is not None:
            where.append(f"block {self.block}")
        if self.tx_index is not None:
            where.append(
                f"transaction {self.tx_index}" + (f" ({self.tx_id})" if self.tx_id else "")
            )
        if self.key is not None:
            where.append(f"state key {self.key!r}")
        return f"{', '.join(where) or 'ledger'}: {self.reason}"


class VerifyReport(BaseModel):
    """Summary of a verification run; ``failure`` is the first problem found, if any."""

    ok: bool
    blocks: int = 0
    transactions: int = 0
    valid: int = 0
    invalid: int = 0
    codes: dict[str, int] = {}
    members: int = 0
    revoked_members: int = 0
    head_hash: str = ""  # hash of the last block: record it outside the file as an anchor
    elapsed_ms: int = 0
    failure: VerifyFailure | None = None


class _Failed(Exception):
    def __init__(self, failure: VerifyFailure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


def _printable(value: Any) -> Any:
    """Strings with undecodable bytes (see `_lenient_text`) shown escaped, never unprintable."""
    return value.encode("utf-8", "backslashreplace").decode() if isinstance(value, str) else value


def _fail(reason: str, **where: Any) -> _Failed:
    where = {k: _printable(v) for k, v in where.items()}
    return _Failed(VerifyFailure(reason=_printable(reason), **where))


class _Verifier:
    """State of one verification run (kept small: the replay lives in an in-memory SQLite)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        ca_pem: str,
        contract: Contract,
        anchor: tuple[int, str] | None = None,
    ) -> None:
        self.conn = conn
        self.anchor = anchor
        self.ca_pem = ca_pem
        self.certs = CertValidator(ca_pem)
        self.replay = sqlite3.connect(":memory:", isolation_level=None)
        self.replay.executescript(SCHEMA)
        self.authentic: set[str] = set()
        self.contract = contract
        self.executor: Executor | None = None
        self.prev_hash = GENESIS_PREV
        self.report = VerifyReport(ok=False)
        self.codes: dict[str, int] = {}  # tallied here, copied to the report at the end
        self.transactions = 0

    def finish_counts(self) -> None:
        """Copy the transaction tallies into the report."""
        r = self.report
        r.transactions, r.codes = self.transactions, dict(self.codes)
        r.valid = self.codes.get(VALID, 0)
        r.invalid = r.transactions - r.valid

    def check_header(self, number: int, row: tuple[Any, ...]) -> dict[str, Any]:
        stored_number, header_bytes, stored_hash, signature = row
        if stored_number != number:
            raise _fail(f"block numbers jump from {number - 1} to {stored_number}", block=number)
        header_bytes, signature = bytes(header_bytes), bytes(signature)
        try:
            header = json.loads(header_bytes)
            if canonical_json(header) != header_bytes:
                raise ValueError("header is not canonical JSON")
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail(f"header unreadable: {exc}", block=number) from None
        if sha256_hex(header_bytes) != stored_hash:
            raise _fail("stored hash is not the SHA-256 of the header", block=number)
        if header.get("number") != number or header.get("prev_hash") != self.prev_hash:
            raise _fail("header number or previous-block hash does not chain", block=number)
        if self.anchor is not None and number == self.anchor[0] and stored_hash != self.anchor[1]:
            raise _fail(
                "block differs from the anchored one: the ledger was rewritten; "
                f"{_AFTER_TAMPERING}",
                block=number,
            )
        if number == 0:
            self._check_genesis(header)
        self._check_orderer(number, header, header_bytes, signature)
        if number > 0 and header.get("channel") != self.executor.channel:  # type: ignore[union-attr]
            raise _fail("block belongs to another channel", block=number)
        self.prev_hash = stored_hash
        return dict(header)

    def _check_orderer(
        self, number: int, header: dict[str, Any], data: bytes, signature: bytes
    ) -> None:
        row = self.conn.execute(
            "SELECT pem FROM certs WHERE sha256 = ?", (header.get("orderer"),)
        ).fetchone()
        if row is None or sha256_hex(str(row[0]).encode()) != header.get("orderer"):
            raise _fail("orderer certificate missing or altered", block=number)
        info = self.certs.info(str(row[0]))
        if not info.valid_at(int(header.get("timestamp_ms", -1))) or "orderer" not in info.roles:
            raise _fail("block signer is not an orderer of this consortium's CA", block=number)
        if not info.verify(data, signature):
            raise _fail("orderer signature does not match the header", block=number)

    def _check_genesis(self, header: dict[str, Any]) -> None:
        if header.get("ca_sha256") != sha256_hex(self.ca_pem.encode()):
            raise _fail("the genesis block names another CA certificate", block=0)
        self.executor = Executor(
            self.replay,
            self.contract,
            self.certs,
            str(header["channel"]),
            self.authentic.__contains__,
        )

    def replay_block(
        self, number: int, header: dict[str, Any], txs: list[tuple[Any, ...]], pre: list[Verdict]
    ) -> None:
        """Replay one block's stored transactions (``pre``: the workers' verdicts, if any)."""
        assert self.executor is not None
        if len(txs) != header.get("tx_count"):
            raise _fail(
                f"{len(txs)} transactions stored, header says {header.get('tx_count')}",
                block=number,
            )
        self.executor.ids.clear()
        self.executor.block_ms = int(header["timestamp_ms"])
        leaves = []
        execute = self.executor.execute
        self.replay.execute("BEGIN")
        for i, (_, index, tx_id, env, sig, code, message, result) in enumerate(txs):
            canonical, sig_ok = pre[i]
            out = execute(number, i, bytes(env), bytes(sig), sig_ok, canonical)
            problem = _difference(i, index, tx_id, code, message, bytes(result), out)
            if problem:
                raise _fail(problem, block=number, tx_index=i, tx_id=str(tx_id))
            leaves.append(out.leaf)
            self._count(out.code)
        self.replay.execute("COMMIT")
        self.authentic.update(self.executor.ids)
        if merkle_root(leaves) != header.get("merkle_root"):
            raise _fail("Merkle root of the transactions differs from the header", block=number)

    def _count(self, code: str) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1
        self.transactions += 1

    def compare_state(self) -> None:
        sql = "SELECT key, value, block, tx FROM state ORDER BY key"
        stored, replayed = self.conn.execute(sql), self.replay.execute(sql)
        for mine, theirs in _zip_longest(replayed, stored):
            if mine != theirs:
                key = (theirs or mine)[0]
                if mine and theirs and mine[0] != theirs[0]:
                    key = min(str(mine[0]), str(theirs[0]))
                raise _fail("stored world state differs from the replay", key=str(key))
        for (value,) in self.replay.execute(
            "SELECT value FROM state WHERE key >= 'member/' AND key < 'member0'"
        ):
            self.report.members += 1
            if b'"status":"revoked"' in bytes(value):
                self.report.revoked_members += 1


def _difference(
    i: int, index: Any, tx_id: Any, code: Any, message: Any, result: bytes, out: Outcome
) -> str:
    """Why a stored transaction row disagrees with its replay ("" if it does not)."""
    if index != i:
        return "transaction indexes are not 0..n-1"
    if out.tx_id != tx_id:
        return "stored transaction id differs from the envelope's"
    if out.code != code or out.message != message:
        return f"stored code {code!r} but replay gives {out.code!r} ({out.message})"
    if out.result != result:
        return "stored contract result differs from the replay"
    return ""


def _zip_longest(a: Iterator[Any], b: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    from itertools import zip_longest

    return zip_longest((tuple(r) for r in a), (tuple(r) for r in b))


_BLOCKS = "SELECT number, header, hash, signature FROM blocks ORDER BY number"
# Every transaction row in one pass, in block order (the primary key's order: no sort needed).
_TXS = (
    "SELECT block_number, tx_index, tx_id, envelope, signature, code, message, result FROM txs "
    "ORDER BY block_number, tx_index"
)


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def verify_ledger(
    path: Path | str,
    ca_cert: str | Path,
    contract: Contract,
    progress: Progress | None = None,
    workers: int = 0,
    anchor: tuple[int, str] | None = None,
) -> VerifyReport:
    """Verify the ledger at ``path`` against the consortium CA (PEM text, or the path of a file).

    ``progress(done_blocks, total_blocks)`` is called as blocks are checked. ``workers > 0``
    checks signatures in that many extra processes. ``anchor`` is a (block number, block hash)
    recorded outside the ledger by an earlier verification (`VerifyReport.head_hash`): the ledger
    must still hold that very block, so a file cut back or rewritten since then fails.
    """
    started = time.perf_counter()
    is_pem = isinstance(ca_cert, str) and ca_cert.lstrip().startswith("-----BEGIN")
    ca_pem = str(ca_cert) if is_pem else Path(ca_cert).read_text()
    conn = connect(path)
    # A tampered TEXT value need not be UTF-8; decoded losslessly it differs from every valid
    # string, so it fails where it is compared instead of aborting the read of all rows.
    conn.text_factory = _lenient_text
    v = _Verifier(conn, ca_pem, contract, anchor)
    pool = ProcessPoolExecutor(workers) if workers > 0 else None
    try:
        conn.execute("BEGIN")  # one consistent snapshot while others keep committing
        _run(v, conn, progress, pool, 2 * workers + 1)
        v.report.ok = True
    except _Failed as failed:
        v.report.failure = failed.failure
    finally:
        conn.execute("COMMIT")
        conn.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    v.report.elapsed_ms = int((time.perf_counter() - started) * 1000)
    return v.report


def _run(
    v: _Verifier,
    conn: sqlite3.Connection,
    progress: Progress | None,
    pool: ProcessPoolExecutor | None,
    ahead: int,
) -> None:
    total = int(conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])
    if total == 0:
        raise _fail("the ledger has no genesis block")
    blocks = _blocks_with_txs(conn)
    for number, (row, txs, pre) in enumerate(_with_verdicts(blocks, pool, ahead)):
        try:
            v.replay_block(number, v.check_header(number, row), txs, pre)
        except _Failed:
            raise
        except Exception as exc:  # a tampered row can break decoding anywhere: name the block
            raise _fail(f"unreadable data: {type(exc).__name__}: {exc}", block=number) from None
        v.report.blocks += 1
        if progress is not None:
            progress(number + 1, total)
    _check_chain_end(v, conn, v.report.blocks - 1)
    v.report.head_hash = v.prev_hash
    v.finish_counts()
    stored_txs = int(conn.execute("SELECT COUNT(*) FROM txs").fetchone()[0])
    if stored_txs != v.report.transactions:
        raise _fail(f"{stored_txs - v.report.transactions} stored transaction(s) are in no block")
    try:
        v.compare_state()
    except _Failed:
        raise
    except Exception as exc:
        raise _fail(f"unreadable world state: {type(exc).__name__}: {exc}") from None


def _check_chain_end(v: _Verifier, conn: sqlite3.Connection, head: int) -> None:
    """Fail if anything says the chain went beyond ``head``: the anchor, transactions stored for
    a later block, or world-state keys written by one. Each names the first missing block."""
    gone = head + 1
    if v.anchor is not None and v.anchor[0] > head:
        raise _fail(
            f"missing: the chain ends at block {head}, but the anchor records block "
            f"{v.anchor[0]} as verified before: the ledger was cut back; {_AFTER_TAMPERING}",
            block=gone,
        )
    # typeof: a tampered non-integer number sorts above every integer in SQLite; the checks
    # after this one report it where it is
    row = conn.execute(
        "SELECT block_number, COUNT(*) FROM txs WHERE typeof(block_number) = 'integer' "
        "AND block_number > ? GROUP BY block_number ORDER BY block_number DESC LIMIT 1",
        (head,),
    ).fetchone()
    if row is not None:
        stored = f"{row[1]} transaction(s) of block {row[0]} are stored without its header"
        raise _fail(_missing(head, stored, int(row[0])), block=gone)
    row = conn.execute(
        "SELECT key, block, tx FROM state WHERE typeof(block) = 'integer' AND block > ? "
        "ORDER BY block DESC, tx DESC, key LIMIT 1",
        (head,),
    ).fetchone()
    if row is not None:
        written = f"the world state holds this key written by block {row[1]} (transaction {row[2]})"
        reason = _missing(head, written, int(row[1]), "or the world state was altered")
        raise _fail(reason, block=gone, key=str(row[0]))


def _missing(head: int, evidence: str, last: int, alternative: str = "") -> str:
    """Why blocks ``head + 1 .. last`` are missing (``evidence``), and what the auditor does."""
    first = head + 1
    span = f"block {first} was" if first == last else f"blocks {first} to {last} were"
    lost = f"{span} deleted or lost (e.g. with a damaged disk)" + (
        f", {alternative}" if alternative else ""
    )
    return (
        f"missing: the chain ends at block {head}, but {evidence}: {lost}; stop the nodes that "
        "use this file, keep it for the investigation, and restore the ledger from a backup or "
        f"another member's copy that verifies and holds block {first}"
    )


Block = tuple[tuple[Any, ...], list[tuple[Any, ...]]]


def _blocks_with_txs(conn: sqlite3.Connection) -> Iterator[Block]:
    """Each stored block row with its transaction rows (as in `_TXS`), read with two
    cursors walking ``blocks`` and ``txs`` in step. A transaction row whose block number names no
    block is in no group; the final count of stored transactions catches it."""
    groups = groupby(conn.execute(_TXS), key=itemgetter(0))
    group = next(groups, None)
    for row in conn.execute(_BLOCKS):
        while group is not None and group[0] < row[0]:
            group = next(groups, None)
        txs: list[tuple[Any, ...]] = []
        if group is not None and group[0] == row[0]:
            txs = list(group[1])
            group = next(groups, None)
        yield tuple(row), txs


def _with_verdicts(
    blocks: Iterator[Block], pool: ProcessPoolExecutor | None, ahead: int
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[Verdict]]]:
    """Blocks with their transactions and (if a pool is given) the workers' verdicts.

    Up to ``ahead`` windows of about `_WINDOW` transactions are being checked by the pool while
    the replay consumes the oldest, so signature checks overlap with the sequential replay.
    """
    if pool is None:
        for row, txs in blocks:
            yield row, txs, [(False, None)] * len(txs)  # nothing known: the replay checks all
        return
    in_flight: deque[tuple[list[Block], Future[list[Verdict]]]] = deque()
    while True:
        while len(in_flight) < ahead:
            window = _next_window(blocks)
            if not window:
                break
            items = [(t[3], t[4]) for _, txs in window for t in txs]
            in_flight.append((window, pool.submit(precheck, items)))
        if not in_flight:
            return
        done, future = in_flight.popleft()
        try:
            verdicts = iter(future.result())
        except Exception:  # a lost worker only loses the shortcut: the replay checks everything
            verdicts = iter([(False, None)] * sum(len(txs) for _, txs in done))
        for row, txs in done:
            yield row, txs, [next(verdicts) for _ in txs]


def _next_window(blocks: Iterator[Block]) -> list[Block]:
    window: list[Block] = []
    size = 0
    for block in blocks:
        window.append(block)
        size += len(block[1])
        if size >= _WINDOW:
            break
    return window
