"""`run_simulation(SimConfig) -> SimReport`: real node processes on one consortium directory.

Each hospital and the aggregator run as separate OS processes (`consortium node run`), sharing
only the consortium directory (SQLite ledger, blob directory), exactly as on several machines
sharing a ledger. This process watches the ledger as the admin member: it evaluates every new
version on the pooled held-out rows of all hospitals (and of the honest ones only), stops at the
target metric, when every hospital has sent all the updates it planned (or can send no more,
`consortium.federation.trainer.budget_left`) and everything is sealed, or at ``max_seconds``,
then stops the nodes and writes the report (`consortium.simulate.report`).
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from consortium.simulate.config import (
    HeldOut,
    SimConfig,
    SimReport,
    SiteReport,
    StopReason,
    VersionPoint,
)
from consortium.simulate.report import rejection_reasons
from consortium.simulate.setup import ADMIN, AGGREGATOR, create_consortium, planned_updates

__all__ = ["Monitor", "run_simulation", "start_node", "stop_node", "verify_ledger_dir"]


def start_node(
    root: Path, member: str, log_dir: Path, *, test_bed: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``consortium node run`` for ``member`` as its own process (own session group);
    ``test_bed``: its node.toml may hold settings for simulations only (``--test-bed``)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{member}.log", "ab")  # noqa: SIM115 - owned by the child
    cmd = [
        sys.executable,
        "-m",
        "consortium",
        "node",
        "run",
        "--member",
        member,
        "--dir",
        str(root),
        *(["--test-bed"] if test_bed else []),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "CONSORTIUM_PARENT_PID": str(os.getpid())}  # fmt: skip
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # fmt: skip


def stop_node(proc: subprocess.Popen[bytes], *, hard: bool = False) -> None:
    """Stop a node process (SIGKILL when ``hard``), and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Monitor:
    """Watches the ledger as the admin and measures each new version on pooled held-out rows."""

    def __init__(self, root: Path, cfg: SimConfig) -> None:
        from consortium.datasets.heart import heart_cohort_table
        from consortium.node.open import cohort_from_table, open_session

        self.cfg = cfg
        self.root = root
        self.s = open_session(root, ADMIN)
        self.tests: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for site in cfg.sites:
            c = cohort_from_table(heart_cohort_table(site), "heart", 2000, cfg.holdout_fold)
            self.tests[site] = (c.X_test, c.y_test)
        self.points: list[VersionPoint] = []
        self.started = time.monotonic()
        self.nodes_up: float | None = None

    def _aurocs(self, arrays: Any) -> tuple[float | None, float | None, dict[str, float | None]]:
        """A version's AUROC on every site's held-out rows pooled, on the honest sites' pooled,
        and on each site's own."""
        from consortium.learning.evaluate import evaluate
        from consortium.learning.models import build_model, load_arrays

        model = build_model(self.s.spec(), seed=0)
        load_arrays(model, arrays)

        def auroc(sites: list[str]) -> float | None:
            X = np.concatenate([self.tests[s][0] for s in sites])
            y = np.concatenate([self.tests[s][1] for s in sites])
            return evaluate(model, X, y).auroc

        by_site = {site: auroc([site]) for site in self.cfg.sites}
        return auroc(list(self.cfg.sites)), auroc(self.honest_sites()), by_site

    def honest_sites(self) -> list[str]:
        """The sites of the honest metric: `eval_sites`, else those that do not attack (all
        of them when every site attacks)."""
        honest = list(self.cfg.eval_sites or ()) or [
            s for s in self.cfg.sites if self.cfg.attacks.get(s, "none") == "none"
        ]
        return honest or list(self.cfg.sites)

    def held_out(self) -> tuple[HeldOut, HeldOut, dict[str, HeldOut]]:
        """The rows and positives behind `VersionPoint.auroc`, `auroc_honest` and
        `auroc_by_site`."""

        def rows(sites: list[str]) -> HeldOut:
            labels = [self.tests[s][1] for s in sites]
            return HeldOut(sites=tuple(sites), n=sum(len(y) for y in labels),
                           positives=sum(int(y.sum()) for y in labels))  # fmt: skip

        by_site = {site: rows([site]) for site in self.cfg.sites}
        return rows(list(self.cfg.sites)), rows(self.honest_sites()), by_site

    def _watch_nodes(self) -> None:
        """Note when every node has read the ledger once (its follower's first save)."""
        if self.nodes_up is not None:
            return
        members = [*self.cfg.sites, AGGREGATOR]
        if all((self.root / "members" / m / "state" / "events.json").is_file() for m in members):
            self.nodes_up = time.monotonic() - self.started

    def poll(self) -> list[VersionPoint]:
        """Record every version sealed since the last poll, oldest first, and return them.

        A version sealed while the monitor measured the one before is recorded too, at the
        time it was seen: the report's versions have no gaps."""
        self._watch_nodes()
        head = int(self.s.head()["height"])
        first = self.points[-1].height + 1 if self.points else head
        new = []
        for height in range(first, head + 1):
            arrays = self.s.version(height)
            block = self.s.q("GetVersion", task_id=self.s.task_id, version=height)
            pooled, pooled_honest, by_site = self._aurocs(arrays)
            new.append(VersionPoint(
                height=height, seconds=time.monotonic() - self.started, auroc=pooled,
                auroc_honest=pooled_honest, n_updates=len(block["updates"]),
                auroc_by_site=by_site,
            ))  # fmt: skip
        self.points.extend(new)
        return new

    def done(self) -> bool:
        """Every hospital sent all it planned (or can send no more), and nothing is left to seal."""
        from consortium.federation.aggregator import short_for_good, too_stale
        from consortium.federation.trainer import budget_left

        views = self.s.q("ListUpdates", task_id=self.s.task_id)
        if any(v["status"] == "pending" for v in views):
            return False
        # Accepted updates left over are done only when their sum already fell short of the
        # required gain on the current head and the decaying requirement will not fall to it
        # (the aggregator then waits for company that won't come), or when they grew too stale
        # to enter any block.
        mem = _read_json(self.root / "members" / AGGREGATOR / "state" / "tasks" / "heart"
                         / "aggregator.json")  # fmt: skip
        task, head = self.s.task(), self.s.head()
        short = short_for_good(mem, task, head)
        left = [v for v in views if v["status"] == "accepted"
                and v["update"]["update_id"] not in short
                and not too_stale(v["update"], int(head["height"]), task)]  # fmt: skip
        if left:
            return False
        for site in self.cfg.hospitals:  # a site that only verifies sends nothing
            subs = _read_json(self.root / "members" / site / "state" / "tasks" / "heart"
                              / "submissions.json")  # fmt: skip
            # the trainer's own count; a refusal by a site's cap is final during a run
            if budget_left(subs, planned_updates(self.cfg, site), cap_fixed=True):
                return False
        return True

    def sites(self) -> list[SiteReport]:
        """Per-site counts from the ledger."""
        views = self.s.q("ListUpdates", task_id=self.s.task_id)
        out = []
        for site in self.cfg.sites:
            own = [v for v in views if v["update"]["member_id"] == site]
            reasons: dict[str, int] = {}
            for v in own:
                if v["status"] == "rejected":
                    for reason in rejection_reasons(v["endorsements"]):
                        reasons[reason] = reasons.get(reason, 0) + 1
            eps = max((v["update"]["epsilon_spent"] for v in own), key=float, default="0")
            out.append(SiteReport(
                site=site, speed=self.cfg.speeds.get(site, 1.0),
                attack=self.cfg.attacks.get(site, "none"), submitted=len(own),
                accepted=sum(v["status"] in ("accepted", "included") for v in own),
                rejected=sum(v["status"] == "rejected" for v in own), reasons=reasons,
                epsilon_spent=eps,
            ))  # fmt: skip
        return out


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text()) if path.is_file() else {}


