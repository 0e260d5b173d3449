"""The failures a user of the Fabric backend meets, each with a message saying what to do.

The Fabric Gateway reports problems as gRPC status codes with `gateway.ErrorDetail` messages (one
per peer or orderer that failed) in the standard ``grpc-status-details-bin`` trailer, a serialized
``google.rpc.Status``. `classify_rpc_error` turns that into one of the exceptions below; the
matching is on status codes and on the gateway's and peers' well-known message texts (Fabric 2.5
``internal/pkg/gateway/api.go`` and ``registry.go``, discovery, and the endorser's "chaincode
definition for ... not found").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from consortium.cli._errors import UserError

__all__ = [
    "AccessDenied",
    "ChaincodeFailed",
    "ChaincodeNotFound",
    "EndorsementPolicyFailure",
    "EndorsementsDiffer",
    "FabricError",
    "MvccConflict",
    "OrderingFailed",
    "PeerDetail",
    "PeerUnreachable",
    "SubmitTimedOut",
    "TlsMismatch",
    "TransactionInvalid",
    "classify_rpc_error",
]


class FabricError(UserError):
    """Base of every Fabric backend error; the message says what was wrong and what to do."""


class PeerUnreachable(FabricError):
    """No connection to the gateway peer (down, wrong address or port, firewall)."""


class TlsMismatch(FabricError):
    """The TLS handshake with the peer failed (wrong CA file or host name)."""


class EndorsementPolicyFailure(FabricError):
    """Not enough organisations endorsed the transaction to satisfy the chaincode's policy."""


class EndorsementsDiffer(FabricError):
    """Two endorsing peers simulated the proposal on different states (one had not committed the
    latest block yet): nothing was ordered, and endorsing again after a moment succeeds."""


# The gateway's ErrorDetail for it (Fabric's gateway, endorsement.go).
PAYLOADS_DIFFER = "ProposalResponsePayloads do not match"


class MvccConflict(FabricError):
    """A key the transaction read was changed by another transaction first, retries exhausted."""


class ChaincodeNotFound(FabricError):
    """The chaincode (or channel) named in the configuration is not committed on the peer."""


class AccessDenied(FabricError):
    """The peer refused the identity or its signature (unknown MSP, foreign CA, bad signature)."""


class OrderingFailed(FabricError):
    """The endorsed transaction was not taken by the ordering service: every orderer unreachable
    or failing, or one refusing it (a 4xx status such as FORBIDDEN or BAD_REQUEST). Nothing was
    ordered, so nothing was committed."""


class SubmitTimedOut(FabricError):
    """The gateway's deadline for handing the transaction to the ordering service expired: an
    orderer may have taken it, so whether it commits is unknown until its commit status says
    (`FabricLedger.submit` asks for it, as after any submit)."""


class ChaincodeFailed(FabricError):
    """The chaincode itself failed (threw) while executing; nothing was recorded."""


class TransactionInvalid(FabricError):
    """The peer committed the transaction with a Fabric validation code other than VALID."""

    def __init__(self, message: str, code: str, tx_id: str) -> None:
        super().__init__(message)
        self.code = code
        self.tx_id = tx_id


@dataclass(frozen=True)
class PeerDetail:
    """One `gateway.ErrorDetail`: which node failed and what it said."""

    address: str
    msp_id: str
    message: str


def _status_classes() -> tuple[Any, Any]:
    """Build ``google.rpc.Status`` in a private pool (googleapis-common-protos is not needed).

    ``details`` is declared with a local message that has ``google.protobuf.Any``'s two fields,
    so the wire format is identical.
    """
    fdp = descriptor_pb2.FileDescriptorProto(
        name="consortium_rpc_status.proto", package="consortium.rpc", syntax="proto3"
    )
    any_msg = fdp.message_type.add(name="AnyLike")
    any_msg.field.add(name="type_url", number=1, type=9, label=1)
    any_msg.field.add(name="value", number=2, type=12, label=1)
    status = fdp.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=5, label=1)
    status.field.add(name="message", number=2, type=9, label=1)
    status.field.add(
        name="details", number=3, type=11, label=3, type_name=".consortium.rpc.AnyLike"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    status_cls = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("consortium.rpc.Status")
    )
    any_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("consortium.rpc.AnyLike"))
    return status_cls, any_cls


