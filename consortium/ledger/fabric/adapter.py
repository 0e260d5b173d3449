"""What the consortium chaincode returns and emits on Fabric, and how it becomes `CommittedTx`.

Fabric records only transactions that were endorsed, and an endorser refuses to endorse a
chaincode call that fails. The protocol (docs/decisions/0001) wants a rejected transaction kept in
its block with its validation code. So the chaincode does not fail on a `ContractError`: every
transaction function returns (status 200) the canonical JSON **response envelope**

    {"code": "VALID" | <contract validation code>, "message": str, "result": <JSON>}

and writes nothing when ``code`` is not VALID. Every *invoked* transaction, accepted or rejected,
emits exactly one chaincode event named ``tx`` whose payload is the canonical JSON

    {"fn", "args", "creator" (member id), "timestamp_ms", "code", "message", "result"}

A follower rebuilds `CommittedTx` from it. Fabric-level invalid transactions (an MVCC conflict,
an endorsement policy failure) are not delivered by the Gateway's ChaincodeEvents; they changed
nothing, and they are visible to `FabricLedger.transactions`, which reads whole blocks.
"""

from __future__ import annotations

import json
from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from consortium.canonical import canonical_json
from consortium.ledger.base import VALID, CommittedTx
from consortium.ledger.fabric.errors import FabricError

EVENT_NAME = "tx"


def response_envelope(code: str, message: str, result: Any) -> bytes:
    """The bytes a consortium transaction function returns."""
    return canonical_json({"code": code, "message": message, "result": result})


def parse_envelope(payload: bytes) -> tuple[str, str, Any]:
    """``(code, message, result)`` of a response envelope; `FabricError` if it is not one."""
    try:
        data = json.loads(payload)
        return str(data["code"]), str(data["message"]), data["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FabricError(
            f"the chaincode answered {payload[:80]!r}, not a consortium response envelope: "
            "is [ledger.fabric] chaincode the consortium chaincode?"
        ) from exc


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


def _action_of(payload: common_pb2.Payload) -> tuple[chaincode_pb2.ChaincodeInvocationSpec, Any]:
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    cpp = proposal_pb2.ChaincodeProposalPayload.FromString(cap.chaincode_proposal_payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    return spec, proposal_pb2.ChaincodeAction.FromString(prp.extension)


def committed_from_block(block: common_pb2.Block, chaincode: str) -> list[CommittedTx]:
    """Every transaction of ``chaincode`` in ``block``, valid or not, in block order.

    The Fabric validation code comes from the block's TRANSACTIONS_FILTER metadata; for a
    Fabric-valid transaction the contract's code (VALID or a rejection) comes from its event.
    """
    filters = bytes(block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER])
    out: list[CommittedTx] = []
    for index, raw in enumerate(block.data.data):
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        ch = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        if ch.type != common_pb2.ENDORSER_TRANSACTION:
            continue
        spec, action = _action_of(payload)
        if spec.chaincode_spec.chaincode_id.name != chaincode:
            continue
        event = chaincode_event_pb2.ChaincodeEvent.FromString(action.events)
        if event.event_name != EVENT_NAME:
            continue
        tx = committed_from_event(block.header.number, index, event)
        fabric_code = transaction_pb2.TxValidationCode.Name(filters[index])
        if fabric_code != VALID:
            tx = tx.model_copy(update={"code": fabric_code, "result": None})
        out.append(tx)
    return out
