"""The fake peer's endorser: the checks a Fabric peer makes on a proposal, then the simulation.

Checks, in the order of Fabric 2.5's ``core/endorser`` and ``core/common/validation``:
the proposal decodes; the header is an ENDORSER_TRANSACTION with a timestamp, for this channel;
the creator is a certificate issued by its MSP's CA and currently valid; the signature over the
exact proposal bytes verifies and is low-S; the nonce is present and the tx id equals
SHA-256(nonce ‖ creator); the chaincode is the one committed on the channel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
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
from google.protobuf.message import DecodeError

from consortium.canonical import CanonicalError, canonical_json
from consortium.identity import cert_attributes, cert_roles
from consortium.ledger.base import VALID, Contract, ContractError, Creator
from consortium.ledger.fabric.adapter import EVENT_NAME, event_payload, response_envelope
from consortium.ledger.fabric.fakepeer import Simulator, WorldState
from consortium.ledger.fabric.messages import DecodedProposal, decode_proposal, transaction_id
from consortium.ledger.fabric.signing import cert_public_key, verify_low_s

SYSTEM_CHAINCODES = ("qscc",)


class Rejected(Exception):
    """A proposal or request the peer refuses; ``status`` is what the gateway's Evaluate returns."""

    def __init__(self, status: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def gateway_message(self, call: str) -> str:
        """The gateway's top-level message for this failure (``api.go``)."""
        if call == "endorse":
            return "failed to endorse transaction, see attached details for more info"
        return f"evaluate call to endorser returned error: {self.message}"


@dataclass(frozen=True)
class CheckedProposal:
    """A proposal that passed the peer's checks, with what is needed to prepare the transaction."""

    decoded: DecodedProposal
    creator: Creator

    @property
    def tx_id(self) -> str:
        return str(self.decoded.channel_header.tx_id)

    @property
    def proposal_hash(self) -> bytes:
        """SHA-256 over channel header, signature header and payload (``GetProposalHash1``)."""
        header = common_pb2.Header.FromString(self.decoded.header_bytes)
        h = hashlib.sha256(header.channel_header + header.signature_header)
        h.update(self.decoded.payload.SerializeToString(deterministic=True))
        return h.digest()

    def prepared_transaction(
        self, action: transaction_pb2.ChaincodeEndorsedAction
    ) -> common_pb2.Envelope:
        """The unsigned transaction envelope the gateway returns from Endorse."""
        header = common_pb2.Header.FromString(self.decoded.header_bytes)
        cap = transaction_pb2.ChaincodeActionPayload(
            chaincode_proposal_payload=self.decoded.payload.SerializeToString(deterministic=True),
            action=action,
        )
        tx = transaction_pb2.Transaction()
        tx.actions.add(header=header.signature_header, payload=cap.SerializeToString())
        payload = common_pb2.Payload(header=header, data=tx.SerializeToString())
        return common_pb2.Envelope(payload=payload.SerializeToString())


class Endorser:
    """Checks proposals and simulates them against the fake's world state."""

    def __init__(
        self,
        contract: Contract,
        client_cas: Mapping[str, x509.Certificate],
        channel: str,
        chaincode: str,
        state: WorldState,
    ) -> None:
        self.contract = contract
        self.client_cas = dict(client_cas)
        self.channel = channel
        self.chaincode = chaincode
        self.state = state
        self.plain = False  # the Fabric samples' convention: refuse by throwing, no event

    def creator(self, identity: bytes) -> Creator:
        """The `Creator` of a serialized identity, refusing certificates its MSP did not issue."""
        try:
            ident = identities_pb2.SerializedIdentity.FromString(identity)
            cert = x509.load_pem_x509_certificate(bytes(ident.id_bytes))
        except (DecodeError, ValueError) as exc:
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION, f"access denied: malformed creator: {exc}"
            ) from exc
        ca = self.client_cas.get(ident.mspid)
        if ca is None:
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"access denied: MSP {ident.mspid} is not defined on the channel",
            )
        now = dt.datetime.now(dt.UTC)
        try:
            cert.verify_directly_issued_by(ca)
            cert_public_key(cert)
        except (ValueError, TypeError) as exc:
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION,
                "access denied: creator certificate is not valid: not issued by the "
                f"{ident.mspid} CA ({exc})",
            ) from exc
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION, "access denied: creator certificate expired"
            )
        attrs = cert_attributes(cert)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        member = attrs.get("consortium.member") or (str(cns[0].value) if cns else "")
        pem = bytes(ident.id_bytes).decode()
        return Creator(member_id=member, msp_id=ident.mspid, roles=cert_roles(cert), cert_pem=pem)

    def check_signed(self, identity: bytes, data: bytes, signature: bytes) -> Creator:
        """The creator of ``identity``, if ``signature`` is its low-S signature of ``data``."""
        creator = self.creator(identity)
        cert = x509.load_pem_x509_certificate(creator.cert_pem.encode())
        if not verify_low_s(cert_public_key(cert), data, signature):
            raise Rejected(
                grpc.StatusCode.FAILED_PRECONDITION,
                "access denied: the creator's signature is invalid (or not low-S)",
            )
        return creator

    def check_envelope(self, envelope: common_pb2.Envelope) -> Creator:
        """The orderer's check of a submitted transaction: signed by its creator."""
        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            sig_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        except DecodeError as exc:
            raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"malformed envelope: {exc}") from exc
        return self.check_signed(sig_header.creator, envelope.payload, envelope.signature)

    def check_proposal(self, signed: proposal_pb2.SignedProposal, system: bool) -> CheckedProposal:
        """Every check a peer makes before running the chaincode."""
        bad = grpc.StatusCode.FAILED_PRECONDITION
        try:
            decoded = decode_proposal(signed.proposal_bytes)
        except DecodeError as exc:
            raise Rejected(
                grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack proposal: {exc}"
            ) from exc
        ch = decoded.channel_header
        if ch.type != common_pb2.ENDORSER_TRANSACTION:
            raise Rejected(bad, f"invalid header type {ch.type}")
        if not ch.HasField("timestamp"):
            raise Rejected(bad, "proposal has no timestamp")
        if ch.channel_id != self.channel:
            raise Rejected(grpc.StatusCode.NOT_FOUND, f"channel '{ch.channel_id}' not found")
        creator = self.check_signed(
            decoded.signature_header.creator, signed.proposal_bytes, signed.signature
        )
        nonce = decoded.signature_header.nonce
        expected = transaction_id(nonce, decoded.signature_header.creator)
        if not nonce or ch.tx_id != expected:
            raise Rejected(bad, f"invalid txid. got [{ch.tx_id}], expected [{expected}]")
        allowed = (self.chaincode, *SYSTEM_CHAINCODES) if system else (self.chaincode,)
        if (
            decoded.chaincode not in allowed
            or decoded.header_extension.chaincode_id.name != decoded.chaincode
        ):
            raise Rejected(
                grpc.StatusCode.ABORTED,
                f"make sure the chaincode {decoded.chaincode} has been successfully defined on "
                f"channel {self.channel} and try again: chaincode definition for "
                f"'{decoded.chaincode}' not found",
            )
        return CheckedProposal(decoded, creator)

    def simulate(
        self,
        signed: proposal_pb2.SignedProposal,
        *,
        invoke: bool,
        system: Callable[[list[bytes]], bytes] | None = None,
    ) -> tuple[CheckedProposal, proposal_pb2.ChaincodeAction]:
        """Check the proposal and run it; the `ChaincodeAction` an endorser would sign."""
        proposal = self.check_proposal(signed, system is not None)
        cc_id = chaincode_pb2.ChaincodeID(name=proposal.decoded.chaincode, version="1.0")
        if system is not None and proposal.decoded.chaincode in SYSTEM_CHAINCODES:
            response = proposal_response_pb2.Response(
                status=200, payload=system(proposal.decoded.args)
            )
            return proposal, proposal_pb2.ChaincodeAction(response=response, chaincode_id=cc_id)
        sim = Simulator(self.state, proposal.tx_id, proposal.decoded.timestamp_ms, proposal.creator)
        fn, params = _call(proposal.decoded.args)
        code, message, result = self._run(sim, fn, params, invoke)
        if self.plain and code != VALID:
            raise Rejected(grpc.StatusCode.UNKNOWN, f"chaincode response 500, {code}: {message}")
        try:
            body = (
                canonical_json(result) if self.plain else response_envelope(code, message, result)
            )
            event = b""
            if invoke and not self.plain:
                event = _event(proposal, self.chaincode, fn, params, (code, message, result))
        except CanonicalError as exc:
            raise Rejected(grpc.StatusCode.UNKNOWN, f"chaincode response 500, {exc}") from exc
        action = proposal_pb2.ChaincodeAction(
            results=sim.rwset_bytes(self.chaincode),
            events=event,
            response=proposal_response_pb2.Response(status=200, payload=body),
            chaincode_id=cc_id,
        )
        return proposal, action

    def _run(
        self, sim: Simulator, fn: str, params: dict[str, Any], invoke: bool
    ) -> tuple[str, str, Any]:
        """The contract's ``(code, message, result)``; a rejection's writes are discarded."""
        try:
            if invoke:
                return VALID, "", self.contract.invoke(sim, fn, params)
            return VALID, "", self.contract.query(sim, fn, params)
        except ContractError as error:
            sim.writes.clear()  # a rejected transaction changes nothing
            return error.code, error.message, None
        except Exception as exc:  # the chaincode failed: no endorsement (status 500)
            raise Rejected(grpc.StatusCode.UNKNOWN, f"chaincode response 500, {exc}") from exc