RpcStatus, RpcAny = _status_classes()
STATUS_TRAILER = "grpc-status-details-bin"
ERROR_DETAIL_URL = "type.googleapis.com/gateway.ErrorDetail"


def encode_status(code: grpc.StatusCode, message: str, details: list[PeerDetail]) -> bytes:
    """A serialized ``google.rpc.Status`` carrying ``gateway.ErrorDetail`` (used by the fake)."""
    from fabric_protos.gateway import gateway_pb2

    status = RpcStatus(code=code.value[0], message=message)
    for d in details:
        detail = gateway_pb2.ErrorDetail(address=d.address, msp_id=d.msp_id, message=d.message)
        status.details.add(type_url=ERROR_DETAIL_URL, value=detail.SerializeToString())
    return bytes(status.SerializeToString())


def peer_details(error: grpc.RpcError) -> list[PeerDetail]:
    """The `gateway.ErrorDetail` entries attached to a gateway error (empty if none)."""
    from fabric_protos.gateway import gateway_pb2

    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    out: list[PeerDetail] = []
    for key, value in trailers or ():
        if key != STATUS_TRAILER:
            continue
        status = RpcStatus.FromString(value)
        for item in status.details:
            if item.type_url.endswith("gateway.ErrorDetail"):
                d = gateway_pb2.ErrorDetail.FromString(item.value)
                out.append(PeerDetail(d.address, d.msp_id, d.message))
    return out


_TLS_WORDS = ("ssl", "tls", "handshake", "certificate", "hostname verification")
# What the gateway itself answers, before any peer runs anything, when the chaincode is not
# committed on the channel or the channel is not one the peer has joined (Fabric 2.5): Evaluate
# finds no peer with the chaincode (registry.go `evaluator`, FAILED_PRECONDITION); Endorse asks
# discovery, which finds no definition (endorsement.go, wrapped in "no combination of peers can be
# derived which satisfy the endorsement policy", FAILED_PRECONDITION); for an unknown channel
# Evaluate cannot read its config (UNAVAILABLE). These come before the checks on the status code
# and on "endorsement policy", which they would otherwise match.
_UNDEFINED_WORDS = (
    "no peers available to evaluate chaincode",
    "no metadata was found for chaincode",
    "could not get last config",
)
# "failed constructing descriptor": the peer's discovery service knows no peer with the chaincode
# installed and committed (what a gateway answers before the chaincode is deployed).
_NOT_FOUND_WORDS = (
    "chaincode definition for",
    "could not find chaincode",
    "not found",
    "failed constructing descriptor",
)