def verify_ledger_dir(root: Path) -> bool:
    """Re-verify the whole embedded ledger (signatures, hash chain, replayed world state)."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.embedded.verify import verify_ledger
    from consortium.ledger.factory import default_contract

    config = ConsortiumConfig.load(root)
    report = verify_ledger(config.ledger_path, config.ca_cert_path.read_text(), default_contract())
    return bool(report.ok)


class _Processes:
    """Each node in its own OS process; with ``kill_every_blocks``, a random node (or the
    aggregator) is killed with SIGKILL at random points of the ledger's progress and restarted
    at once. Progress, not wall time: a fast machine that finishes sooner sees as many kills."""

    def __init__(
        self, root: Path, members: list[str], cfg: SimConfig, height: Callable[[], int]
    ) -> None:
        self.root, self.cfg, self.height = root, cfg, height
        self.procs = {m: start_node(root, m, root / "logs", test_bed=True) for m in members}
        self.rng = random.Random(cfg.seed)
        self.next_kill = self._draw(height())
        self.kills: list[str] = []
        self.order: list[str] = []

    def _draw(self, now: int) -> float:
        every = self.cfg.kill_every_blocks
        if every is None:
            return math.inf
        return now + self.rng.randint(max(1, every // 2), max(1, every + every // 2))

    def tick(self) -> None:
        for m, p in self.procs.items():
            if p.poll() is not None and p.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                raise RuntimeError(f"node {m} exited with {p.returncode}: see {self.root}/logs")
        if self.next_kill != math.inf and (now := self.height()) >= self.next_kill:
            if not self.order:  # every member once (shuffled) before any twice
                self.order = self.rng.sample(sorted(self.procs), len(self.procs))
            victim = self.order.pop()
            stop_node(self.procs[victim], hard=True)
            self.kills.append(victim)
            self.procs[victim] = start_node(self.root, victim, self.root / "logs", test_bed=True)
            self.next_kill = self._draw(now)
        time.sleep(0.5)

    def close(self) -> None:
        for p in self.procs.values():
            stop_node(p)


class _InProcess:
    """All nodes stepped in turn in this process (tests: no interpreter start-up per node)."""

    def __init__(self, root: Path, members: list[str]) -> None:
        from consortium.pole.localrun import open_nodes

        self.nodes = open_nodes(root, members)
        self.kills: list[str] = []

    def tick(self) -> None:
        from consortium.pole.localrun import step_all

        if not step_all(self.nodes):
            time.sleep(0.05)

    def close(self) -> None:
        from consortium.node.runner import Node

        for node in self.nodes:
            assert isinstance(node, Node)
            node.s.ledger.close()


def run_simulation(
    cfg: SimConfig, *, on_version: Callable[[VersionPoint], None] | None = None
) -> SimReport:
    """Run the simulation of ``cfg`` (see the module docstring) and return its report."""
    from consortium.simulate.fabric import FakePeerProcess

    base = Path(cfg.workdir) if cfg.workdir else Path(tempfile.mkdtemp(prefix="consortium-sim-"))
    peer = FakePeerProcess() if cfg.ledger == "fabric-fake" else None
    try:
        root = create_consortium(cfg, base / "consortium", peer)
        members = [*cfg.sites, AGGREGATOR]
        monitor = Monitor(root, cfg)
        driver: _Processes | _InProcess = (
            _InProcess(root, members)
            if cfg.in_process
            else _Processes(root, members, cfg, monitor.s.ledger.height)
        )
        try:
            reached, stopped = _loop(cfg, monitor, driver, peer, on_version)
        finally:
            driver.close()
        report = _report(cfg, monitor, reached, stopped, root, driver.kills)
        monitor.s.ledger.close()
        return report
    finally:
        if peer is not None:
            peer.stop()  # the fake peer never outlives the run


def _loop(
    cfg: SimConfig, monitor: Monitor, driver: _Processes | _InProcess, peer: Any,
    on_version: Callable[[VersionPoint], None] | None,
) -> tuple[float | None, StopReason]:  # fmt: skip
    """Poll versions and step the nodes until the target, done, or ``max_seconds``; returns the
    seconds to the target (None: not reached) and which of the three ended the run."""
    reached: float | None = None
    stopped: StopReason = "max_seconds"
    while time.monotonic() - monitor.started < cfg.max_seconds:
        for point in monitor.poll():
            if on_version is not None:
                on_version(point)
            hit = cfg.target_auroc is not None and (point.auroc or 0) >= cfg.target_auroc
            if hit and reached is None:
                reached = point.seconds
        if reached is not None and cfg.stop_at_target:
            stopped = "target"
            break
        if cfg.stop_when_done and monitor.done():
            stopped = "done"
            break
        if peer is not None and peer.proc is not None and peer.proc.poll() is not None:
            raise RuntimeError(f"the fake Fabric peer exited: see {monitor.root}/logs")
        driver.tick()
    monitor.poll()
    return reached, stopped


def _verify(cfg: SimConfig, root: Path) -> dict[str, Any]:
    """What can be verified of the ledger with this backend (SimReport fields)."""
    if cfg.ledger == "embedded":
        return {"ledger_verified": verify_ledger_dir(root), "ledger_check": (
            "embedded: signatures, hash chain and replayed world state of every block"
        )}  # fmt: skip
    from consortium.simulate.fabric import check_fabric_run
    from consortium.simulate.setup import TASK_ID

    check = check_fabric_run(root, ADMIN, TASK_ID)
    return {"ledger_verified": check.ok, "ledger_check": "fabric (client side): " + check.checked,
            "fabric": check}  # fmt: skip


def _report(
    cfg: SimConfig,
    monitor: Monitor,
    reached: float | None,
    stopped: StopReason,
    root: Path,
    kills: list[str],
) -> SimReport:
    from consortium.simulate.report import write_report

    last = monitor.points[-1] if monitor.points else None
    held_out, held_out_honest, held_out_by_site = monitor.held_out()
    report = SimReport(
        config=cfg, seconds=time.monotonic() - monitor.started, seconds_to_target=reached,
        stopped=stopped,
        seconds_nodes_up=monitor.nodes_up,
        final_auroc=last.auroc if last else None,
        final_auroc_honest=last.auroc_honest if last else None,
        held_out=held_out, held_out_honest=held_out_honest, held_out_by_site=held_out_by_site,
        versions=monitor.points, sites=monitor.sites(), ledger_backend=cfg.ledger,
        workdir=str(root), kills=kills, **_verify(cfg, root),
    )  # fmt: skip
    if cfg.out:
        write_report(report, Path(cfg.out))
    return report
