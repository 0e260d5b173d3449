"""A node's state on disk: small JSON documents and tensor files, each replaced atomically.

Every write goes to a temporary file, is flushed and fsync'ed, then renamed over the old one and
the folder synced (`consortium.durable`; rename is atomic on POSIX): a ``kill -9`` at any instant
leaves either the old or the new document, never a torn one, and a power cut does not undo a
rename. The order of writes is what makes restarts safe, e.g. the SML nonce is written *before*
its commitment is submitted (`consortium.federation.trainer`).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from consortium.durable import write_durably

__all__ = ["StateDir"]


class StateDir:
    """The member's state directory (``DIR/members/NAME/state``).

    Only the node's account may open it (0700, like the key files' 0600): it holds the member's
    own plaintext deltas, other members' decrypted deltas (the verifier's cache) and what the
    verifier measured on its held-out patients.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if root.stat().st_uid == os.getuid():  # another account's folder is its owner's to close
            root.chmod(0o700)  # also when it existed, made under another umask

    def path(self, *parts: str) -> Path:
        """A path inside the state directory."""
        return self.root.joinpath(*parts)

    def read_json(self, *parts: str, default: Any = None) -> Any:
        """A JSON document, or ``default`` when it does not exist."""
        path = self.path(*parts)
        if not path.is_file():
            return default
        return json.loads(path.read_text(encoding="utf-8"))

    def write_json(self, value: Any, *parts: str) -> None:
        """Replace a JSON document atomically."""
        data = json.dumps(value, sort_keys=True, indent=1).encode("utf-8")
        write_durably(self.path(*parts), data)

    def write_bytes(self, data: bytes, *parts: str) -> None:
        """Replace a binary file atomically."""
        write_durably(self.path(*parts), data)

    def read_bytes(self, *parts: str) -> bytes | None:
        """A binary file, or None."""
        path = self.path(*parts)
        return path.read_bytes() if path.is_file() else None

    def write_arrays(self, arrays: Mapping[str, np.ndarray], *parts: str) -> None:
        """Tensors (name -> array) as an .npz, atomically, order kept."""
        from io import BytesIO

        buf = BytesIO()
        names = list(arrays)
        payload: dict[str, Any] = {f"t{i}": arrays[n] for i, n in enumerate(names)}
        payload["__names__"] = np.array(names)
        np.savez(buf, **payload)
        write_durably(self.path(*parts), buf.getvalue())

    def read_arrays(self, *parts: str) -> OrderedDict[str, np.ndarray] | None:
        """Tensors written by `write_arrays`, or None."""
        path = self.path(*parts)
        if not path.is_file():
            return None
        with np.load(path) as data:
            names = [str(n) for n in data["__names__"]]
            return OrderedDict((n, data[f"t{i}"]) for i, n in enumerate(names))