def classify_rpc_error(error: grpc.RpcError, *, endpoint: str, what: str) -> FabricError:
    """Map a gateway gRPC error to the exception a user can act on."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    text = error.details() if hasattr(error, "details") else str(error)
    details = peer_details(error)
    detail_text = "; ".join(f"{d.msp_id or d.address}: {d.message}" for d in details)
    debug = error.debug_error_string() if hasattr(error, "debug_error_string") else ""
    everything = f"{text} {detail_text} {debug}".lower()
    said = f"{text}" + (f" ({detail_text})" if detail_text else "")
    if (
        code == grpc.StatusCode.UNAVAILABLE
        and any(w in everything for w in _TLS_WORDS)
        and not details
    ):
        return TlsMismatch(
            f"TLS handshake with the Fabric peer at {endpoint} failed: check that [ledger.fabric] "
            "tls_ca is the CA that issued the peer's TLS certificate and that "
            "server_name_override matches a name in it"
        )
    if "failed to find any endorsing peers" in everything:  # the gateway is up; those peers not
        return EndorsementPolicyFailure(
            f"{what}: the gateway knows no available peer of an organisation it was asked to "
            f"have endorse ({said}): start that organisation's peers; if the ledger was opened "
            "with endorsing_orgs (an option of open_fabric_ledger, not a consortium.toml key), "
            "correct the MSP ids named there or leave it out to let the gateway choose"
        )
    if any(w in everything for w in _UNDEFINED_WORDS):
        return _not_found(what, said)
    if "received unsuccessful response from orderer" in everything:  # a 4xx: not retried
        return OrderingFailed(
            f"{what}: the orderer refused the transaction ({said}): FORBIDDEN or BAD_REQUEST "
            "mean the channel's policies do not let this identity write (check that its "
            "organisation is a member of the channel with the Writers role) or the transaction "
            "is malformed; nothing was committed"
        )
    if "no orderers could successfully process" in everything:
        return OrderingFailed(
            f"{what}: no orderer took the transaction ({said}): check that the channel's "
            "orderers are running and reachable from the gateway peer (`osnadmin channel list` "
            "on each); nothing was committed, and sending it again once they are up is safe"
        )
    # The gateway's own UNAVAILABLE, without details, before it sends anything (submit.go): the
    # peer answered, so this must not read as an unreachable peer.
    if "no orderer nodes available" in everything:
        return OrderingFailed(
            f"{what}: the gateway peer knows no orderer for the channel ({said}): check the "
            "OrdererEndpoints of the orderer organisation in the channel configuration and that "
            "the orderers are up; nothing was sent, so sending it again is safe"
        )
    # The gateway's own deadlines (Fabric's endorse.go, submit.go and evaluate.go,
    # DeadlineExceeded without details): the peer answered, so none is an unreachable peer.
    if "endorsement timeout expired" in everything:
        return EndorsementPolicyFailure(
            f"{what}: the endorsing peers did not all answer within the gateway's endorsement "
            f"timeout ({said}): nothing was ordered, so sending it again is safe; if it keeps "
            "happening, check that the organisations' peers and chaincode servers are up and not "
            "overloaded"
        )
    if "submit timeout expired" in everything:
        return SubmitTimedOut(
            f"{what}: the gateway peer timed out handing the transaction to the ordering service "
            f"({said}): an orderer may still have taken it, so it may commit; look for it on the "
            "ledger (its commit status) before sending it again"
        )
    if "evaluate timeout expired" in everything:
        return ChaincodeFailed(
            f"{what}: the peer's chaincode did not answer within the gateway's evaluate timeout "
            f"({said}): nothing was recorded; check that the organisation's chaincode server is up "
            "and not overloaded, then ask again"
        )
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not details:
        return PeerUnreachable(
            f"cannot reach the Fabric peer at {endpoint} ({what}: {text}): check that the peer is "
            "running and that [ledger.fabric] peer_endpoint is its gateway address host:port"
        )
    if any(PAYLOADS_DIFFER in d.message for d in details):
        return EndorsementsDiffer(
            f"{what}: the endorsing peers returned different results ({said}): one of them lags "
            "a block behind; it is retried, and if it keeps happening check that every "
            "organisation's chaincode server runs the same chaincode build (chaincode/ at the "
            "same commit) and that every peer is in sync with the channel"
        )
    if "endorsement policy" in everything or "satisfy the endorsement" in everything:
        return EndorsementPolicyFailure(
            f"{what}: not enough organisations endorsed the transaction ({said}): start the "
            "peers of the organisations the chaincode's endorsement policy needs (and, if the "
            "ledger was opened with the endorsing_orgs option of open_fabric_ledger, leave it "
            "out to let the gateway choose)"
        )
    if code == grpc.StatusCode.PERMISSION_DENIED or "access denied" in everything:
        return AccessDenied(
            f"{what}: the peer refused this identity ({said}): check that [ledger.fabric] msp_id "
            "is your organisation's MSP id on the channel and that your certificate was issued by "
            "that organisation's CA"
        )
    if any(w in everything for w in _NOT_FOUND_WORDS) or code == grpc.StatusCode.NOT_FOUND:
        return _not_found(what, said)
    return ChaincodeFailed(f"{what} failed at the peer ({code.name}: {said})")


def _not_found(what: str, said: str) -> ChaincodeNotFound:
    return ChaincodeNotFound(
        f"{what}: the chaincode or channel is not available on the peer ({said}): check "
        "[ledger.fabric] channel and chaincode, and run `deploy/fabric/network.sh deploy` "
        "so the chaincode definition is approved and committed"
    )
