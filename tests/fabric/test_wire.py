"""What the client puts on the wire, decoded with the Fabric protobuf definitions, field by field:
every field a peer validates."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from cryptography import x509
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, transaction_pb2

from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.fake import FakeGatewayHandle
from consortium.ledger.fabric.signing import KeySigner, is_low_s, verify_low_s


def _received(fake: FakeGatewayHandle, method: str) -> list[Any]:
    return [r for m, r in fake.gateway.received if m == method]


def _verifies(signer: KeySigner, data: bytes, signature: bytes) -> bool:
    key = x509.load_pem_x509_certificate(signer.cert_pem.encode()).public_key()
    return verify_low_s(key, data, signature)  # type: ignore[arg-type]


def test_endorse_request_carries_a_proposal_a_peer_accepts(
    fake: FakeGatewayHandle, ledger: FabricLedger, alice: KeySigner
) -> None:
    before_s = time.time()
    result = ledger.submit("Inc", {"name": "x", "note": "é"})

    [request] = _received(fake, "Endorse")
    assert isinstance(request, gateway_pb2.EndorseRequest)
    signed = request.proposed_transaction
    proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    ch = common_pb2.ChannelHeader.FromString(header.channel_header)
    sh = common_pb2.SignatureHeader.FromString(header.signature_header)
    creator = identities_pb2.SerializedIdentity.FromString(sh.creator)
    ext = proposal_pb2.ChaincodeHeaderExtension.FromString(ch.extension)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec

    assert ch.type == common_pb2.ENDORSER_TRANSACTION
    assert ch.channel_id == "consortium" == request.channel_id
    assert ch.epoch == 0
    assert before_s - 1 <= ch.timestamp.seconds <= time.time() + 1
    assert ext.chaincode_id.name == "consortium"
    assert creator.mspid == "ConsortiumMSP"
    assert creator.id_bytes.decode() == alice.cert_pem
    assert len(sh.nonce) == 24
    assert ch.tx_id == hashlib.sha256(sh.nonce + sh.creator).hexdigest()
    assert ch.tx_id == request.transaction_id == result.tx_id
    assert is_low_s(signed.signature)
    assert _verifies(alice, signed.proposal_bytes, signed.signature)
    assert spec.type == chaincode_pb2.ChaincodeSpec.NODE
    assert spec.chaincode_id.name == "consortium"
    assert spec.input.args[0] == b"Inc"
    assert spec.input.args[1] == '{"name":"x","note":"é"}'.encode()
    assert len(spec.input.args) == 2
    assert not payload.TransientMap


def test_submitted_envelope_is_the_prepared_one_signed_by_the_creator(
    fake: FakeGatewayHandle, ledger: FabricLedger, alice: KeySigner
) -> None:
    result = ledger.submit("Inc", {"name": "x"})

    [submit] = _received(fake, "Submit")
    envelope = submit.prepared_transaction
    payload = common_pb2.Payload.FromString(envelope.payload)
    ch = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    sh = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    tx = transaction_pb2.Transaction.FromString(payload.data)

    assert submit.transaction_id == ch.tx_id == result.tx_id
    assert submit.channel_id == "consortium"
    assert (
        identities_pb2.SerializedIdentity.FromString(sh.creator).id_bytes.decode() == alice.cert_pem
    )
    assert len(tx.actions) == 1 and tx.actions[0].header == payload.header.signature_header
    assert is_low_s(envelope.signature)
    assert _verifies(alice, envelope.payload, envelope.signature)


def test_commit_status_and_events_requests_are_signed_by_the_member(
    fake: FakeGatewayHandle, ledger: FabricLedger, alice: KeySigner, tmp_path: Any
) -> None:
    result = ledger.submit("Inc", {"name": "x"})
    list(ledger.follow(start_block=1, timeout_s=0.5))

    [status] = _received(fake, "CommitStatus")
    request = gateway_pb2.CommitStatusRequest.FromString(status.request)
    assert request.transaction_id == result.tx_id and request.channel_id == "consortium"
    assert (
        identities_pb2.SerializedIdentity.FromString(request.identity).id_bytes.decode()
        == alice.cert_pem
    )
    assert _verifies(alice, status.request, status.signature)

    [events] = _received(fake, "ChaincodeEvents")
    ev = gateway_pb2.ChaincodeEventsRequest.FromString(events.request)
    assert (ev.channel_id, ev.chaincode_id) == ("consortium", "consortium")
    assert ev.start_position.specified.number == 1 and ev.after_transaction_id == ""
    assert _verifies(alice, events.request, events.signature)


def test_every_proposal_gets_a_fresh_nonce_and_tx_id(
    fake: FakeGatewayHandle, ledger: FabricLedger
) -> None:
    for _ in range(3):
        ledger.evaluate("Get", {"name": "x"})

    ids = set()
    nonces = set()
    for request in _received(fake, "Evaluate"):
        proposal = proposal_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
        header = common_pb2.Header.FromString(proposal.header)
        nonces.add(common_pb2.SignatureHeader.FromString(header.signature_header).nonce)
        ids.add(common_pb2.ChannelHeader.FromString(header.channel_header).tx_id)
    assert len(ids) == len(nonces) == 3


def test_args_are_canonical_json(fake: FakeGatewayHandle, ledger: FabricLedger) -> None:
    ledger.evaluate("Get", {"name": "x", "b": [2, 1], "a": {"z": 1, "y": None}})

    [request] = _received(fake, "Evaluate")
    proposal = proposal_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    args = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec.input.args
    assert args[1] == b'{"a":{"y":null,"z":1},"b":[2,1],"name":"x"}'
    assert json.loads(args[1]) == {"name": "x", "b": [2, 1], "a": {"z": 1, "y": None}}
