"""What the consortium chaincode returns and emits on Fabric, and how it becomes `CommittedTx`.

Fabric records only transactions that were endorsed, and an endorser refuses to endorse a
chaincode call that fails. The protocol (docs/decisions/0001) wants a rejected transaction kept in
its block with its validation code. So the recommended chaincode convention ("envelope") does not
fail on a `ContractError`: every function returns (status 200) the canonical JSON **envelope**

    {"code": "VALID" | <contract validation code>, "message": str, "result": <JSON>}

and writes nothing when ``code`` is not VALID. Every *invoked* transaction, accepted or rejected,
emits exactly one chaincode event named ``tx`` whose payload is the canonical JSON

    {"fn", "args", "creator" (member id), "timestamp_ms", "code", "message", "result"}

A follower rebuilds `CommittedTx` from it. Fabric-level invalid transactions (an MVCC conflict,
an endorsement policy failure) are not delivered by the Gateway's ChaincodeEvents; they changed
nothing, and they are visible to `FabricLedger.transactions`, which reads whole blocks.

The client also understands the Fabric samples' convention ("plain"): a function returns its
result as JSON and *throws* ``"CODE: message"`` to refuse. Then a refusal is reported to the
submitter with its code (`contract_refusal`) but is not on the ledger, and without ``tx`` events
`blocks.committed_from_block` rebuilds transactions from the blocks themselves.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fabric_protos.peer import chaincode_event_pb2

from consortium.canonical import canonical_json
from consortium.ledger.base import VALID, CommittedTx
from consortium.ledger.fabric.errors import FabricError

EVENT_NAME = "tx"
ENVELOPE_KEYS = {"code", "message", "result"}


def response_envelope(code: str, message: str, result: Any) -> bytes:
    """The bytes a consortium transaction function returns."""
    return canonical_json({"code": code, "message": message, "result": result})


def parse_envelope(payload: bytes) -> tuple[str, str, Any]:
    """``(code, message, result)`` of a function's answer: an envelope, or a plain JSON result
    (VALID); `FabricError` if it is not JSON at all."""
    try:
        data = json.loads(payload) if payload else None
    except ValueError as exc:
        raise FabricError(
            f"the chaincode answered {payload[:80]!r}, which is not JSON: is [ledger.fabric] "
            "chaincode the consortium chaincode?"
        ) from exc
    if isinstance(data, dict) and set(data) == ENVELOPE_KEYS and isinstance(data["code"], str):
        return data["code"], str(data["message"]), data["result"]
    return VALID, "", data


_REFUSAL = re.compile(r"chaincode response \d+, ([A-Z][A-Z0-9_]*): ?(.*)", re.S)


def contract_refusal(messages: list[str]) -> tuple[str, str] | None:
    """``(code, message)`` when a peer says the chaincode refused with ``"CODE: message"``."""
    for text in messages:
        match = _REFUSAL.search(text)
        if match:
            return match.group(1), match.group(2).strip()
    return None


def event_payload(
    *, fn: str, args: Any, creator: str, timestamp_ms: int, code: str, message: str, result: Any
) -> bytes:
    """The payload of the ``tx`` event a transaction emits."""
    return canonical_json(
        {
            "fn": fn,
            "args": args,
            "creator": creator,
            "timestamp_ms": timestamp_ms,
            "code": code,
            "message": message,
            "result": result,
        }
    )


def committed_from_event(
    block_number: int, tx_index: int, event: chaincode_event_pb2.ChaincodeEvent
) -> CommittedTx:
    """A `CommittedTx` from one ``tx`` chaincode event."""
    try:
        data = json.loads(event.payload)
        return _committed(block_number, tx_index, event.tx_id, data)
    except (ValueError, KeyError, TypeError) as exc:
        raise FabricError(
            f"event of tx {event.tx_id[:12]} is not a consortium `tx` event ({exc}): is "
            "[ledger.fabric] chaincode the consortium chaincode?"
        ) from exc


def _committed(block_number: int, tx_index: int, tx_id: str, data: Any) -> CommittedTx:
    return CommittedTx(
        block_number=block_number,
        tx_index=tx_index,
        tx_id=tx_id,
        fn=data["fn"],
        args=data["args"],
        creator=data["creator"],
        timestamp_ms=data["timestamp_ms"],
        code=data["code"],
        result=data["result"],
    )
