"""A protocol-level fake of a Fabric 2.5 gateway peer, for tests and simulations without Fabric.

A real gRPC server (TLS, on 127.0.0.1) implementing ``gateway.Gateway`` on the real protobuf
messages. It checks what a peer checks (creator certificate chained to its MSP's CA, low-S
signatures, tx id = SHA-256(nonce ‖ creator), header type, channel, chaincode), runs the Python
contract at Endorse (`fakepeer.Simulator`), returns a signed prepared transaction, orders submitted
transactions into blocks and validates them (endorsement policy, MVCC), and answers CommitStatus,
ChaincodeEvents and the ``qscc`` queries GetChainInfo / GetBlockByNumber as a peer does.

Errors come back the way the Fabric gateway sends them (``api.go``): a gRPC status plus
``gateway.ErrorDetail`` entries, so the client's error mapping is exercised for real.

    handle = serve_fake_gateway(contract, ca_cert_pem)
    ... FabricLedger(identity, endpoint=handle.address, tls_ca_pem=handle.tls_ca_pem, ...)
    handle.stop()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from cryptography import x509
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError

from consortium.identity import DEFAULT_MSP_ID
from consortium.ledger.base import Contract
from consortium.ledger.fabric import fakepeer
from consortium.ledger.fabric.errors import STATUS_TRAILER, PeerDetail, encode_status
from consortium.ledger.fabric.fakeendorser import SYSTEM_CHAINCODES, Endorser, Rejected
from consortium.ledger.fabric.fakepki import peer_identity, tls_material
from consortium.ledger.fabric.messages import decode_proposal

__all__ = ["FakeGateway", "FakeGatewayHandle", "FakeSettings", "serve_fake_gateway"]


def required_endorsements(policy: str, orgs: int) -> int:
    """How many organisations a policy needs: ANY, MAJORITY (Fabric's default) or ALL."""
    return {"ANY": 1, "MAJORITY": orgs // 2 + 1, "ALL": orgs}[policy]


@dataclass
class FakeSettings:
    """Channel, chaincode, endorsing organisations and the orderer's batching."""

    channel: str = "consortium"
    chaincode: str = "consortium"
    peer_orgs: tuple[str, ...] = ("Org1MSP",)
    policy: str = "MAJORITY"  # of peer_orgs, as Fabric's default endorsement policy
    batch_timeout_s: float = 0.01
    max_batch: int = 200
    server_name: str = "peer0.fake.consortium"
    record: bool = False  # keep every request received, for tests that decode them
    # Each waiting CommitStatus and each open ChaincodeEvents stream holds a server thread.
    max_workers: int = 64
    # "envelope" (recommended, adapter.py) or "plain": results as JSON, refusals thrown, no event.
    convention: str = "envelope"
    # Fault: Submit hands the transaction to the orderer, then answers as Fabric's gateway does when
    # its broadcast deadline expires (submit.go: DeadlineExceeded, no details): outcome unknown.
    submit_deadline_after_queue: bool = False


def _abort(
    context: grpc.ServicerContext, code: grpc.StatusCode, message: str, details: list[PeerDetail]
) -> None:
    context.set_trailing_metadata(((STATUS_TRAILER, encode_status(code, message, details)),))
    context.abort(code, message)


class FakeGateway(gateway_pb2_grpc.GatewayServicer):  # type: ignore[misc]
    """The ``gateway.Gateway`` service over one channel and one chaincode."""

    def __init__(
        self, contract: Contract, client_cas: Mapping[str, x509.Certificate], settings: FakeSettings
    ) -> None:
        self.settings = settings
        self.state = fakepeer.WorldState()
        genesis = fakepeer.genesis_envelope(settings.channel)
        self.state.blocks.append(fakepeer.make_block(0, None, [genesis], [transaction_pb2.VALID]))
        self.endorser = Endorser(
            contract, client_cas, settings.channel, settings.chaincode, self.state
        )
        self.endorser.plain = settings.convention == "plain"
        self.peers = {org: peer_identity(org) for org in settings.peer_orgs}
        self.down_orgs: set[str] = set()
        self.after_endorse: Callable[[str], None] | None = None
        # The next this many Endorse calls fail as the real gateway fails when two endorsing
        # peers return different payloads (one lagging a block behind).
        self.differing_endorsements = 0
        self.received: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self._queue: list[common_pb2.Envelope] = []
        self._stopping = False
        self._paused = False
        self._orderer = threading.Thread(target=self._order_loop, name="fake-orderer", daemon=True)
        self._orderer.start()

    def _record(self, method: str, request: Any) -> None:
        if self.settings.record:
            self.received.append((method, request))

    # --- endorsement -----------------------------------------------------------------------
    def _detail(self, message: str) -> PeerDetail:
        org = self.settings.peer_orgs[0]
        return PeerDetail(f"{self.settings.server_name}:7051", org, message)

    def _plan(
        self, requested: list[str], context: grpc.ServicerContext
    ) -> list[fakepeer.EndorsingPeer]:
        """The peers that endorse: the requested organisations, or enough for the policy."""
        up = [p for org, p in self.peers.items() if org not in self.down_orgs]
        if requested:
            missing = [org for org in requested if org not in {p.msp_id for p in up}]
            if missing:  # the real gateway's words (registry.go), without details
                _abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    f"failed to find any endorsing peers for org(s): {', '.join(missing)}",
                    [],
                )
            return [p for p in up if p.msp_id in requested]
        if len(up) < required_endorsements(self.settings.policy, len(self.peers)):
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "no combination of peers can be derived which satisfy the endorsement policy: "
                f"{len(up)} of {len(self.peers)} organisations available, "
                f"policy {self.settings.policy}",
                [],
            )
        return up

    def _route(
        self, signed: proposal_pb2.SignedProposal, call: str, context: grpc.ServicerContext
    ) -> None:
        """Refuse, in the gateway's words and before any peer runs it, a proposal for a channel
        or chaincode this network does not have (Fabric 2.5 ``registry.go``, discovery)."""
        try:
            decoded = decode_proposal(signed.proposal_bytes)
        except DecodeError:
            return  # the endorser's own check reports it
        channel, chaincode = decoded.channel_header.channel_id, decoded.chaincode
        if call == "evaluate":
            if channel != self.settings.channel:
                _abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    f"failed to get config for channel [{channel}]: could not get last config "
                    f"for channel {channel}",
                    [],
                )
            if chaincode not in (self.settings.chaincode, *SYSTEM_CHAINCODES):
                _abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"no peers available to evaluate chaincode {chaincode} in channel {channel}",
                    [],
                )
        elif channel != self.settings.channel or chaincode != self.settings.chaincode:
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "no combination of peers can be derived which satisfy the endorsement policy: "
                f"No metadata was found for chaincode {chaincode} in channel {channel}",
                [],
            )

    def Endorse(
        self, request: gateway_pb2.EndorseRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EndorseResponse:
        """Simulate the proposal, collect endorsements and return the prepared transaction."""
        self._record("Endorse", request)
        self._route(request.proposed_transaction, "endorse", context)
        with self._cond:
            try:
                proposal, action = self.endorser.simulate(request.proposed_transaction, invoke=True)
            except Rejected as r:
                keep = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
                status = r.status if r.status in keep else grpc.StatusCode.ABORTED
                _abort(context, status, r.gateway_message("endorse"), [self._detail(r.message)])
        peers = self._plan(list(request.endorsing_organizations), context)
        if self.differing_endorsements > 0:
            self.differing_endorsements -= 1
            _abort(
                context,
                grpc.StatusCode.ABORTED,
                "failed to collect enough transaction endorsements, see attached details for "
                "more info",
                [self._detail("ProposalResponsePayloads do not match")],
            )
        prp = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=proposal.proposal_hash, extension=action.SerializeToString()
        ).SerializeToString()
        endorsed = transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=prp, endorsements=[p.endorse(prp) for p in peers]
        )
        envelope = proposal.prepared_transaction(endorsed)
        if self.after_endorse is not None:
            self.after_endorse(proposal.tx_id)
        return gateway_pb2.EndorseResponse(prepared_transaction=envelope)

    def Evaluate(
        self, request: gateway_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EvaluateResponse:
        """Run a query (or a ``qscc`` ledger query) and return its response."""
        self._record("Evaluate", request)
        self._route(request.proposed_transaction, "evaluate", context)
        with self._cond:
            try:
                _, action = self.endorser.simulate(
                    request.proposed_transaction, invoke=False, system=self._qscc
                )
            except Rejected as r:
                _abort(context, r.status, r.gateway_message("evaluate"), [self._detail(r.message)])
        return gateway_pb2.EvaluateResponse(result=action.response)

    def _qscc(self, args: list[bytes]) -> bytes:
        fn = args[0].decode() if args else ""
        if fn == "GetChainInfo":
            info = ledger_pb2.BlockchainInfo(
                height=len(self.state.blocks),
                currentBlockHash=fakepeer.block_hash(self.state.blocks[-1].header),
            )
            return bytes(info.SerializeToString())
        if fn == "GetBlockByNumber" and len(args) >= 3:
            number = int(args[2])
            if 0 <= number < len(self.state.blocks):
                return bytes(self.state.blocks[number].SerializeToString())
            raise Rejected(
                grpc.StatusCode.UNKNOWN, f"chaincode response 500, block {number} not found"
            )
        raise Rejected(
            grpc.StatusCode.UNKNOWN, f"chaincode response 500, unknown qscc function {fn}"
        )

    # --- ordering and commit ---------------------------------------------------------------
    def Submit(
        self, request: gateway_pb2.SubmitRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.SubmitResponse:
        """Check the client's signature on the prepared transaction and hand it to the orderer."""
        self._record("Submit", request)
        envelope = request.prepared_transaction
        if not envelope.signature:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "prepared transaction must be signed", []
            )
        if request.channel_id != self.settings.channel:
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"channel '{request.channel_id}' not found",
                [],
            )
        try:
            self.endorser.check_envelope(envelope)
        except Rejected as r:
            _abort(
                context,
                grpc.StatusCode.ABORTED,
                f"received unsuccessful response from orderer: status=FORBIDDEN, info={r.message}",
                [],
            )
        with self._cond:
            self._queue.append(envelope)
            self._cond.notify_all()
        if self.settings.submit_deadline_after_queue:
            _abort(
                context,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "submit timeout expired while broadcasting to ordering service",
                [],
            )
        return gateway_pb2.SubmitResponse()

    def _order_loop(self) -> None:
        while True:
            with self._cond:
                while (not self._queue or self._paused) and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            threading.Event().wait(self.settings.batch_timeout_s)  # let a batch gather
            with self._cond:
                batch = self._queue[: self.settings.max_batch]
                del self._queue[: len(batch)]
                policy_ok = [self._policy_ok(env) for env in batch]
                self.state.append_block(batch, policy_ok)
                self._cond.notify_all()

    def pause_ordering(self) -> None:
        """Hold submitted transactions (they wait for `resume_ordering`), as a slow orderer."""
        with self._cond:
            self._paused = True

    def resume_ordering(self) -> None:
        """Cut the held transactions into blocks (up to ``max_batch`` each)."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def queued(self) -> int:
        """How many submitted transactions wait for ordering."""
        with self._cond:
            return len(self._queue)

    def _policy_ok(self, envelope: common_pb2.Envelope) -> bool:
        payload = common_pb2.Payload.FromString(envelope.payload)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        orgs = fakepeer.endorsing_orgs(cap.action, self.peers)
        return len(orgs) >= required_endorsements(self.settings.policy, len(self.peers))

    def CommitStatus(
        self, signed: gateway_pb2.SignedCommitStatusRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.CommitStatusResponse:
        """Wait until the transaction is committed; return its validation code and block."""
        self._record("CommitStatus", signed)
        request = gateway_pb2.CommitStatusRequest.FromString(signed.request)
        self._check_signed(request.identity, signed.request, signed.signature, context)
        with self._cond:
            while request.transaction_id not in self.state.tx_status:
                if not context.is_active() or self._stopping:
                    context.abort(grpc.StatusCode.CANCELLED, "commit status request cancelled")
                self._cond.wait(0.2)
            block, code = self.state.tx_status[request.transaction_id]
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)

    def _check_signed(
        self, identity: bytes, data: bytes, signature: bytes, context: grpc.ServicerContext
    ) -> None:
        try:
            self.endorser.check_signed(identity, data, signature)
        except Rejected as r:
            _abort(context, grpc.StatusCode.PERMISSION_DENIED, f"access denied: {r.message}", [])

    def ChaincodeEvents(
        self, signed: gateway_pb2.SignedChaincodeEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[gateway_pb2.ChaincodeEventsResponse]:
        """Stream, block by block, the events of valid transactions of the requested chaincode."""
        self._record("ChaincodeEvents", signed)
        request = gateway_pb2.ChaincodeEventsRequest.FromString(signed.request)
        self._check_signed(request.identity, signed.request, signed.signature, context)
        if request.channel_id != self.settings.channel:
            _abort(
                context, grpc.StatusCode.NOT_FOUND, f"channel '{request.channel_id}' not found", []
            )
        number = self._start_block(request)
        passed = not request.after_transaction_id
        while context.is_active():
            with self._cond:
                if number >= len(self.state.blocks):
                    if self._stopping:
                        return
                    self._cond.wait(0.2)
                    continue
                block = self.state.blocks[number]
            events = []
            for event in fakepeer.block_events(block):
                if not passed:
                    passed = event.tx_id == request.after_transaction_id
                elif event.chaincode_id == request.chaincode_id:
                    events.append(event)
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(events=events, block_number=number)
            number += 1

    def _start_block(self, request: gateway_pb2.ChaincodeEventsRequest) -> int:
        with self._cond:
            found = self.state.tx_status.get(request.after_transaction_id)
            if request.after_transaction_id and found:
                return found[0]
            if request.start_position.WhichOneof("Type") == "specified":
                return int(request.start_position.specified.number)
            return len(self.state.blocks)

    def close(self) -> None:
        """Stop the orderer thread and wake every waiting call."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._orderer.join(timeout=2)


