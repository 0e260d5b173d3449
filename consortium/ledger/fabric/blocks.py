"""Reading the consortium's transactions out of Fabric blocks (as returned by qscc).

A block holds each transaction's envelope and, in its TRANSACTIONS_FILTER metadata, the Fabric
validation code of each. For a transaction of the consortium chaincode the `CommittedTx` comes from
its ``tx`` event when the chaincode emits one (adapter.py); otherwise it is rebuilt from the
transaction itself: function and arguments from the invocation spec, creator from the signing
certificate, time from the channel header, result from the endorsed response.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from consortium.identity import cert_attributes
from consortium.ledger.base import VALID, CommittedTx
from consortium.ledger.fabric.adapter import EVENT_NAME, committed_from_event, parse_envelope


def member_id_of(creator: bytes) -> str:
    """The member id of a serialized identity: ``consortium.member`` attribute, else the CN."""
    ident = identities_pb2.SerializedIdentity.FromString(creator)
    cert = x509.load_pem_x509_certificate(bytes(ident.id_bytes))
    member = cert_attributes(cert).get("consortium.member")
    if member:
        return member
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _action_of(
    payload: common_pb2.Payload,
) -> tuple[chaincode_pb2.ChaincodeInvocationSpec, proposal_pb2.ChaincodeAction]:
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    cpp = proposal_pb2.ChaincodeProposalPayload.FromString(cap.chaincode_proposal_payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    return spec, proposal_pb2.ChaincodeAction.FromString(prp.extension)


def _rebuilt(
    number: int, index: int, payload: common_pb2.Payload, spec: Any, action: Any
) -> CommittedTx:
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    signer = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    args = list(spec.chaincode_spec.input.args)
    code, _, result = parse_envelope(bytes(action.response.payload))
    return CommittedTx(
        block_number=number,
        tx_index=index,
        tx_id=header.tx_id,
        fn=args[0].decode() if args else "",
        args=json.loads(args[1]) if len(args) > 1 else {},
        creator=member_id_of(signer.creator),
        timestamp_ms=header.timestamp.seconds * 1000 + header.timestamp.nanos // 1_000_000,
        code=code,
        result=result,
    )


def committed_from_block(block: common_pb2.Block, chaincode: str) -> list[CommittedTx]:
    """Every transaction of ``chaincode`` in ``block``, valid or not, in block order.

    A Fabric-invalid transaction (MVCC conflict, policy failure...) carries the Fabric code and no
    result; it changed nothing.
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
        if event.event_name == EVENT_NAME:
            tx = committed_from_event(block.header.number, index, event)
        else:
            tx = _rebuilt(block.header.number, index, payload, spec, action)
        fabric_code = transaction_pb2.TxValidationCode.Name(filters[index])
        if fabric_code != VALID:
            tx = tx.model_copy(update={"code": fabric_code, "result": None})
        out.append(tx)
    return out
