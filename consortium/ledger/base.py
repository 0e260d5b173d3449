"""The one ledger interface, shared by the embedded (SQLite) and Fabric backends.

Two halves, mirroring Hyperledger Fabric:

- the **contract side**: a deterministic `Contract` invoked with a `TxContext` (Fabric's "stub"):
  reads and writes of world-state keys, the transaction id and timestamp, and the creator's
  identity. The same contract runs inside the embedded ledger and inside the Fabric gateway fake;
  the TypeScript chaincode implements the same behaviour against the same vectors.
- the **client side**: `Ledger`, bound to one member identity, which submits signed transactions,
  evaluates queries, and follows committed transactions in order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

VALID = "VALID"


class Creator(BaseModel):
    """Who signed a transaction, as the contract sees it (from the certificate)."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    msp_id: str
    roles: tuple[str, ...]
    cert_pem: str


class ContractError(Exception):
    """A transaction the contract refuses: ``code`` is the validation code kept on the ledger."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TxContext(Protocol):
    """What a contract may see and do while executing one transaction."""

    @property
    def tx_id(self) -> str: ...

    @property
    def timestamp_ms(self) -> int: ...

    @property
    def creator(self) -> Creator: ...

    def get_state(self, key: str) -> bytes | None: ...

    def put_state(self, key: str, value: bytes) -> None: ...

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Keys in [start, end) in byte order, as Fabric's GetStateByRange."""
        ...


class BufferedContext:
    """The part of a `TxContext` every backend shares: the transaction's id, timestamp and creator,
    and a write set that buffers `put_state` (applied only if the transaction is valid; reads never
    see it, as on a Fabric peer). Subclasses read committed state (`get_state`, `range`)."""

    def __init__(self, tx_id: str, timestamp_ms: int, creator: Creator) -> None:
        self._tx_id = tx_id
        self._timestamp_ms = timestamp_ms
        self._creator = creator
        self.writes: dict[str, bytes] = {}

    @property
    def tx_id(self) -> str:
        return self._tx_id

    @property
    def timestamp_ms(self) -> int:
        return self._timestamp_ms

    @property
    def creator(self) -> Creator:
        return self._creator

    def put_state(self, key: str, value: bytes) -> None:
        """Buffer a write of ``value`` (bytes) at ``key`` (a non-empty str)."""
        if not isinstance(key, str) or not key or not isinstance(value, bytes | bytearray):
            raise TypeError("put_state needs a non-empty str key and bytes value")
        self.writes[key] = bytes(value)


class Contract(Protocol):
    """A deterministic contract. Raise `ContractError` to reject; return a JSON-able result."""

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any: ...

    def query(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any: ...


class TxResult(BaseModel):
    """The outcome of a submitted transaction once it is committed (valid or not)."""

    tx_id: str
    code: str
    message: str = ""
    block_number: int | None = None
    result: Any = None

    @property
    def valid(self) -> bool:
        return self.code == VALID


class CommittedTx(BaseModel):
    """One transaction as followers see it: in block order, with its validation code."""

    block_number: int
    tx_index: int
    tx_id: str
    fn: str
    args: dict[str, Any]
    creator: str
    timestamp_ms: int
    code: str
    result: Any = None


class LedgerRejected(Exception):
    """A transaction was committed as invalid; carries the `TxResult`."""

    def __init__(self, result: TxResult) -> None:
        super().__init__(
            f"transaction {result.tx_id[:12]} rejected: {result.code}: {result.message}"
        )
        self.result = result


class Ledger(ABC):
    """A client of the consortium ledger, acting as one member identity."""

    # Can this client's view be shorter than blocks it returned before, the ledger being intact?
    # A Fabric gateway answers queries from whichever peer it reaches, which may still be catching
    # up; the embedded ledger's file is the ledger itself (`consortium.node.runner.Node.follow`).
    view_may_lag: bool = False

    @abstractmethod
    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        """Sign, order and commit one transaction; wait for its validation code."""

    @abstractmethod
    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        """Run a read-only query of the contract against the current world state."""

    @abstractmethod
    def height(self) -> int:
        """Number of ledger blocks committed so far."""

    @abstractmethod
    def transactions(self, start_block: int = 0) -> Iterator[CommittedTx]:
        """Committed transactions from ``start_block`` on, in order, valid and invalid alike.

        Returns what is committed now and stops; callers poll (or use a backend's follower with a
        checkpoint) to keep following.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""

    def submit_ok(self, fn: str, args: dict[str, Any]) -> Any:
        """Submit and return the contract's result, raising `LedgerRejected` if invalid."""
        result = self.submit(fn, args)
        if not result.valid:
            raise LedgerRejected(result)
        return result.result
