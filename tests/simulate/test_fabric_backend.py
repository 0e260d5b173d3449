"""The federation simulation through the Fabric backend (issue 7): every node reaches the ledger
only through `FabricLedger` (Endorse/Submit/CommitStatus/Evaluate over gRPC with TLS) on the
protocol-level fake gateway peer, which runs in its own process and checks what a peer checks.

Three hospitals and the aggregator are stepped in this process (the fake is a separate process,
started and stopped by the simulator); real TenSEAL, Opacus and SML as in the embedded runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consortium.config import ConsortiumConfig
from consortium.simulate.config import SimConfig, SimReport
from consortium.simulate.runner import run_simulation

# Three hospitals that can all measure AUROC (Switzerland abstains from attesting, see
# tests/simulate/test_abstention.py): every block here rests on a quorum of 2 real attestations.
SITES = ("cleveland", "hungary", "va")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SimReport:
    cfg = SimConfig(
        ledger="fabric-fake", sites=SITES, in_process=True, update_seconds=0.0,
        flush_seconds=1.0, planned_updates=2, epochs=1, committee_size=2, quorum=2,
        max_seconds=100, train_seed=7, workdir=str(tmp_path_factory.mktemp("fabric")),
    )  # fmt: skip
    return run_simulation(cfg)


@pytest.mark.timeout(150)
def test_learning_blocks_are_sealed_through_the_gateway(report: SimReport) -> None:
    assert report.ledger_backend == "fabric-fake"
    assert report.seconds < report.config.max_seconds, "the run did not finish"
    assert report.versions[-1].height >= 1  # at least one ProposeBlock/AttestBlock round
    config = ConsortiumConfig.load(report.workdir)
    assert config.ledger.backend == "fabric"
    assert not config.ledger_path.exists()  # nothing ever touched an embedded ledger file
    assert report.fabric is not None
    fns = report.fabric.functions  # read back from the peer's blocks (qscc) at the end
    every = {"Bootstrap", "ShareKey", "PublishTask", "SubmitUpdate", "RevealNonce", "Endorse",
             "PostAggregate", "ProposeBlock", "AttestBlock"}  # fmt: skip
    assert every <= set(fns), every - set(fns)
    assert fns["SubmitUpdate"] == sum(s.submitted for s in report.sites)
    assert fns["AttestBlock"] >= report.config.quorum * report.versions[-1].height


@pytest.mark.timeout(150)
def test_every_member_signed_and_every_version_recomputes(report: SimReport) -> None:
    check = report.fabric
    assert check is not None and report.ledger_verified
    # Every transaction in every block the peer returns carries a creator signature that
    # verifies against a certificate issued by the consortium's CA.
    assert check.bad_signatures == 0
    assert set(check.creators) == {*SITES, "aggregator", "admin"}
    assert sum(check.creators.values()) == check.transactions
    assert set(check.codes) <= {"VALID", "MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"}
    assert check.versions_recomputed == report.versions[-1].height >= 1
    assert check.versions_ok
    assert "fabric" in report.ledger_check and "not the peer's block hashes" in report.ledger_check


@pytest.mark.timeout(150)
def test_the_fake_peer_is_gone_with_the_run(report: SimReport) -> None:
    from consortium.ledger.fabric.errors import PeerUnreachable
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(report.workdir), "admin")
    try:
        with pytest.raises(PeerUnreachable):
            ledger.height()
    finally:
        ledger.close()


def test_the_signature_check_refuses_a_tampered_or_foreign_transaction(tmp_path: Path) -> None:
    from cryptography import x509
    from fabric_protos.common import common_pb2

    from consortium.identity.setup import create_identities
    from consortium.ledger.fabric.client import FabricLedger
    from consortium.ledger.fabric.local import (
        consortium_cas,
        point_config_at,
        serve_for_consortium,
    )
    from consortium.ledger.factory import genesis_args, open_ledger
    from consortium.simulate.fabric import _signed_by_member

    config = create_identities(tmp_path / "c", "c", {"admin": ["admin"]})
    other = create_identities(tmp_path / "o", "o", {"admin": ["admin"]})
    handle = serve_for_consortium(config)
    try:
        point_config_at(config, handle)
        ledger = open_ledger(ConsortiumConfig.load(config.root), "admin")
        assert isinstance(ledger, FabricLedger)
        ledger.submit_ok("Bootstrap", genesis_args(config))
        raw = ledger.block(1).data.data[0]
        ledger.close()
    finally:
        handle.stop()
    ours = [x509.load_pem_x509_certificate(p.encode()) for p in consortium_cas(config).values()]
    theirs = [x509.load_pem_x509_certificate(p.encode()) for p in consortium_cas(other).values()]
    envelope = common_pb2.Envelope.FromString(raw)
    assert _signed_by_member(envelope, ours) == "admin"
    assert _signed_by_member(envelope, theirs) is None  # certificate from another CA
    payload = envelope.payload[:-1] + bytes([envelope.payload[-1] ^ 1])  # inside a bytes field
    tampered = common_pb2.Envelope(payload=payload, signature=envelope.signature)
    assert _signed_by_member(tampered, ours) is None  # signature no longer matches


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (PID 1 in a container may not reap)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@pytest.mark.timeout(60)
def test_the_fake_peer_does_not_outlive_a_simulator_that_dies(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from consortium.identity.setup import create_identities\n"
        "from consortium.simulate.fabric import FakePeerProcess\n"
        "config = create_identities(Path(sys.argv[1]), 'c', {'admin': ['admin']})\n"
        "peer = FakePeerProcess()\n"
        "peer.start(config.root, config.root / 'logs')\n"
        "print(peer.proc.pid, flush=True)\n"
        "os._exit(0)  # dies without stopping the fake\n"
    )
    simulator = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c")],
        capture_output=True, text=True, timeout=50, check=True,
    )  # fmt: skip
    pid = int(simulator.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the fake peer kept running after the simulator died"
    config = ConsortiumConfig.load(tmp_path / "c")
    assert config.ledger.backend == "fabric"  # it had pointed the directory at itself


def test_simulate_refuses_an_unknown_ledger() -> None:
    from typer.testing import CliRunner

    from consortium.cli import app

    result = CliRunner().invoke(app, ["simulate", "--ledger", "fabric"])
    assert result.exit_code == 2
    assert "--ledger 'fabric'" in result.output and "fabric-fake" in result.output