@dataclass
class FakeGatewayHandle:
    """A running fake: where it listens, the TLS CA to trust, and `stop()`."""

    server: grpc.Server
    gateway: FakeGateway
    host: str
    port: int
    tls_ca_pem: bytes
    server_name: str
    _stopped: bool = field(default=False, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` for [ledger.fabric] peer_endpoint."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self.gateway.close()
            self.server.stop(grace=None).wait()


def _client_cas(
    ca_cert: str | bytes | Mapping[str, str], msp_id: str
) -> dict[str, x509.Certificate]:
    if isinstance(ca_cert, Mapping):
        return {m: x509.load_pem_x509_certificate(p.encode()) for m, p in ca_cert.items()}
    pem = ca_cert.encode() if isinstance(ca_cert, str) else ca_cert
    return {msp_id: x509.load_pem_x509_certificate(pem)}


def serve_fake_gateway(
    contract: Contract,
    ca_cert: str | bytes | Mapping[str, str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    msp_id: str = DEFAULT_MSP_ID,
    settings: FakeSettings | None = None,
) -> FakeGatewayHandle:
    """Start a fake gateway peer over TLS; ``port=0`` picks a free port.

    ``ca_cert`` is the PEM of the CA that issues the clients' certificates (for ``msp_id``), or a
    mapping MSP id -> CA PEM when clients come from several organisations.
    """
    settings = settings or FakeSettings()
    gateway = FakeGateway(contract, _client_cas(ca_cert, msp_id), settings)
    ca_pem, cert_pem, key_pem = tls_material(settings.server_name, host)
    pool = futures.ThreadPoolExecutor(settings.max_workers, thread_name_prefix="fake-gw")
    server = grpc.server(pool)
    gateway_pb2_grpc.add_GatewayServicer_to_server(gateway, server)
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)])
    bound = server.add_secure_port(f"{host}:{port}", creds)
    if bound == 0:
        gateway.close()
        raise OSError(f"the fake gateway cannot listen on {host}:{port}")
    server.start()
    return FakeGatewayHandle(server, gateway, host, bound, ca_pem, settings.server_name)
