"""Building and reading the protobuf messages of the Fabric Gateway protocol.

What is built here is what a Fabric 2.5 peer validates (``core/common/validation/msgvalidation.go``
and ``protoutil``), in the shapes the official fabric-gateway client produces:

- ``Proposal.header`` is a ``common.Header``: a ``ChannelHeader`` (type ENDORSER_TRANSACTION,
  channel, tx id, timestamp, epoch 0, extension ``ChaincodeHeaderExtension{chaincode_id}``) and a
  ``SignatureHeader`` (creator = ``msp.SerializedIdentity{mspid, id_bytes = PEM certificate}``,
  24 random bytes of nonce).
- The tx id is ``hex(SHA-256(nonce ‖ creator))``: the peer recomputes it and refuses a proposal
  whose id does not match (``BAD_PROPOSAL_TXID``), which binds the id to the signer and makes it
  unpredictable to anyone else, so nobody can pre-empt (squat) a member's transaction id.
- ``Proposal.payload`` is a ``ChaincodeProposalPayload`` whose ``input`` is a
  ``ChaincodeInvocationSpec`` (type NODE, chaincode name, args ``[fn, canonical JSON args]``).
- Every signed thing (proposal bytes, prepared transaction payload, commit-status and
  chaincode-events requests) is signed as raw bytes with ECDSA P-256 over SHA-256, low-S DER.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from google.protobuf import timestamp_pb2

from consortium.canonical import canonical_json

NONCE_BYTES = 24  # as the fabric-gateway clients; the peer only requires a non-empty nonce


class Signer(Protocol):
    """What the backend needs of an identity (`consortium.identity.Identity` satisfies it)."""

    @property
    def msp_id(self) -> str: ...

    @property
    def cert_pem(self) -> str: ...

    def sign(self, data: bytes) -> bytes:
        """Low-S DER ECDSA P-256 signature over SHA-256(data)."""
        ...


def creator_bytes(msp_id: str, cert_pem: str) -> bytes:
    """The serialized identity Fabric puts in every header: ``SerializedIdentity{mspid, PEM}``."""
    ident = identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=cert_pem.encode())
    return bytes(ident.SerializeToString())


def transaction_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's tx id: lower-case hex SHA-256 of the nonce followed by the creator bytes."""
    return hashlib.sha256(nonce + creator).hexdigest()


@dataclass(frozen=True)
class ProposalSpec:
    """Everything that goes into one chaincode proposal."""

    channel: str
    chaincode: str
    args: tuple[bytes, ...]
    creator: bytes
    nonce: bytes
    timestamp_ns: int

    @property
    def tx_id(self) -> str:
        return transaction_id(self.nonce, self.creator)


def new_spec(signer: Signer, channel: str, chaincode: str, args: list[bytes]) -> ProposalSpec:
    """A fresh proposal spec: new random nonce (hence a new tx id) and the current time."""
    return ProposalSpec(
        channel=channel,
        chaincode=chaincode,
        args=tuple(args),
        creator=creator_bytes(signer.msp_id, signer.cert_pem),
        nonce=os.urandom(NONCE_BYTES),
        timestamp_ns=time.time_ns(),
    )


def contract_args(fn: str, args: dict[str, Any]) -> list[bytes]:
    """Chaincode args for a consortium call: the function name and its canonical JSON argument."""
    return [fn.encode(), canonical_json(args)]


def build_proposal(spec: ProposalSpec) -> proposal_pb2.Proposal:
    """The unsigned ``Proposal`` for ``spec``."""
    cc_id = chaincode_pb2.ChaincodeID(name=spec.chaincode)
    timestamp = timestamp_pb2.Timestamp(
        seconds=spec.timestamp_ns // 1_000_000_000, nanos=spec.timestamp_ns % 1_000_000_000
    )
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        channel_id=spec.channel,
        tx_id=spec.tx_id,
        timestamp=timestamp,
        epoch=0,
        extension=proposal_pb2.ChaincodeHeaderExtension(chaincode_id=cc_id).SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=spec.creator, nonce=spec.nonce)
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    invocation = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=chaincode_pb2.ChaincodeSpec.NODE,
            chaincode_id=cc_id,
            input=chaincode_pb2.ChaincodeInput(args=list(spec.args)),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=invocation.SerializeToString())
    return proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )


def sign_proposal(signer: Signer, proposal: proposal_pb2.Proposal) -> proposal_pb2.SignedProposal:
    """``SignedProposal{proposal_bytes, signature over exactly those bytes}``."""
    data = proposal.SerializeToString()
    return proposal_pb2.SignedProposal(proposal_bytes=data, signature=signer.sign(data))


def sign_envelope(signer: Signer, envelope: common_pb2.Envelope) -> common_pb2.Envelope:
    """Sign the prepared transaction returned by Endorse (its ``payload`` bytes, unchanged)."""
    return common_pb2.Envelope(payload=envelope.payload, signature=signer.sign(envelope.payload))


def commit_status_request(
    signer: Signer, channel: str, tx_id: str
) -> gateway_pb2.SignedCommitStatusRequest:
    """A signed request for a transaction's validation code."""
    request = gateway_pb2.CommitStatusRequest(
        transaction_id=tx_id,
        channel_id=channel,
        identity=creator_bytes(signer.msp_id, signer.cert_pem),
    ).SerializeToString()
    return gateway_pb2.SignedCommitStatusRequest(request=request, signature=signer.sign(request))


def chaincode_events_request(
    signer: Signer, channel: str, chaincode: str, start_block: int | None, after_tx_id: str
) -> gateway_pb2.SignedChaincodeEventsRequest:
    """A signed request for chaincode events from ``start_block`` (None: from the next commit).

    ``after_tx_id`` skips the events of that block up to and including that transaction: with a
    checkpoint (block, tx id) a restarted follower neither misses nor repeats an event.
    """
    if start_block is None:
        position = ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    else:
        position = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    request = gateway_pb2.ChaincodeEventsRequest(
        channel_id=channel,
        chaincode_id=chaincode,
        identity=creator_bytes(signer.msp_id, signer.cert_pem),
        start_position=position,
        after_transaction_id=after_tx_id,
    ).SerializeToString()
    return gateway_pb2.SignedChaincodeEventsRequest(request=request, signature=signer.sign(request))


@dataclass(frozen=True)
class DecodedProposal:
    """The fields of a proposal a peer looks at, decoded (used by the fake and the tests)."""

    header_bytes: bytes
    channel_header: common_pb2.ChannelHeader
    signature_header: common_pb2.SignatureHeader
    header_extension: proposal_pb2.ChaincodeHeaderExtension
    payload: proposal_pb2.ChaincodeProposalPayload
    invocation: chaincode_pb2.ChaincodeInvocationSpec
    identity: identities_pb2.SerializedIdentity

    @property
    def args(self) -> list[bytes]:
        return list(self.invocation.chaincode_spec.input.args)

    @property
    def chaincode(self) -> str:
        return str(self.invocation.chaincode_spec.chaincode_id.name)

    @property
    def timestamp_ms(self) -> int:
        ts = self.channel_header.timestamp
        return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def decode_proposal(proposal_bytes: bytes) -> DecodedProposal:
    """Decode a ``Proposal`` down to its chaincode args (raises ``DecodeError`` if malformed)."""
    proposal = proposal_pb2.Proposal.FromString(proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    return DecodedProposal(
        header_bytes=bytes(proposal.header),
        channel_header=channel_header,
        signature_header=signature_header,
        header_extension=proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension),
        payload=payload,
        invocation=chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input),
        identity=identities_pb2.SerializedIdentity.FromString(signature_header.creator),
    )
