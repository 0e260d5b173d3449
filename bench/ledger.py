"""Embedded ledger throughput, each figure beside this run's bare ECDSA P-256 verification cost.

Run: ``.venv/bin/python bench/ledger.py [--processes 4] [--txs 2000] [--batch 100] [--repeat 3]
[--sync full]``

Prints signed transactions committed per second (clients sign, the orderer validates, executes,
writes and signs blocks) and transactions verified per second (`verify_ledger`: every signature,
hash, Merkle root, certificate, plus the world-state replay), each as a ratio to the rate at which
one core does nothing but verify ECDSA P-256 signatures: every transaction needs at least one
such verification at commit and one at verification, so that rate is the single-core limit.
The contract is a minimal one (one state read, one write per transaction) so that the figures
measure the ledger, not a contract.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.canonical import canonical_json
from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.base import ContractError, TxContext
from consortium.ledger.embedded import BlockPolicy, EmbeddedLedger
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger


class BenchContract:
    """Bootstrap members; ``Record`` checks the creator is a member and writes one key."""

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if fn == "Bootstrap":
            for m in args["members"]:
                ctx.put_state(f"member/{m['member_id']}", canonical_json(m))
            return None
        if ctx.get_state(f"member/{ctx.creator.member_id}") is None:
            raise ContractError("NOT_A_MEMBER", ctx.creator.member_id)
        ctx.put_state(f"rec/{ctx.tx_id}", canonical_json(args))
        return {"ok": True}

    def query(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        return None


def bare_verify_us(rounds: int = 2000) -> float:
    """Microseconds per ECDSA P-256/SHA-256 verification of a transaction-sized message."""
    key = ec.generate_private_key(ec.SECP256R1())
    data = b"x" * 1200
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    start = time.perf_counter()
    for _ in range(rounds):
        pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    return (time.perf_counter() - start) / rounds * 1e6


def _client(root: Path, member: str, count: int, batch: int, go: Any) -> None:
    ledger = open_ledger(ConsortiumConfig.load(root), member, contract=BenchContract())
    assert isinstance(ledger, EmbeddedLedger)
    ledger.policy = BlockPolicy(max_txs=1000, max_wait_ms=5)
    go.wait()
    for start in range(0, count, batch):
        calls = [
            ("Record", {"n": i, "site": member}) for i in range(start, min(count, start + batch))
        ]
        results = ledger.submit_many(calls) if batch > 1 else [ledger.submit(*calls[0])]
        assert all(r.valid for r in results), results[0]


def commit_rate(root: Path, processes: int, per_process: int, batch: int) -> float:
    """Transactions committed per second by ``processes`` concurrent submitters."""
    ctx = mp.get_context("fork")
    go = ctx.Event()
    members = [f"h{i}" for i in range(processes)]
    procs = [ctx.Process(target=_client, args=(root, m, per_process, batch, go)) for m in members]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let every process open its ledger before the clock starts
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a submitting process failed (exit {p.exitcode})")
    return processes * per_process / (time.perf_counter() - start)


def bare_rate() -> float:
    """Bare ECDSA P-256 verifications per second on one core, measured now."""
    return 1e6 / bare_verify_us()


def _median_beside_bare(label: str, measure: Any, repeat: int) -> tuple[float, float]:
    """Run ``measure()`` (returns tx/s) ``repeat`` times, each between two bare-verify timings;
    print one row with the medians and return (rate, bare rate).

    The machine may be shared: timing the bare verification right before and after each
    repetition keeps the ratio meaningful when the load changes, and the median of the
    repetitions ignores one that another job happened to slow down.
    """
    rates, bares, loads = [], [], []
    for _ in range(repeat):
        before = bare_rate()
        rates.append(float(measure()))
        bares.append((before + bare_rate()) / 2)
        loads.append(os.getloadavg()[0])
    rate, bare = statistics.median(rates), statistics.median(bares)
    spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
    print(
        f"{label:<42} {rate:>7,.0f} tx/s ({spread:>13}) | bare verify {bare:>7,.0f}/s | "
        f"ratio {rate / bare:4.2f} | load {statistics.median(loads):4.1f}",
        flush=True,
    )
    return rate, bare


_cpu: dict[int, list[tuple[float, float]]] = {}  # workers -> (main, workers) CPU µs per tx


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _verify_rate(config: ConsortiumConfig, workers: int) -> float:
    """Verify the whole ledger; record its CPU time per transaction (which load does not change:
    the comparable figure next to the ratio)."""
    main, children = time.process_time(), _children_cpu_s()
    report = verify_ledger(
        config.ledger_path, config.ca_cert_path, BenchContract(), workers=workers
    )  # the pool is shut down (its workers reaped) when this returns
    n = report.transactions
    main, children = time.process_time() - main, _children_cpu_s() - children
    _cpu.setdefault(workers, []).append((main / n * 1e6, children / n * 1e6))
    assert report.ok, report.failure
    return n / (report.elapsed_ms / 1000)


def _print_cpu() -> None:
    start = time.process_time()
    bare = bare_verify_us()
    bare_cpu = (time.process_time() - start) / 2000 * 1e6
    for workers, runs in sorted(_cpu.items()):
        main = statistics.median(m for m, _ in runs)
        kids = statistics.median(k for _, k in runs)
        print(
            f"verify CPU per tx, {workers} signature workers: main process {main:5.1f} us, "
            f"workers {kids:5.1f} us | bare verify {bare_cpu:4.1f} us CPU ({bare:4.1f} us wall)"
        )


def _goal(name: str, rate: float, bare: float, goal: int) -> str:
    verdict = "met" if rate >= goal else "NOT met"
    return f"{name} {rate:,.0f} tx/s = {rate / bare:.2f} x bare ({goal:,} goal {verdict})"


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--txs", type=int, default=2000, help="per process and repetition")
    parser.add_argument("--single", type=int, default=100, help="per process, one at a time")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per phase (median)")
    parser.add_argument("--sync", choices=["normal", "full"], default="normal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        members = [f"h{i}" for i in range(args.processes)]
        roles = member_roles(members=members, admins=[], aggregators=[], auditors=[], verifiers=[])
        config = create_identities(root, "bench", roles)
        config.ledger.sync = args.sync
        config.save()
        bootstrap_ledger(config, "admin", contract=BenchContract())
        n, r = args.processes, args.repeat
        print(
            f"embedded ledger, {os.cpu_count()} cores, sync={args.sync}, load average "
            f"{os.getloadavg()[0]:.1f}; median of {r} (min-max); "
            "bare = one ECDSA P-256 verification on one core"
        )
        commit, commit_bare = _median_beside_bare(
            f"commit, {n} processes, submit_many({args.batch})",
            lambda: commit_rate(root, n, args.txs, args.batch),
            r,
        )
        _median_beside_bare(
            f"commit, {n} processes, one at a time",
            lambda: commit_rate(root, n, args.single, 1),
            r,
        )
        total = n * (args.txs + args.single) * r + 1
        rates = {}
        for workers in (0, 2):
            rates[workers] = _median_beside_bare(
                f"verify {total:,} tx, {workers} signature workers",
                lambda w=workers: _verify_rate(config, w),
                r,
            )
        _print_cpu()
        verify, verify_bare = max(rates.values())
        print(
            _goal("commit", commit, commit_bare, 1000)
            + " | "
            + _goal("verify", verify, verify_bare, 5000)
        )


if __name__ == "__main__":
    main()
