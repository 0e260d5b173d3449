"""An in-memory world state and transaction context with Fabric's semantics.

Used by the contract's tests, the vectors generator, the Fabric gateway fake and replays. Like a
Fabric peer simulating a transaction: reads (`get_state`, `range`) see the state as it was before
the transaction, never the transaction's own writes; writes are buffered in a write set that is
applied only if the transaction is valid. The contract is written so that it never needs to read
its own writes, which keeps the Python contract and the chaincode identical.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from consortium.ledger.base import BufferedContext, Contract, ContractError, Creator
from consortium.ledger.contract.codes import VALID


class MemoryState:
    """Keys (str) to canonical JSON bytes, with ordered range reads."""

    def __init__(self, items: Mapping[str, bytes] | None = None) -> None:
        self._data: dict[str, bytes] = dict(items or {})
        self._keys: list[str] = sorted(self._data)

    def get(self, key: str) -> bytes | None:
        """The value of ``key`` or None."""
        return self._data.get(key)

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` (used when a valid transaction's write set is applied)."""
        if key not in self._data:
            bisect.insort(self._keys, key)
        self._data[key] = value

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Keys in [start, end) in code-point order (byte order for UTF-8), like GetStateByRange.

        An empty ``end`` means no upper bound, as in Fabric.
        """
        keys = list(self._keys)  # a snapshot: callers may write while iterating
        index = bisect.bisect_left(keys, start)
        for key in keys[index:]:
            if end and key >= end:
                break
            yield key, self._data[key]

    def items(self) -> dict[str, bytes]:
        """A copy of all keys and values."""
        return dict(self._data)

    def __len__(self) -> int:
        return len(self._data)


class MemoryContext(BufferedContext):
    """A `TxContext` over a `MemoryState`: snapshot reads, buffered writes."""

    def __init__(self, state: MemoryState, tx_id: str, timestamp_ms: int, creator: Creator):
        super().__init__(tx_id, timestamp_ms, creator)
        self._state = state

    def get_state(self, key: str) -> bytes | None:
        """The committed value of ``key`` (not this transaction's pending write, as in Fabric)."""
        return self._state.get(key)

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Committed keys in [start, end)."""
        return self._state.range(start, end)

    def commit(self) -> None:
        """Apply the write set to the state."""
        for key, value in self.writes.items():
            self._state.put(key, value)


class Outcome(BaseModel):
    """What one transaction did: its validation code, message, result and write set."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str = ""
    result: Any = None
    writes: dict[str, bytes] = {}

    @property
    def valid(self) -> bool:
        return self.code == VALID


def execute(
    contract: Contract,
    state: MemoryState,
    fn: str,
    args: dict[str, Any],
    *,
    creator: Creator,
    tx_id: str,
    timestamp_ms: int,
    query: bool = False,
) -> Outcome:
    """Run one transaction (or query) against ``state``; apply its writes only if it is valid."""
    ctx = MemoryContext(state, tx_id, timestamp_ms, creator)
    try:
        result = contract.query(ctx, fn, args) if query else contract.invoke(ctx, fn, args)
    except ContractError as error:
        return Outcome(code=error.code, message=error.message)
    if query:
        return Outcome(code=VALID, result=result)
    ctx.commit()
    return Outcome(code=VALID, result=result, writes=dict(ctx.writes))
