"""The portal's three actions, done by the same code as the command line, never re-implemented:

- **pull a model** (`consortium.pole.provenance.pull_model`, as `consortium model pull`): checks
  the stored blob against the ledger's digest, decrypts it with the member's key, records the
  download on the ledger (`RecordDownload`) and writes safetensors + provenance JSON. The portal
  then re-hashes the written file itself and compares it with the learning block's
  `model_digest`, so what the browser receives is checked twice;
- **verify the chain** (`consortium.ledger.embedded.verify.verify_ledger`, with a progress
  callback for the progress bar);
- **trace a model version** (`consortium.pole.provenance.trace_version`, as `consortium trace`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portal_auth import allowed
from portal_data import PortalData, PortalUnavailable

__all__ = [
    "PullOutcome",
    "model_bytes",
    "pull_model",
    "trace_version",
    "verified_model",
    "verify_chain",
]


class PullOutcome(dict[str, Any]):
    """What a pull produced: paths, digests, whether they match, the provenance."""


def _version_record(data: PortalData, task_id: str, version: int) -> dict[str, Any]:
    record = data.query("GetVersion", {"task_id": task_id, "version": version})
    if not isinstance(record, dict):
        raise PortalUnavailable(f"version {version} of task {task_id} is not on the ledger")
    return record


def pull_model(data: PortalData, roles: tuple[str, ...], task_id: str, version: int) -> PullOutcome:
    """Pull ``version`` of ``task_id`` for this member, exactly as `consortium model pull` does.

    Refused (`PermissionError`) for a member whose roles may not download models (auditors,
    aggregators: protocol RecordDownload) before anything is fetched; the contract would refuse
    the record too.
    """
    if not allowed(roles, "download_model"):
        raise PermissionError(
            f"member {data.member_id} (roles: {', '.join(roles)}) may not download models"
        )
    from consortium.pole.provenance import pull_model as pull

    expected = _version_record(data, task_id, version)["model_digest"]
    out = data.member_dir / "portal" / "downloads" / f"{task_id}-v{version}.safetensors"
    # the decrypted model: as private to the node's account as its keys (0600, in 0700 folders)
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.parent.chmod(0o700)
    result = pull(data.config(), data.member_id, task_id=task_id, version=version, out=out)
    got = hashlib.sha256(result.out.read_bytes()).hexdigest()
    return PullOutcome(
        model=result.out, provenance=result.provenance_path, expected=expected, got=got,
        match=got == expected, tx_id=result.download_tx_id,
    )  # fmt: skip


def verify_chain(data: PortalData, progress: Callable[[float, str], object]) -> Any:
    """Re-verify the whole ledger (`consortium.ledger.embedded.verify.verify_ledger`): every
    block's hash chain, orderer and creator signatures, and a replay of the world state.

    ``progress(fraction, label)`` is called as blocks are checked (for the page's progress bar).
    """
    try:
        from consortium.ledger.embedded.verify import verify_ledger
        from consortium.ledger.factory import default_contract
    except ImportError as err:
        raise PortalUnavailable(f"ledger verification is not available: {err}") from err
    config = data.config()
    if config.ledger.backend != "embedded":
        raise PortalUnavailable("the portal verifies the embedded ledger; this one is Fabric")

    def report(done: int, total: int) -> None:
        progress(min(1.0, done / total) if total else 1.0, f"block {done} of {total}")

    return verify_ledger(
        config.ledger_path, config.ca_cert_path, default_contract(), progress=report
    )


def trace_version(data: PortalData, task_id: str, version: int) -> dict[str, Any]:
    """The trace of a version: its provenance (public, read from the ledger) and, for a member
    holding the model key, the byte-for-byte recomputation (`trace_version`). An auditor holds no
    key (0001: ShareKey is ROLE_FORBIDDEN for auditors), so it gets the provenance and the reason
    the recomputation was not done."""
    from consortium.pole.provenance import ProvenanceError, build_provenance
    from consortium.pole.provenance import trace_version as trace

    try:
        report = trace(data.config(), data.member_id, task_id, version)
    except ProvenanceError as err:
        provenance = build_provenance(data.ledger(), task_id, version)
        return {"provenance": provenance.model_dump(mode="json"), "recomputed": False,
                "problems": [str(err)]}  # fmt: skip
    traced = report.model_dump(mode="json")
    if report.partial:  # no model key: the homomorphic sum was checked, θ(v) was not recomputed
        note = (
            f"the homomorphic sum {'matches' if report.aggregate_ok else 'does NOT match'} the "
            "ledger; recomputing θ(v) needs the model key, which this member does not hold"
        )
        return {**traced, "recomputed": False, "problems": [*report.problems, note]}
    return {**traced, "recomputed": True}


def model_bytes(path: Path) -> bytes:
    """The bytes of a pulled file, for the browser's download button."""
    return path.read_bytes()


def verified_model(path: Path, expected: str) -> bytes:
    """The bytes of a pulled model as the browser receives them, re-hashed then: refused unless
    their SHA-256 is the ledger's ``model_digest``. The file sits at one path per version, so it
    may have changed since the pull (another session pulling the same version rewrites it)."""
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ValueError(
            f"{path.name} no longer matches the ledger (SHA-256 {got}, ledger {expected}): "
            "pull the model again"
        )
    return data
