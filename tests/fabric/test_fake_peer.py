"""The fake peer refuses what a Fabric peer refuses, and orders/validates like one (MVCC)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2, transaction_pb2

from consortium.identity import CertificateAuthority
from consortium.ledger.fabric import messages as m
from consortium.ledger.fabric.fake import FakeGatewayHandle
from consortium.ledger.fabric.signing import P256_N, KeySigner


@pytest.fixture
def stub(fake: FakeGatewayHandle) -> Iterator[gateway_pb2_grpc.GatewayStub]:
    channel = grpc.secure_channel(fake.address, grpc.ssl_channel_credentials(fake.tls_ca_pem))
    yield gateway_pb2_grpc.GatewayStub(channel)
    channel.close()


def _proposal(
    signer: KeySigner,
    *,
    channel: str = "consortium",
    edit: Callable[[common_pb2.ChannelHeader], None] | None = None,
    sign: Callable[[bytes], bytes] | None = None,
) -> tuple[str, proposal_pb2.SignedProposal]:
    spec = m.new_spec(signer, channel, "consortium", m.contract_args("Inc", {"name": "k"}))
    proposal = m.build_proposal(spec)
    if edit is not None:
        header = common_pb2.Header.FromString(proposal.header)
        ch = common_pb2.ChannelHeader.FromString(header.channel_header)
        edit(ch)
        header.channel_header = ch.SerializeToString()
        proposal.header = header.SerializeToString()
    data = proposal.SerializeToString()
    signature = (sign or signer.sign)(data)
    return spec.tx_id, proposal_pb2.SignedProposal(proposal_bytes=data, signature=signature)


def _endorse_error(stub: gateway_pb2_grpc.GatewayStub, signed: proposal_pb2.SignedProposal) -> str:
    with pytest.raises(grpc.RpcError) as info:
        stub.Endorse(
            gateway_pb2.EndorseRequest(channel_id="consortium", proposed_transaction=signed)
        )
    trailers = dict(info.value.trailing_metadata() or ())
    details = trailers.get("grpc-status-details-bin", b"")
    return f"{info.value.code().name} {info.value.details()} {details!r}"


def _high_s(signer: KeySigner) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(signer.sign(data))
        return encode_dss_signature(r, P256_N - s)  # the same signature, high-S form

    return sign


def _set_tx_id(ch: common_pb2.ChannelHeader) -> None:
    ch.tx_id = "00" * 32


def _clear_timestamp(ch: common_pb2.ChannelHeader) -> None:
    ch.ClearField("timestamp")


def _config_type(ch: common_pb2.ChannelHeader) -> None:
    ch.type = common_pb2.CONFIG


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set_tx_id, "invalid txid"),
        (_clear_timestamp, "no timestamp"),
        (_config_type, "invalid header type"),
    ],
)
def test_malformed_headers_are_refused(
    stub: gateway_pb2_grpc.GatewayStub,
    alice: KeySigner,
    edit: Callable[[common_pb2.ChannelHeader], None],
    expected: str,
) -> None:
    _, signed = _proposal(alice, edit=edit)
    assert expected in _endorse_error(stub, signed)


def test_high_s_signature_is_refused_though_mathematically_valid(
    stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner
) -> None:
    _, signed = _proposal(alice, sign=_high_s(alice))
    assert "not low-S" in _endorse_error(stub, signed)


def test_signature_by_another_key_is_refused(
    stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner, bob: KeySigner
) -> None:
    _, signed = _proposal(alice, sign=bob.sign)
    assert "signature is invalid" in _endorse_error(stub, signed)


def test_certificate_from_a_foreign_ca_is_refused(
    stub: gateway_pb2_grpc.GatewayStub, issue: Callable[..., KeySigner]
) -> None:
    mallory = issue(CertificateAuthority.create("elsewhere"), "hospital-a", ["admin"])
    _, signed = _proposal(mallory)
    assert "not issued by the ConsortiumMSP CA" in _endorse_error(stub, signed)


def test_unknown_channel_is_not_found(stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner) -> None:
    # as a Fabric 2.5 gateway: discovery has no chaincode definition on a channel it does not know
    _, signed = _proposal(alice, channel="other")
    error = _endorse_error(stub, signed)
    assert error.startswith("FAILED_PRECONDITION")
    assert "No metadata was found for chaincode consortium in channel other" in error


def _prepared(
    stub: gateway_pb2_grpc.GatewayStub, signer: KeySigner
) -> tuple[str, common_pb2.Envelope]:
    tx_id, signed = _proposal(signer)
    response = stub.Endorse(
        gateway_pb2.EndorseRequest(channel_id="consortium", proposed_transaction=signed)
    )
    return tx_id, response.prepared_transaction


def _status(stub: gateway_pb2_grpc.GatewayStub, signer: KeySigner, tx_id: str) -> int:
    response = stub.CommitStatus(m.commit_status_request(signer, "consortium", tx_id), timeout=10)
    return int(response.result)


def test_submit_requires_the_creators_signature(
    stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner, bob: KeySigner
) -> None:
    _, envelope = _prepared(stub, alice)
    with pytest.raises(grpc.RpcError) as unsigned:
        stub.Submit(
            gateway_pb2.SubmitRequest(channel_id="consortium", prepared_transaction=envelope)
        )
    forged = common_pb2.Envelope(payload=envelope.payload, signature=bob.sign(envelope.payload))
    with pytest.raises(grpc.RpcError) as by_bob:
        stub.Submit(gateway_pb2.SubmitRequest(channel_id="consortium", prepared_transaction=forged))

    assert unsigned.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert by_bob.value.code() == grpc.StatusCode.ABORTED
    assert "FORBIDDEN" in (by_bob.value.details() or "")


def test_concurrent_write_to_a_read_key_is_an_mvcc_conflict(
    stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner, bob: KeySigner
) -> None:
    # Arrange: both endorsed against the same state (both read counter/k, version "absent").
    first_id, first = _prepared(stub, alice)
    second_id, second = _prepared(stub, bob)

    # Act: order them one after the other.
    stub.Submit(
        gateway_pb2.SubmitRequest(
            channel_id="consortium", prepared_transaction=m.sign_envelope(alice, first)
        )
    )
    assert _status(stub, alice, first_id) == transaction_pb2.VALID
    stub.Submit(
        gateway_pb2.SubmitRequest(
            channel_id="consortium", prepared_transaction=m.sign_envelope(bob, second)
        )
    )

    # Assert
    assert _status(stub, bob, second_id) == transaction_pb2.MVCC_READ_CONFLICT


def test_resubmitting_a_committed_transaction_is_a_duplicate(
    fake: FakeGatewayHandle, stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner
) -> None:
    tx_id, prepared = _prepared(stub, alice)
    request = gateway_pb2.SubmitRequest(
        channel_id="consortium", prepared_transaction=m.sign_envelope(alice, prepared)
    )
    stub.Submit(request)
    assert _status(stub, alice, tx_id) == transaction_pb2.VALID
    height = len(fake.gateway.state.blocks)

    stub.Submit(request)

    deadline = time.monotonic() + 5
    while len(fake.gateway.state.blocks) == height and time.monotonic() < deadline:
        time.sleep(0.01)
    last = fake.gateway.state.blocks[height]
    assert last.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] == bytes(
        [transaction_pb2.DUPLICATE_TXID]
    )
    assert _status(stub, alice, tx_id) == transaction_pb2.VALID  # the first outcome stands


def test_commit_status_request_with_a_bad_signature_is_denied(
    stub: gateway_pb2_grpc.GatewayStub, alice: KeySigner, bob: KeySigner
) -> None:
    request = m.commit_status_request(alice, "consortium", "ab" * 32)
    forged = gateway_pb2.SignedCommitStatusRequest(
        request=request.request, signature=bob.sign(request.request)
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.CommitStatus(forged, timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
