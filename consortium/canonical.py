"""Canonical JSON: the only byte form this project hashes or signs.

Every peer, and both contract implementations (Python here, TypeScript in `chaincode/`), must turn
the same record into the same bytes, or signatures and digests stop matching across machines and
languages. The rules are deliberately narrow:

- object keys sorted, no insignificant white space, UTF-8 (non-ASCII kept as is);
- no floats at all: their text form differs between languages (``1e-7`` vs ``1e-07``) and rounding
  differs between platforms. Amounts are integers, basis points, or decimal strings;
- ``NaN``/``Infinity`` are impossible because floats are.

JavaScript's ``JSON.stringify`` with sorted keys produces the same bytes for these values, which is
what the chaincode relies on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["CanonicalError", "canonical_json", "digest", "sha256_hex", "to_plain"]


class CanonicalError(TypeError):
    """A value that has no canonical form (a float, a non-string key, an unknown type)."""


def to_plain(value: Any, path: str = "$") -> Any:
    """Return ``value`` as plain JSON types, refusing anything without a canonical form."""
    if isinstance(value, BaseModel):
        return to_plain(value.model_dump(mode="json"), path)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise CanonicalError(
            f"float at {path}: use an integer, basis points or a decimal string instead"
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"non-string key {key!r} at {path}")
            out[key] = to_plain(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [to_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalError(f"{type(value).__name__} at {path} has no canonical JSON form")


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` to canonical JSON bytes (sorted keys, compact, UTF-8, no floats)."""
    plain = to_plain(value)
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
