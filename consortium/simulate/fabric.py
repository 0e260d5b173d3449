"""A simulation through the Fabric backend: the protocol-level fake gateway peer in its own process,
and what a Fabric client can check of the run afterwards.

`FakePeerProcess.start(config)` runs ``python -m consortium.simulate.fabric DIR``: the fake peer
(`consortium.ledger.fabric.local.serve_for_consortium`, a real gRPC server with TLS on 127.0.0.1
running the Python contract) trusting the directory's CAs; it points the directory's
``consortium.toml`` at itself (``[ledger] backend = "fabric"``) and prints its address. The nodes
(processes or in-process) then open the ledger with `open_ledger` as always and reach it only
through `FabricLedger`. The fake exits when the simulator stops it (SIGTERM) or dies (its parent
pid changes), so it never outlives the run.

`check_fabric_run(root)` is the end-of-run check for this backend. The embedded `verify_ledger`
(hash chain, orderer signatures, replayed world state) does not apply: a Fabric client cannot
replay the peer's state, and the fake does not compute Fabric's ASN.1 block hash. What a client
can check is checked: every transaction in every block read through ``qscc`` carries a low-S
ECDSA signature of its creator over the envelope, the creator's certificate chains to a CA of the
consortium, each transaction's validation code as the peer returns it is VALID or a retried MVCC
conflict (nothing else), and every version recomputes from the ledger and the blobs
(`consortium.federation.recompute.recompute_all`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["FabricCheck", "FakePeerProcess", "check_fabric_run", "main"]

READY = "fake-peer-ready "
# MVCC/phantom conflicts are invalid transactions the client re-endorsed with a new tx id
# (client.RETRYABLE): they changed nothing and are expected when attestations race.
_RETRIED = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")


class FakePeerProcess:
    """The fake gateway peer of a consortium directory, run as a child process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.address: str | None = None

    def start(self, root: Path, log_dir: Path, timeout_s: float = 60.0) -> str:
        """Start the fake for ``root``; wait until it has configured the directory; its address."""
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CONSORTIUM_PARENT_PID": str(os.getpid()), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "consortium.simulate.fabric", str(root)]
        log = open(log_dir / "fake-peer.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        assert self.proc.stdout is not None
        line = _readline(self.proc.stdout, timeout_s)
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the fake Fabric peer did not start: see {log_dir}/fake-peer.log")
        self.address = line[len(READY) :].strip()
        return self.address

    def stop(self) -> None:
        """Stop the fake (SIGTERM, then SIGKILL after 10 s) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _readline(stream: Any, timeout_s: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return box[0] if box else ""


def main(argv: list[str] | None = None) -> None:
    """``python -m consortium.simulate.fabric DIR``: serve the fake for DIR until told to stop."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.fabric.local import point_config_at, serve_for_consortium

    root = (argv or sys.argv[1:])[0]
    config = ConsortiumConfig.load(root)
    handle = serve_for_consortium(config)
    point_config_at(config, handle)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(READY + handle.address, flush=True)
    parent = int(os.environ.get("CONSORTIUM_PARENT_PID", "0") or 0)
    try:
        while not stop.wait(0.5):
            if parent > 0 and os.getppid() != parent:
                break  # the simulator died: do not outlive it
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


class FabricCheck(BaseModel):
    """What a Fabric client verified of a run (see the module docstring)."""

    blocks: int
    transactions: int
    codes: dict[str, int]  # validation code as the peer returned it -> count
    creators: dict[str, int]  # member id of each signed transaction's creator -> count
    functions: dict[str, int]  # contract function of each Fabric-valid transaction -> count
    bad_signatures: int
    versions_recomputed: int
    versions_ok: bool
    checked: str = Field(
        default="signatures and validation codes of every transaction in every block (qscc), "
        "recompute of every version; not the peer's block hashes or world state"
    )

    @property
    def ok(self) -> bool:
        """Every signature checks, only VALID or retried MVCC codes, every version recomputes."""
        unexpected = set(self.codes) - {"VALID", *_RETRIED}
        return self.bad_signatures == 0 and not unexpected and self.versions_ok


def _signed_by_member(envelope: Any, cas: list[Any]) -> str | None:
    """The creator's member id if the envelope's signature and certificate check, else None."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from fabric_protos.common import common_pb2
    from fabric_protos.msp import identities_pb2

    from consortium.ledger.fabric.blocks import member_id_of
    from consortium.ledger.fabric.signing import cert_public_key, verify_low_s

    payload = common_pb2.Payload.FromString(envelope.payload)
    header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    ident = identities_pb2.SerializedIdentity.FromString(header.creator)
    cert = x509.load_pem_x509_certificate(bytes(ident.id_bytes))
    chained = False
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            chained = True
        except (ValueError, TypeError, InvalidSignature):  # not issued by this CA
            continue
    if not chained or not verify_low_s(cert_public_key(cert), envelope.payload, envelope.signature):
        return None
    return member_id_of(header.creator)


def check_fabric_run(root: Path, member: str, task_id: str) -> FabricCheck:
    """Read every block as ``member`` and recompute every version (see the module docstring)."""
    from cryptography import x509
    from fabric_protos.common import common_pb2
    from fabric_protos.peer import transaction_pb2

    from consortium.config import ConsortiumConfig
    from consortium.federation.recompute import recompute_all
    from consortium.ledger.fabric.blocks import committed_from_block
    from consortium.ledger.fabric.local import consortium_cas
    from consortium.node.open import open_session

    config = ConsortiumConfig.load(root)
    cas = [x509.load_pem_x509_certificate(p.encode()) for p in consortium_cas(config).values()]
    session = open_session(root, member)
    ledger: Any = session.ledger
    codes: dict[str, int] = {}
    creators: dict[str, int] = {}
    functions: dict[str, int] = {}
    bad = txs = 0
    height = ledger.height()
    for number in range(1, height):  # block 0 is the channel's config block
        block = ledger.block(number)
        filters = bytes(block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER])
        for tx in committed_from_block(block, ledger.chaincode):
            if tx.code not in _RETRIED:
                functions[tx.fn] = functions.get(tx.fn, 0) + 1
        for index, raw in enumerate(block.data.data):
            txs += 1
            code = transaction_pb2.TxValidationCode.Name(filters[index])
            codes[code] = codes.get(code, 0) + 1
            creator = _signed_by_member(common_pb2.Envelope.FromString(raw), cas)
            if creator is None:
                bad += 1
            else:
                creators[creator] = creators.get(creator, 0) + 1
    checks = recompute_all(ledger, session.blobs, session.vault, task_id)
    ledger.close()
    return FabricCheck(
        blocks=height, transactions=txs, codes=codes, creators=creators, bad_signatures=bad,
        functions=functions, versions_recomputed=len(checks), versions_ok=all(c.ok for c in checks),
    )  # fmt: skip


if __name__ == "__main__":
    main()
