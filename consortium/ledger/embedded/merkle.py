"""Merkle root of a block's transactions, as in RFC 6962 (Certificate Transparency), section 2.1.

Leaves and interior nodes are hashed with different one-byte prefixes (0x00, 0x01) so that an
interior node can never be passed off as a leaf (second-preimage attack), and an odd node is
carried up rather than duplicated (duplicating the last leaf, as Bitcoin does, lets two different
transaction lists share a root: CVE-2012-2459).
"""

from __future__ import annotations

import hashlib

__all__ = ["leaf_hash", "merkle_root"]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> str:
    """Hex root over already-hashed leaves (RFC 6962 MTH); SHA-256 of nothing for no leaves."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = leaves
    while len(level) > 1:
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
