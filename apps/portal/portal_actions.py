"""The portal's three actions, done by the same code as the command line, never re-implemented:

- **pull a model** (`consortium model pull`): checks the stored blob against the ledger's digest,
  decrypts it with the member's key, writes safetensors + provenance JSON and records the download
  on the ledger (`RecordDownload`). The portal then re-hashes the written file itself and compares
  it with the learning block's `model_digest`, so what the browser receives is checked twice;
- **verify the chain** (`verify_ledger`, with a progress callback for the progress bar);
- **trace a model version** (the provenance package's trace).

Those functions belong to other parts of consortium; they are looked up by name when called, so
the portal still runs (and says what is missing) in an install that lacks one of them.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portal_auth import allowed
from portal_data import PortalData, PortalUnavailable

__all__ = ["PullOutcome", "pull_model", "trace_version", "verify_chain"]

_PULL = [("consortium.pole.provenance", "pull_model"), ("consortium.provenance", "pull_model")]
_TRACE = [
    ("consortium.pole.provenance", "trace_version"),
    ("consortium.pole.provenance", "trace"),
    ("consortium.pole.trace", "trace_version"),
    ("consortium.pole.trace", "trace"),
]
_ALIASES = {
    "config": ("config", "cfg", "consortium_config"),
    "member_id": ("member_id", "member", "member_name"),
    "task_id": ("task_id", "task"),
    "version": ("version", "height"),
    "out": ("out", "out_dir", "dest", "output"),
    "progress": ("progress", "on_progress", "callback", "progress_callback"),
    "ledger": ("ledger",),
    "root": ("root", "consortium_dir", "directory", "dir"),
}


def find(candidates: list[tuple[str, str]]) -> Callable[..., Any] | None:
    """The first of ``(module, function)`` that exists in this install."""
    for module_name, name in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def call(fn: Callable[..., Any], **given: Any) -> Any:
    """Call ``fn`` passing each of its parameters from ``given`` by name (or a known alias)."""
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        for key, names in _ALIASES.items():
            if param.name in names and key in given:
                kwargs[param.name] = given[key]
        if param.name not in kwargs and param.default is param.empty:
            raise PortalUnavailable(f"{fn.__module__}.{fn.__name__} needs {param.name!r}")
    return fn(**kwargs)


class PullOutcome(dict[str, Any]):
    """What a pull produced: paths, digests, whether they match, the provenance."""


def _version_record(data: PortalData, task_id: str, version: int) -> dict[str, Any]:
    record = data.query("GetVersion", {"task_id": task_id, "version": version})
    if not isinstance(record, dict):
        raise PortalUnavailable(f"version {version} of task {task_id} is not on the ledger")
    return record


def pull_model(data: PortalData, roles: tuple[str, ...], task_id: str, version: int) -> PullOutcome:
    """Pull ``version`` of ``task_id`` for this member, as `consortium model pull` does.

    Refused (`PermissionError`) for a member whose roles may not download models (auditors,
    aggregators: protocol RecordDownload); the contract would refuse the record too.
    """
    if not allowed(roles, "download_model"):
        raise PermissionError(
            f"member {data.member_id} (roles: {', '.join(roles)}) may not download models"
        )
    block = _version_record(data, task_id, version)
    expected = block["model_digest"]
    out = data.member_dir / "portal" / "downloads" / f"{task_id}-v{version}"
    out.mkdir(parents=True, exist_ok=True)
    fn = find(_PULL)
    if fn is not None:
        result = call(
            fn,
            config=data.config(),
            member_id=data.member_id,
            task_id=task_id,
            version=version,
            out=out,
            ledger=data.ledger(),
            root=data.dir,
        )
    else:
        result = _pull_here(data, block, out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    model = next((p for p in files if p.suffix == ".safetensors"), None)
    if model is None:
        raise PortalUnavailable(f"model pull wrote no .safetensors file in {out}")
    got = hashlib.sha256(model.read_bytes()).hexdigest()
    provenance = next((p for p in files if p.suffix == ".json"), None)
    return PullOutcome(
        model=model,
        provenance=provenance,
        expected=expected,
        got=got,
        match=got == expected,
        result=result,
    )


def _pull_here(data: PortalData, block: dict[str, Any], out: Path) -> str:
    """The pull steps, for an install without ``consortium.pole.provenance.pull_model``: fetch
    the version's blob (the store re-hashes it against ``blob_digest``), open the member's
    wrapped key bundle with its own private key, decrypt (AES-GCM: any altered byte fails) and
    check the plaintext against the ledger's ``model_digest``, then record the download."""
    from consortium.blobs import open_blob_store
    from consortium.crypto.modelblob import decrypt_model_blob
    from consortium.crypto.setup import load_member_keys

    config, ledger = data.config(), data.ledger()
    blobs = open_blob_store(config.blobs.url, config.root)
    share = ledger.evaluate("GetShareKey", {"member_id": data.member_id})
    bundle = load_member_keys(
        config.member_msp(data.member_id),
        blobs,
        share["wrapped_key_digest"],
        member_id=data.member_id,
    )
    plain = decrypt_model_blob(
        blobs.get(block["blob_digest"]),
        bundle.model_key,
        expected_model_digest=block["model_digest"],
    )
    name = f"{block['task_id']}-v{block['height']}"
    (out / f"{name}.safetensors").write_bytes(plain)
    record = ledger.submit_ok(
        "RecordDownload",
        {
            "task_id": block["task_id"],
            "version": block["height"],
            "model_digest": block["model_digest"],
        },
    )
    provenance = {"version": block, "download": record, "pulled_by": data.member_id}
    (out / f"{name}.provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True))
    return str(record.get("download_id", ""))


def verify_chain(data: PortalData, progress: Callable[[float, str], None]) -> Any:
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


def trace_version(data: PortalData, task_id: str, version: int) -> Any:
    """The provenance trace of a model version (None when this install has no trace)."""
    fn = find(_TRACE)
    if fn is None:
        return None
    return call(
        fn,
        config=data.config(),
        member_id=data.member_id,
        task_id=task_id,
        version=version,
        ledger=data.ledger(),
        root=data.dir,
    )


def model_bytes(path: Path) -> bytes:
    """The bytes of a pulled file, for the browser's download button."""
    return path.read_bytes()
