"""Following the ledger through the Gateway's ChaincodeEvents stream, with a checkpoint file.

The checkpoint records the last event handed to the caller: ``{block_number, tx_id, tx_index}``.
A restarted follower asks the gateway to start at that block *after* that transaction
(``ChaincodeEventsRequest.after_transaction_id``), so it neither misses nor repeats an event. The
checkpoint is written after the caller has taken the event and asked for the next one, so a crash
while handling an event means that event is delivered again (at least once), never lost. When a
block's events are all handed over, the checkpoint moves to the next block.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from consortium.ledger.base import CommittedTx
from consortium.ledger.fabric.adapter import EVENT_NAME, committed_from_event
from consortium.ledger.fabric.errors import FabricError, classify_rpc_error
from consortium.ledger.fabric.messages import chaincode_events_request

if TYPE_CHECKING:
    from consortium.ledger.fabric.client import FabricLedger


@dataclass
class Position:
    """Where to resume: a block, and the last transaction already handled in it ("" for none)."""

    block_number: int
    tx_id: str = ""
    tx_index: int = -1


class FileCheckpoint:
    """A follower's position, kept in a small JSON file replaced atomically on every change."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.position: Position | None = None
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self.position = Position(
                    int(data["block_number"]), str(data["tx_id"]), int(data["tx_index"])
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise FabricError(
                    f"checkpoint {self.path} is unreadable ({exc}): move it aside to follow from "
                    "the start again"
                ) from exc

    def save(self, position: Position) -> None:
        """Write ``position`` (write a temporary file, fsync, rename)."""
        self.position = position
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as handle:
            json.dump(position.__dict__, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)


class EventFollower:
    """Iterate over committed transactions as they are committed; `close()` ends the stream."""

    def __init__(
        self,
        ledger: FabricLedger,
        checkpoint: FileCheckpoint | None,
        start_block: int | None,
        timeout_s: float | None,
    ) -> None:
        self._ledger = ledger
        self._checkpoint = checkpoint
        self._start = checkpoint.position if checkpoint and checkpoint.position else None
        if self._start is None and start_block is not None:
            self._start = Position(start_block)
        self._timeout_s = timeout_s
        self._call: Any = None

    def __iter__(self) -> Iterator[CommittedTx]:
        ledger = self._ledger
        start = self._start
        request = chaincode_events_request(
            ledger.signer,
            ledger.channel,
            ledger.chaincode,
            start.block_number if start else None,
            start.tx_id if start else "",
        )
        self._call = ledger.stub.ChaincodeEvents(request, timeout=self._timeout_s)
        try:
            yield from self._events(start)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                return  # closed by us, or the follow timeout elapsed
            raise classify_rpc_error(
                error, endpoint=ledger.endpoint, what="follow events"
            ) from error

    def _events(self, start: Position | None) -> Iterator[CommittedTx]:
        for response in self._call:
            block = int(response.block_number)
            first = (
                start.tx_index + 1 if start and start.tx_id and start.block_number == block else 0
            )
            for offset, event in enumerate(response.events):
                if event.event_name != EVENT_NAME:
                    continue
                index = first + offset
                yield committed_from_event(block, index, event)
                self._save(Position(block, event.tx_id, index))
            self._save(Position(block + 1))

    def _save(self, position: Position) -> None:
        if self._checkpoint is not None:
            self._checkpoint.save(position)

    def close(self) -> None:
        """Cancel the stream; the iterator then ends."""
        if self._call is not None:
            self._call.cancel()