def _event(
    proposal: CheckedProposal,
    chaincode: str,
    fn: str,
    params: dict[str, Any],
    outcome: tuple[str, str, Any],
) -> bytes:
    """The serialized ``tx`` chaincode event of an invoked transaction (adapter.py)."""
    code, message, result = outcome
    payload = event_payload(
        fn=fn,
        args=params,
        creator=proposal.creator.member_id,
        timestamp_ms=proposal.decoded.timestamp_ms,
        code=code,
        message=message,
        result=result,
    )
    event = chaincode_event_pb2.ChaincodeEvent(
        chaincode_id=chaincode, tx_id=proposal.tx_id, event_name=EVENT_NAME, payload=payload
    )
    return bytes(event.SerializeToString())


def _call(args: list[bytes]) -> tuple[str, dict[str, Any]]:
    if not args:
        raise Rejected(grpc.StatusCode.UNKNOWN, "chaincode response 500, no function name")
    try:
        params = json.loads(args[1]) if len(args) > 1 else {}
    except ValueError as exc:
        raise Rejected(
            grpc.StatusCode.UNKNOWN, f"chaincode response 500, args are not JSON: {exc}"
        ) from exc
    if not isinstance(params, dict):
        raise Rejected(
            grpc.StatusCode.UNKNOWN, "chaincode response 500, args must be a JSON object"
        )
    return args[0].decode(), params
