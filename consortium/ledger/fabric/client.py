"""`FabricLedger`: the consortium `Ledger` over a Fabric 2.5 peer's Gateway gRPC service.

One submit is the Gateway flow of the official clients: build and sign a proposal
(`messages`), **Endorse** (the gateway runs the chaincode on enough peers for the endorsement
policy and returns the prepared transaction), check that the prepared transaction is the one we
proposed, sign it, **Submit** it to the ordering service, then **CommitStatus** until the peer
has validated it. A transaction invalidated by an MVCC read conflict changed nothing, so it is
re-endorsed with a new tx id (the contract re-checks everything against the new state) a bounded
number of times; every other failure is raised as the `errors` class that says what to do.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from consortium.ledger.base import VALID, CommittedTx, ContractError, Ledger, TxResult
from consortium.ledger.fabric import messages as m
from consortium.ledger.fabric.adapter import contract_refusal, parse_envelope
from consortium.ledger.fabric.blocks import committed_from_block
from consortium.ledger.fabric.errors import (
    EndorsementPolicyFailure,
    EndorsementsDiffer,
    FabricError,
    MvccConflict,
    SubmitTimedOut,
    TransactionInvalid,
    classify_rpc_error,
    peer_details,
)
from consortium.ledger.fabric.follower import EventFollower, FileCheckpoint

# Validation codes after which the same call is made again with a new tx id; ENDORSEMENTS_DIFFER
# is ours: the gateway refused to order because its endorsers disagreed (`EndorsementsDiffer`).
RETRYABLE = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT", "ENDORSEMENTS_DIFFER")
MAX_MESSAGE_BYTES = 100 * 1024 * 1024


class FabricLedger(Ledger):
    """A member's client of the consortium chaincode through one gateway peer."""

    # qscc queries go to the highest peer of the gateway's organisation it reaches, else to another
    # organisation's: after a restart that peer may be behind blocks this client read before
    view_may_lag = True

    def __init__(
        self,
        signer: m.Signer,
        *,
        endpoint: str,
        tls_ca_pem: bytes,
        channel: str = "consortium",
        chaincode: str = "consortium",
        server_name_override: str | None = None,
        endorsing_orgs: Sequence[str] = (),
        mvcc_retries: int = 3,
        timeout_s: float = 30.0,
        commit_timeout_s: float = 120.0,
        catch_up_s: float = 1.0,
    ) -> None:
        self.signer = signer
        self.endpoint = endpoint
        self.channel = channel
        self.chaincode = chaincode
        self.endorsing_orgs = list(endorsing_orgs)
        self.mvcc_retries = mvcc_retries
        self.timeout_s = timeout_s
        self.commit_timeout_s = commit_timeout_s
        self.catch_up_s = catch_up_s  # how long a lagging endorser gets before re-endorsing
        # Blocks read through qscc can be large; Fabric's own limit is 100 MB (core.yaml).
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        if server_name_override:
            options += [
                ("grpc.ssl_target_name_override", server_name_override),
                ("grpc.default_authority", server_name_override),
            ]
        credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca_pem)
        self._grpc = grpc.secure_channel(endpoint, credentials, options=options)
        self.stub = gateway_pb2_grpc.GatewayStub(self._grpc)

    def _rpc(self, what: str, method: Any, request: Any, *, refusals: bool = False) -> Any:
        """Call the gateway; with ``refusals``, a chaincode that threw ``"CODE: message"``
        (the plain convention, adapter.py) raises `ContractError`."""
        try:
            return method(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            if refusals:
                said = [d.message for d in peer_details(error)] + [error.details() or ""]
                refused = contract_refusal(said)
                if refused is not None:
                    raise ContractError(*refused) from error
            raise classify_rpc_error(error, endpoint=self.endpoint, what=what) from error

    def _proposal(
        self, chaincode: str, args: list[bytes]
    ) -> tuple[m.ProposalSpec, proposal_pb2.SignedProposal]:
        spec = m.new_spec(self.signer, self.channel, chaincode, args)
        return spec, m.sign_proposal(self.signer, m.build_proposal(spec))

    def _evaluate_raw(self, chaincode: str, args: list[bytes], what: str) -> bytes:
        spec, signed = self._proposal(chaincode, args)
        request = gateway_pb2.EvaluateRequest(
            transaction_id=spec.tx_id, channel_id=self.channel, proposed_transaction=signed
        )
        refusals = chaincode == self.chaincode
        response = self._rpc(what, self.stub.Evaluate, request, refusals=refusals)
        return bytes(response.result.payload)

    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        """Run a query on one peer; raise `ContractError` if the contract refuses it."""
        payload = self._evaluate_raw(self.chaincode, m.contract_args(fn, args), f"query {fn}")
        code, message, result = parse_envelope(payload)
        if code != VALID:
            raise ContractError(code, message)
        return result

    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        """Endorse, sign, order and commit; retry MVCC conflicts, and endorsements that differed
        because a peer lagged a block behind, with a new tx id."""
        attempts = self.mvcc_retries + 1
        for _ in range(attempts):
            result = self._submit_once(fn, args)
            if result.code not in RETRYABLE:
                return result
        if result.code == "ENDORSEMENTS_DIFFER":
            raise EndorsementsDiffer(f"{fn}: {attempts} attempts: {result.message}")
        raise MvccConflict(
            f"{fn}: {attempts} attempts were each invalidated by {result.code} (another member "
            "kept changing the same keys first; last tx "
            f"{result.tx_id[:12]}): retry later, or raise mvcc_retries if this is a hot key"
        )

    def _submit_once(self, fn: str, args: dict[str, Any]) -> TxResult:
        spec, signed = self._proposal(self.chaincode, m.contract_args(fn, args))
        endorse = gateway_pb2.EndorseRequest(
            transaction_id=spec.tx_id,
            channel_id=self.channel,
            proposed_transaction=signed,
            endorsing_organizations=self.endorsing_orgs,
        )
        try:
            response = self._rpc(f"endorse {fn}", self.stub.Endorse, endorse, refusals=True)
        except ContractError as refused:  # plain convention: refused, and not on the ledger
            return TxResult(tx_id=spec.tx_id, code=refused.code, message=refused.message)
        except EndorsementsDiffer as differed:  # a lagging peer: let it commit, then again
            time.sleep(self.catch_up_s)
            return TxResult(tx_id=spec.tx_id, code="ENDORSEMENTS_DIFFER", message=str(differed))
        prepared = response.prepared_transaction
        code, message, result = self._check_prepared(prepared, spec)
        submit = gateway_pb2.SubmitRequest(
            transaction_id=spec.tx_id,
            channel_id=self.channel,
            prepared_transaction=m.sign_envelope(self.signer, prepared),
        )
        # A gateway deadline expired while handing it to the orderers: an orderer may have taken
        # it, so its commit status decides, as after any submit.
        with contextlib.suppress(SubmitTimedOut):
            self._rpc(f"submit {fn}", self.stub.Submit, submit)
        status = self._commit_status(fn, spec.tx_id)
        fabric_code = transaction_pb2.TxValidationCode.Name(status.result)
        block = int(status.block_number)
        if fabric_code == VALID:
            valid_result = result if code == VALID else None
            return TxResult(
                tx_id=spec.tx_id,
                code=code,
                message=message,
                block_number=block,
                result=valid_result,
            )
        if fabric_code in RETRYABLE:
            return TxResult(tx_id=spec.tx_id, code=fabric_code, block_number=block)
        if fabric_code == "ENDORSEMENT_POLICY_FAILURE":
            raise EndorsementPolicyFailure(
                f"{fn}: transaction {spec.tx_id[:12]} was invalidated in block {block} because its "
                "endorsements do not satisfy the chaincode's endorsement policy: start the peers "
                "of the organisations the policy needs (and, if the ledger was opened with the "
                "endorsing_orgs option of open_fabric_ledger, leave it out to let the gateway "
                "choose)"
            )
        raise TransactionInvalid(
            f"{fn}: transaction {spec.tx_id[:12]} was invalidated by the peer ({fabric_code}) in "
            f"block {block}; nothing changed: check the peer's log for this tx id",
            fabric_code,
            spec.tx_id,
        )

    def _check_prepared(
        self, envelope: common_pb2.Envelope, spec: m.ProposalSpec
    ) -> tuple[str, str, Any]:
        """Refuse to sign anything but our own proposal; return the contract's response."""
        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            sig_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
            tx = transaction_pb2.Transaction.FromString(payload.data)
            cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(
                cap.action.proposal_response_payload
            )
            action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        except Exception as exc:
            raise FabricError(
                f"the gateway returned a malformed prepared transaction: {exc}"
            ) from exc
        if (
            header.tx_id != spec.tx_id
            or header.channel_id != spec.channel
            or sig_header.creator != spec.creator
        ):
            raise FabricError(
                "the gateway returned a prepared transaction that is not the one proposed "
                f"(tx {header.tx_id[:12]} instead of {spec.tx_id[:12]}); it was not signed: "
                "check that peer_endpoint is a peer of your consortium"
            )
        return parse_envelope(bytes(action.response.payload))

    def _commit_status(self, fn: str, tx_id: str) -> gateway_pb2.CommitStatusResponse:
        request = m.commit_status_request(self.signer, self.channel, tx_id)
        try:
            return self.stub.CommitStatus(request, timeout=self.commit_timeout_s)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise FabricError(
                    f"{fn}: transaction {tx_id} was submitted but not committed within "
                    f"{self.commit_timeout_s:.0f} s; it may still commit: follow the ledger before "
                    "submitting it again"
                ) from error
            raise classify_rpc_error(
                error, endpoint=self.endpoint, what=f"commit status of {fn}"
            ) from error

    def height(self) -> int:
        """Number of blocks on the channel (qscc GetChainInfo; block 0 is the config block)."""
        raw = self._evaluate_raw("qscc", [b"GetChainInfo", self.channel.encode()], "ledger height")
        return int(ledger_pb2.BlockchainInfo.FromString(raw).height)

    def block(self, number: int) -> common_pb2.Block:
        """One block of the channel (qscc GetBlockByNumber)."""
        args = [b"GetBlockByNumber", self.channel.encode(), str(number).encode()]
        return common_pb2.Block.FromString(self._evaluate_raw("qscc", args, f"block {number}"))

    def transactions(self, start_block: int = 0) -> Iterator[CommittedTx]:
        """The chaincode's committed transactions, read block by block (invalid ones included)."""
        for number in range(start_block, self.height()):
            yield from committed_from_block(self.block(number), self.chaincode)

    def follow(
        self,
        checkpoint: str | None = None,
        *,
        start_block: int | None = 0,
        timeout_s: float | None = None,
    ) -> EventFollower:
        """Follow committed transactions as they commit (ChaincodeEvents), resuming at a checkpoint.

        ``start_block`` applies when the checkpoint file does not exist yet (None: only new
        commits). ``timeout_s`` ends the iteration after that long (None: follow until `close`).
        """
        file = FileCheckpoint(checkpoint) if checkpoint else None
        return EventFollower(self, file, start_block, timeout_s)

    def close(self) -> None:
        """Close the gRPC channel."""
        self._grpc.close()

    def __enter__(self) -> FabricLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
