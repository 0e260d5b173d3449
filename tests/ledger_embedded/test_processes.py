"""Several processes on one machine: concurrent submitters, and kill -9 in the middle of a block.

Each child process opens its own ledger client (as the node processes of a simulation do) and
appends the id of every transaction whose commit it saw acknowledged to a file, flushed at once,
so that the parent knows exactly which acknowledgements were given before a kill.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

from consortium.config import ConsortiumConfig
from consortium.ledger.base import TxContext
from consortium.ledger.embedded import BlockPolicy, EmbeddedLedger
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import open_ledger

from .kv_contract import KVContract

_CTX = mp.get_context("fork")


class _SlowKV(KVContract):
    """KVContract that, on the value "slow", marks a file and sleeps: a block in progress."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if args.get("value") == "slow":
            self.marker.touch()
            time.sleep(30)
        return super().invoke(ctx, fn, args)


def _client(root: Path, member: str, contract: KVContract | None = None) -> EmbeddedLedger:
    ledger = open_ledger(ConsortiumConfig.load(root), member, contract=contract or KVContract())
    assert isinstance(ledger, EmbeddedLedger)
    return ledger


def _submitter(root: Path, member: str, tag: str, count: int, acks: Path, go: Any) -> None:
    ledger = _client(root, member)
    go.wait()
    with acks.open("a") as out:
        for i in range(count):
            result = ledger.submit("Put", {"key": f"{tag}/{i}", "value": str(i)})
            out.write(f"{result.tx_id} {result.code}\n")
            out.flush()


def _acked(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def _committed(config: ConsortiumConfig) -> Counter[str]:
    with sqlite3.connect(config.ledger_path) as conn:
        return Counter(row[0] for row in conn.execute("SELECT tx_id FROM txs WHERE code = 'VALID'"))


def test_four_processes_submit_1000_transactions_at_once(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    go = _CTX.Event()
    procs = [
        _CTX.Process(
            target=_submitter,
            args=(config.root, member, f"p{n}", 250, tmp_path / f"acks{n}", go),
        )
        for n, member in enumerate(["a", "b", "a", "b"])
    ]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    acked = [tx for n in range(4) for tx in _acked(tmp_path / f"acks{n}")]
    committed = _committed(config)
    assert len(acked) == 1000 and set(acked) <= set(committed)
    assert all(count == 1 for count in committed.values())  # each in exactly one block
    assert sum(committed.values()) == 1000 + 1  # plus the genesis Bootstrap
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok and report.valid == 1001, report.failure


def test_kill_9_of_a_submitter_loses_no_acknowledged_transaction(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    go = _CTX.Event()
    acks = tmp_path / "acks"
    proc = _CTX.Process(target=_submitter, args=(config.root, "a", "k", 100_000, acks, go))
    proc.start()
    go.set()
    while len(_acked(acks)) < 30:
        time.sleep(0.01)
    os.kill(proc.pid or 0, signal.SIGKILL)
    proc.join()
    survivor = _client(config.root, "b")
    survivor.policy = BlockPolicy(max_txs=500, max_wait_ms=0)
    list(survivor.transactions(0))  # a polling follower orders what the dead process left
    with sqlite3.connect(config.ledger_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
    committed = _committed(config)
    assert set(_acked(acks)) <= set(committed)
    assert all(count == 1 for count in committed.values())
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok, report.failure


def _slow_orderer(root: Path, marker: Path) -> None:
    ledger = _client(root, "a", _SlowKV(marker))
    ledger.policy = BlockPolicy(max_txs=500, max_wait_ms=0)
    ledger.submit_many(
        [("Put", {"key": f"s{i}", "value": "slow" if i == 5 else "v"}) for i in range(10)]
    )


def test_kill_9_of_the_orderer_in_the_middle_of_a_block(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    before = _client(config.root, "b")
    acked = before.submit("Put", {"key": "first", "value": "1"})
    marker = tmp_path / "cutting"
    proc = _CTX.Process(target=_slow_orderer, args=(config.root, marker))
    proc.start()
    while not marker.exists():  # the orderer has executed 5 transactions of its block
        time.sleep(0.01)
    os.kill(proc.pid or 0, signal.SIGKILL)
    proc.join()
    height = before.height()
    assert height == 2  # the half-cut block left nothing behind
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok, report.failure
    # A restarted orderer picks up the envelopes the killed one had taken.
    assert before.cut(force=True)
    committed = _committed(config)
    assert committed[acked.tx_id] == 1
    assert (
        before.evaluate("Get", {"key": "s9"}) == "v"
        and before.evaluate("Get", {"key": "s5"}) == "slow"
    )
    assert all(count == 1 for count in committed.values())
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok and report.transactions == 12, report.failure
