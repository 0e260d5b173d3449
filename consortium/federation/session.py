"""One member's view of one task: ledger client, vault, blob store, local data and state.

Every role (`trainer`, `verifier`, `aggregator`, `sealer`, `attester`) is a function of a
`Session`. Nothing here keeps facts the ledger owns: heads, statuses and committees are read from
the ledger each time; the session only caches what is immutable once written (version weights,
keyed by their digest) and what is private to the member (its data, nonces, reference deltas).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from consortium.canonical import sha256_hex
from consortium.federation.vault import Vault, VaultError
from consortium.ledger.base import Ledger
from consortium.node.settings import NodeSettings
from consortium.node.state import StateDir

__all__ = ["BlobStore", "Cohort", "LocalBlobs", "Session"]


class BlobStore(Protocol):
    """Content-addressed storage: the key of a blob is the SHA-256 of its bytes."""

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...


class LocalBlobs:
    """A directory of blobs named by digest (used when `consortium.blobs` is not available)."""

    def __init__(self, root: Any) -> None:

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        from consortium.durable import write_durably

        digest = sha256_hex(data)
        path = self.root / digest[:2] / digest
        if not path.is_file():
            write_durably(path, data)
        return digest

    def get(self, digest: str) -> bytes:
        data = (self.root / digest[:2] / digest).read_bytes()
        if sha256_hex(data) != digest:
            raise VaultError(f"blob {digest[:12]} does not match its digest")
        return data


@dataclass(frozen=True)
class Cohort:
    """A hospital's design matrix split once: training rows and held-out rows (never trained on)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass
class Session:
    """Everything a role needs (see the module docstring)."""

    member_id: str
    roles: frozenset[str]
    task_id: str
    ledger: Ledger
    vault: Vault
    blobs: BlobStore
    state: StateDir
    settings: NodeSettings
    cohort: Cohort | None = None
    clock: Callable[[], float] = time.time
    _task: dict[str, Any] | None = field(default=None, repr=False)

    def q(self, fn: str, **args: Any) -> Any:
        """A ledger query."""
        return self.ledger.evaluate(fn, args)

    def task(self) -> dict[str, Any]:
        """The task record (immutable once published, so cached)."""
        if self._task is None:
            self._task = self.q("GetTask", task_id=self.task_id)
        return self._task

    def head(self) -> dict[str, Any]:
        """The task's head (height, digests, required gain)."""
        result: dict[str, Any] = self.q("GetHead", task_id=self.task_id)
        return result

    def spec(self) -> Any:
        """The task's `ModelSpec`."""
        from consortium.learning.models import ModelSpec

        return ModelSpec.model_validate(self.task()["model_spec"])

    def now_ms(self) -> int:
        """Wall-clock milliseconds (the ledger's timestamps are of the same clock)."""
        return int(self.clock() * 1000)

    def version(self, height: int) -> OrderedDict[str, np.ndarray]:
        """The weights of version ``height``, checked against the ledger's model digest."""
        block = self.q("GetVersion", task_id=self.task_id, version=height)
        return self.model_by_digest(block["model_digest"], block["blob_digest"])

    def model_by_digest(self, model_digest: str, blob_digest: str) -> OrderedDict[str, np.ndarray]:
        """Weights of a sealed model blob; cached by model digest; digest checked."""
        from consortium.learning.serialize import from_safetensors

        cached = self.state.read_bytes("models", f"{model_digest}.safetensors")
        if cached is None:
            data = self.vault.open_model(self.blobs.get(blob_digest))
            if sha256_hex(data) != model_digest:
                raise VaultError(f"model blob {blob_digest[:12]} does not hold {model_digest[:12]}")
            self.state.write_bytes(data, "models", f"{model_digest}.safetensors")
            cached = data
        arrays, _ = from_safetensors(cached)
        return arrays
