"""`CkksContext`: a TenSEAL context together with the digest that names it on the ledger.

Every encrypted update records the digest of the public context it was made under, and every
operation checks it, so a blob made under another consortium's key (or an old key) is refused with
a clear error instead of decrypting to noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from consortium.crypto.params import (
    PARAMS,
    CkksParams,
    context_digest,
    load_context,
    make_secret_context,
    public_context_bytes,
    secret_context_bytes,
)

if TYPE_CHECKING:
    import tenseal as ts

__all__ = ["CkksContext", "ContextMismatchError"]


class ContextMismatchError(ValueError):
    """An encrypted object was made under a different public context than the one at hand."""


@dataclass(frozen=True)
class CkksContext:
    """A loaded CKKS context (secret or public) and its ``public_context_digest``."""

    context: ts.Context
    digest: str
    params: CkksParams = PARAMS

    @classmethod
    def generate(cls, params: CkksParams = PARAMS) -> CkksContext:
        """Create a new secret context (once per consortium)."""
        ctx = make_secret_context(params)
        return cls(ctx, context_digest(public_context_bytes(ctx)), params)

    @classmethod
    def from_public_bytes(cls, data: bytes, params: CkksParams = PARAMS) -> CkksContext:
        """Load the aggregator's context; refuses bytes that carry a secret key."""
        ctx = load_context(data, params)
        if ctx.is_private():
            raise ValueError("these context bytes hold a secret key; expected the public context")
        return cls(ctx, context_digest(data), params)

    @classmethod
    def from_secret_bytes(cls, data: bytes, params: CkksParams = PARAMS) -> CkksContext:
        """Load a member's secret context (from its unwrapped key bundle)."""
        ctx = load_context(data, params)
        if not ctx.is_private():
            raise ValueError("these context bytes hold no secret key")
        return cls(ctx, context_digest(public_context_bytes(ctx)), params)

    @property
    def can_decrypt(self) -> bool:
        """True when this context holds the secret key."""
        return bool(self.context.is_private())

    def public_bytes(self) -> bytes:
        """The public context bytes (their SHA-256 is ``self.digest``)."""
        return public_context_bytes(self.context)

    def secret_bytes(self) -> bytes:
        """The secret context bytes; only ever written inside a wrapped key bundle."""
        return secret_context_bytes(self.context)

    def check(self, digest: str, what: str) -> None:
        """Raise `ContextMismatchError` unless ``digest`` names this context."""
        if digest != self.digest:
            raise ContextMismatchError(
                f"{what} was encrypted under public context {digest[:12]}…, but this consortium's "
                f"context is {self.digest[:12]}…; it belongs to another key"
            )
