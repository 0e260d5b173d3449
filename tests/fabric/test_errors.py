"""Each failure a user meets comes out as its own exception, with a message saying what to do."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from consortium.config import ConfigError, ConsortiumConfig
from consortium.identity import CertificateAuthority
from consortium.ledger.fabric import open_fabric_ledger
from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.errors import (
    STATUS_TRAILER,
    AccessDenied,
    ChaincodeFailed,
    ChaincodeNotFound,
    EndorsementPolicyFailure,
    EndorsementsDiffer,
    MvccConflict,
    OrderingFailed,
    PeerDetail,
    PeerUnreachable,
    SubmitTimedOut,
    TlsMismatch,
    classify_rpc_error,
    encode_status,
)
from consortium.ledger.fabric.fake import FakeGatewayHandle
from consortium.ledger.fabric.signing import KeySigner

Connect = Callable[..., FabricLedger]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_peer_down_is_unreachable(alice: KeySigner, fake: FakeGatewayHandle) -> None:
    client = FabricLedger(alice, endpoint=f"127.0.0.1:{_closed_port()}", tls_ca_pem=fake.tls_ca_pem)
    with pytest.raises(PeerUnreachable, match="peer_endpoint"):
        client.submit("Inc", {"name": "x"})


def test_wrong_tls_ca_is_a_tls_error(
    alice: KeySigner, fake: FakeGatewayHandle, ca: CertificateAuthority
) -> None:
    client = FabricLedger(alice, endpoint=fake.address, tls_ca_pem=ca.cert_pem.encode())
    with pytest.raises(TlsMismatch, match="tls_ca"):
        client.evaluate("Get", {"name": "x"})


def test_server_name_override_must_match_the_certificate(
    alice: KeySigner, fake: FakeGatewayHandle
) -> None:
    good = FabricLedger(
        alice,
        endpoint=fake.address,
        tls_ca_pem=fake.tls_ca_pem,
        server_name_override=fake.server_name,
    )
    bad = FabricLedger(
        alice,
        endpoint=fake.address,
        tls_ca_pem=fake.tls_ca_pem,
        server_name_override="peer9.elsewhere",
    )
    assert good.evaluate("Get", {"name": "x"}) == 0
    with pytest.raises(TlsMismatch, match="server_name_override"):
        bad.evaluate("Get", {"name": "x"})


def test_unavailable_organisations_fail_the_endorsement_policy(
    ca: CertificateAuthority,
    alice: KeySigner,
    connect_to: Connect,
    start_fake: Callable[..., FakeGatewayHandle],
) -> None:
    handle = start_fake(ca, peer_orgs=("Org1MSP", "Org2MSP", "Org3MSP"), policy="MAJORITY")
    handle.gateway.down_orgs = {"Org2MSP", "Org3MSP"}
    try:
        with (
            connect_to(handle, alice) as gateway_picks,
            pytest.raises(EndorsementPolicyFailure, match="endorse"),
        ):
            gateway_picks.submit("Inc", {"name": "x"})
        with connect_to(handle, alice, endorsing_orgs=["Org1MSP"]) as client_picks:
            with pytest.raises(EndorsementPolicyFailure, match="invalidated in block"):
                client_picks.submit("Inc", {"name": "x"})
            assert client_picks.evaluate("Get", {"name": "x"}) == 0  # nothing was applied
            [tx] = list(client_picks.transactions())
            assert tx.code == "ENDORSEMENT_POLICY_FAILURE"
        # an organisation named in endorsing_orgs with no peer up: the gateway is not "down"
        with (
            connect_to(handle, alice, endorsing_orgs=["Org1MSP", "Org2MSP"]) as names_down,
            pytest.raises(EndorsementPolicyFailure, match=r"Org2MSP.*endorsing_orgs") as refused,
        ):
            names_down.submit("Inc", {"name": "x"})
        # endorsing_orgs is an option of open_fabric_ledger; consortium.toml has no such key
        assert "[ledger.fabric] endorsing_orgs" not in str(refused.value)
        assert "open_fabric_ledger" in str(refused.value)
        handle.gateway.down_orgs = {"Org3MSP"}
        with connect_to(handle, alice) as recovered:
            assert recovered.submit("Inc", {"name": "x"}).valid
    finally:
        handle.stop()


def _conflict_on_endorse(fake: FakeGatewayHandle, other: FabricLedger, times: int) -> list[str]:
    """Before each of the next ``times`` endorsements returns, commit a write to the same key."""
    conflicts: list[str] = []

    def hook(tx_id: str) -> None:
        if len(conflicts) < times and tx_id not in conflicts:
            conflicts.append(tx_id)
            fake.gateway.after_endorse = None  # the nested submit must not trigger the hook
            other.submit("Inc", {"name": "hot"})
            fake.gateway.after_endorse = hook

    fake.gateway.after_endorse = hook
    return conflicts


def test_mvcc_conflict_is_retried_with_a_new_tx_id(
    fake: FakeGatewayHandle, ledger: FabricLedger, bob: KeySigner, connect_to: Connect
) -> None:
    with connect_to(fake, bob) as other:
        conflicted = _conflict_on_endorse(fake, other, times=1)
        result = ledger.submit("Inc", {"name": "hot"})

    assert result.valid and result.result == {"value": 2, "by": "hospital-a"}
    assert conflicted and result.tx_id not in conflicted
    codes = {t.tx_id: t.code for t in ledger.transactions()}
    assert codes[conflicted[0]] == "MVCC_READ_CONFLICT"
    assert codes[result.tx_id] == "VALID"


def test_mvcc_conflict_gives_up_after_the_retries(
    fake: FakeGatewayHandle, alice: KeySigner, bob: KeySigner, connect_to: Connect
) -> None:
    with connect_to(fake, bob) as other, connect_to(fake, alice, mvcc_retries=1) as client:
        _conflict_on_endorse(fake, other, times=5)
        with pytest.raises(MvccConflict, match="2 attempts"):
            client.submit("Inc", {"name": "hot"})
        assert client.evaluate("Get", {"name": "hot"}) == 2  # only the other member's writes


def test_endorsers_that_disagree_are_asked_again_with_a_new_tx_id(
    fake: FakeGatewayHandle, alice: KeySigner, connect_to: Connect
) -> None:
    # the gateway's answer when one endorsing peer lags a block behind the other
    with connect_to(fake, alice, catch_up_s=0.0) as client:
        fake.gateway.differing_endorsements = 2
        result = client.submit("Inc", {"name": "lag"})
        assert result.valid and result.result == {"value": 1, "by": "hospital-a"}
        assert fake.gateway.differing_endorsements == 0
        assert [t.code for t in client.transactions() if t.tx_id == result.tx_id] == ["VALID"]


def test_endorsers_that_keep_disagreeing_are_reported_as_such(
    fake: FakeGatewayHandle, alice: KeySigner, connect_to: Connect
) -> None:
    with connect_to(fake, alice, catch_up_s=0.0, mvcc_retries=1) as client:
        fake.gateway.differing_endorsements = 5
        # each organisation runs its own chaincode server from its own package (deploy/fabric):
        # the advice is about the code they run, not about one shared package
        with pytest.raises(
            EndorsementsDiffer, match=r"2 attempts.*lags a block behind.*same chaincode build"
        ):
            client.submit("Inc", {"name": "lag"})
        fake.gateway.differing_endorsements = 0
        assert client.evaluate("Get", {"name": "lag"}) == 0  # nothing was ordered


def test_unknown_chaincode_or_channel_is_not_found(
    fake: FakeGatewayHandle, alice: KeySigner, connect_to: Connect
) -> None:
    with connect_to(fake, alice, chaincode="assets") as wrong_cc:
        with pytest.raises(ChaincodeNotFound, match=r"network\.sh deploy"):
            wrong_cc.submit("Inc", {"name": "x"})
        with pytest.raises(ChaincodeNotFound, match="assets"):
            wrong_cc.evaluate("Get", {"name": "x"})
    with connect_to(fake, alice, channel="mychannel") as wrong_channel:
        with pytest.raises(ChaincodeNotFound, match="mychannel"):
            wrong_channel.submit("Inc", {"name": "x"})
        with pytest.raises(ChaincodeNotFound, match=r"\[ledger\.fabric\] channel"):
            wrong_channel.height()


def test_chaincode_crash_is_reported_and_not_recorded(ledger: FabricLedger) -> None:
    height = ledger.height()
    with pytest.raises(ChaincodeFailed, match="boom"):
        ledger.submit("Crash", {})
    assert ledger.height() == height


def test_identity_from_another_ca_is_denied(
    fake: FakeGatewayHandle, issue: Callable[..., KeySigner], connect_to: Connect
) -> None:
    stranger = issue(CertificateAuthority.create("elsewhere"), "hospital-z", ["hospital"])
    with connect_to(fake, stranger) as client, pytest.raises(AccessDenied, match="msp_id"):
        client.submit("Inc", {"name": "x"})


def _config(tmp_path: Path, fabric: str) -> ConsortiumConfig:
    (tmp_path / "consortium.toml").write_text(
        f'name = "t"\n[ledger]\nbackend = "fabric"\n[ledger.fabric]\n{fabric}'
    )
    return ConsortiumConfig.load(tmp_path)


def test_open_fabric_ledger_reads_consortium_toml(
    tmp_path: Path, fake: FakeGatewayHandle, alice: KeySigner
) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_bytes(fake.tls_ca_pem)
    config = _config(
        tmp_path,
        f'peer_endpoint = "{fake.address}"\ntls_ca = "tls/ca.pem"\nmsp_id = "ConsortiumMSP"\n'
        'channel = "consortium"\nchaincode = "consortium"\n'
        f'server_name_override = "{fake.server_name}"\n',
    )
    with open_fabric_ledger(config, alice) as client:
        assert client.submit_ok("Inc", {"name": "cfg"}) == {"value": 1, "by": "hospital-a"}


@pytest.mark.parametrize(
    ("fabric", "expected"),
    [
        ('tls_ca = "tls/ca.pem"\n', "peer_endpoint is not set"),
        ('peer_endpoint = "127.0.0.1:7051"\n', "tls_ca is not set"),
        ('peer_endpoint = "127.0.0.1:7051"\ntls_ca = "missing.pem"\n', "cannot read"),
    ],
)
def test_incomplete_fabric_config_says_what_to_set(
    tmp_path: Path, alice: KeySigner, fabric: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        open_fabric_ledger(_config(tmp_path, fabric), alice)


def test_chaincode_answers_are_read_in_both_conventions() -> None:
    from consortium.ledger.fabric.adapter import contract_refusal, parse_envelope
    from consortium.ledger.fabric.errors import FabricError

    assert parse_envelope(b'{"code":"STALE_BASE","message":"old","result":null}') == (
        "STALE_BASE",
        "old",
        None,
    )
    assert parse_envelope(b'{"code":"x","height":3}') == ("VALID", "", {"code": "x", "height": 3})
    assert parse_envelope(b"[1,2]") == ("VALID", "", [1, 2])
    with pytest.raises(FabricError, match="not JSON"):
        parse_envelope(b"asset1 owned by Tom")
    assert contract_refusal(["chaincode response 500, STALE_BASE: base 3 is too old"]) == (
        "STALE_BASE",
        "base 3 is too old",
    )
    assert contract_refusal(["chaincode response 500, TypeError: x is undefined"]) is None
    assert contract_refusal(["chaincode response 500, boom"]) is None


class _GatewayError(grpc.RpcError):
    """A gateway error as grpc raises it on the client, without a server."""

    def __init__(self, code: grpc.StatusCode, text: str, details: list[PeerDetail]) -> None:
        self._code, self._text = code, text
        self._trailers = ((STATUS_TRAILER, encode_status(code, text, details)),) if details else ()

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._text

    def trailing_metadata(self) -> Any:
        return self._trailers


@pytest.mark.parametrize(
    ("code", "text", "detail", "expected"),
    [
        # the real gateway's words for each case (Fabric 2.5, internal/pkg/gateway)
        (grpc.StatusCode.UNAVAILABLE, "failed to find any endorsing peers for org(s): Org9MSP",
         None, EndorsementPolicyFailure),
        (grpc.StatusCode.FAILED_PRECONDITION,
         'failed constructing descriptor for chaincodes:<name:"consortium" >', None,
         ChaincodeNotFound),
        (grpc.StatusCode.ABORTED, "failed to collect enough transaction endorsements, see "
         "attached details for more info", "ProposalResponsePayloads do not match",
         EndorsementsDiffer),
        (grpc.StatusCode.UNAVAILABLE, "connection refused", None, PeerUnreachable),
        # the chaincode is not committed (or misnamed): Evaluate (registry.go evaluator) ...
        (grpc.StatusCode.FAILED_PRECONDITION,
         "no peers available to evaluate chaincode consortium in channel consortium", None,
         ChaincodeNotFound),
        # ... and Endorse (discovery finds no definition, endorsement.go loadMetadataAndFilters)
        (grpc.StatusCode.FAILED_PRECONDITION,
         "no combination of peers can be derived which satisfy the endorsement policy: No "
         "metadata was found for chaincode consortium in channel consortium", None,
         ChaincodeNotFound),
        # a channel the peer has not joined: the gateway cannot read its config (Evaluate)
        (grpc.StatusCode.UNAVAILABLE, "failed to get config for channel [mychannel]: could not "
         "get last config for channel mychannel", None, ChaincodeNotFound),
        # Submit: every orderer failed (unreachable, or 5xx), or one refused it (a 4xx)
        # (Fabric 2.5 internal/pkg/gateway/submit: "no orderers could successfully process
        # transaction", ErrorDetail per orderer; "received unsuccessful response from orderer")
        (grpc.StatusCode.UNAVAILABLE, "no orderers could successfully process transaction",
         "received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info=no "
         "Raft leader", OrderingFailed),
        (grpc.StatusCode.ABORTED, "received unsuccessful response from orderer: status=FORBIDDEN, "
         "info=implicit policy evaluation failed", None, OrderingFailed),
        # the gateway answered, but its channel config names no orderer it can use (submit.go:
        # Unavailable "no orderer nodes available", no details): not an unreachable peer
        (grpc.StatusCode.UNAVAILABLE, "no orderer nodes available", None, OrderingFailed),
        # the gateway's own deadlines (endorse.go, submit.go: DeadlineExceeded, no details): the
        # peer answered. Endorsing timed out: nothing was ordered ...
        (grpc.StatusCode.DEADLINE_EXCEEDED,
         "endorsement timeout expired while collecting endorsements", None,
         EndorsementPolicyFailure),
        # ... broadcasting timed out: an orderer may have taken it, the outcome is unknown
        (grpc.StatusCode.DEADLINE_EXCEEDED,
         "submit timeout expired while broadcasting to ordering service", None, SubmitTimedOut),
        # ... and a query the peer's chaincode did not answer in time (evaluate.go)
        (grpc.StatusCode.DEADLINE_EXCEEDED, "evaluate timeout expired", None, ChaincodeFailed),
        # the chaincode is there, but too few organisations' peers are up
        (grpc.StatusCode.FAILED_PRECONDITION,
         "no combination of peers can be derived which satisfy the endorsement policy: no peer "
         "combination can satisfy the endorsement policy", None, EndorsementPolicyFailure),
    ],
)  # fmt: skip
def test_gateway_errors_map_to_what_the_user_can_do(
    code: grpc.StatusCode, text: str, detail: str | None, expected: type[Exception]
) -> None:
    details = [PeerDetail("peer0:7051", "Org1MSP", detail)] if detail else []
    error = classify_rpc_error(_GatewayError(code, text, details), endpoint="p:7051", what="x")
    assert type(error) is expected, error
