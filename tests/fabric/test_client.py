"""`FabricLedger` against the fake gateway: submit, evaluate, read blocks, follow (checkpoint)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from consortium.ledger.base import VALID, ContractError, LedgerRejected
from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.fake import FakeGatewayHandle
from consortium.ledger.fabric.signing import KeySigner


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_submit_commits_and_evaluate_sees_it(ledger: FabricLedger) -> None:
    first = ledger.submit("Inc", {"name": "x"})
    second = ledger.submit("Inc", {"name": "x"})

    assert first.valid and second.valid
    assert first.result == {"value": 1, "by": "hospital-a"}
    assert second.result == {"value": 2, "by": "hospital-a"}
    assert second.block_number is not None and first.block_number is not None
    assert second.block_number > first.block_number
    assert ledger.evaluate("Get", {"name": "x"}) == 2
    assert ledger.height() == second.block_number + 1


def test_contract_rejection_is_kept_with_its_code_and_changes_nothing(ledger: FabricLedger) -> None:
    result = ledger.submit("Refuse", {})

    assert result.code == "NOT_ALLOWED" and result.message == "refused on purpose"
    assert result.block_number is not None  # it is on the ledger, in a block
    assert ledger.evaluate("List", {}) == []  # its write was discarded
    with pytest.raises(LedgerRejected, match="NOT_ALLOWED"):
        ledger.submit_ok("Refuse", {})


def test_query_rejection_raises_the_contract_error(ledger: FabricLedger) -> None:
    with pytest.raises(ContractError) as info:
        ledger.evaluate("Nope", {})
    assert info.value.code == "UNKNOWN_FUNCTION"


def test_transactions_lists_valid_and_rejected_in_order(
    ledger: FabricLedger,
    bob: KeySigner,
    fake: FakeGatewayHandle,
    connect_to: Callable[..., FabricLedger],
) -> None:
    ledger.submit("Inc", {"name": "a"})
    ledger.submit("Refuse", {})
    with connect_to(fake, bob) as other:
        other.submit("Inc", {"name": "a"})

    txs = list(ledger.transactions())

    assert [(t.fn, t.code, t.creator) for t in txs] == [
        ("Inc", VALID, "hospital-a"),
        ("Refuse", "NOT_ALLOWED", "hospital-a"),
        ("Inc", VALID, "hospital-b"),
    ]
    assert [t.block_number for t in txs] == sorted(t.block_number for t in txs)
    assert txs[2].result == {"value": 2, "by": "hospital-b"}
    assert txs[0].args == {"name": "a"} and txs[0].timestamp_ms > 0
    assert list(ledger.transactions(start_block=txs[2].block_number)) == txs[2:]


def test_follow_resumes_from_its_checkpoint_without_gaps_or_repeats(
    ledger: FabricLedger, tmp_path: Path
) -> None:
    ids = [ledger.submit("Inc", {"name": str(i)}).tx_id for i in range(4)]
    checkpoint = str(tmp_path / "follow.json")

    seen = []
    follower = ledger.follow(checkpoint, timeout_s=5)
    for tx in follower:
        seen.append(tx)
        if len(seen) == 2:
            break  # crash while handling the second one: it was never acknowledged
    follower.close()
    saved = json.loads(Path(checkpoint).read_text())
    ids.append(ledger.submit("Inc", {"name": "late"}).tx_id)
    resumed = [tx.tx_id for tx in ledger.follow(checkpoint, timeout_s=1.0)]

    assert saved["block_number"] == seen[1].block_number and saved["tx_id"] == ""
    assert [t.tx_id for t in seen] + resumed[1:] == ids
    assert resumed[0] == seen[1].tx_id  # at-least-once: the unacknowledged event comes again


def test_follow_checkpoint_inside_a_block_skips_handled_transactions(
    ledger: FabricLedger, fake: FakeGatewayHandle, tmp_path: Path
) -> None:
    fake.gateway.pause_ordering()  # three submissions wait, then share one block
    with ThreadPoolExecutor(3) as pool:
        pending = [pool.submit(ledger.submit, "Inc", {"name": f"b{i}"}) for i in range(3)]
        _wait_for(lambda: fake.gateway.queued() == 3)
        fake.gateway.resume_ordering()
        results = [p.result(timeout=10) for p in pending]
    assert len({r.block_number for r in results}) == 1
    checkpoint = str(tmp_path / "cp.json")
    follower = ledger.follow(checkpoint, timeout_s=5)
    stream = iter(follower)
    first = next(stream)
    second = next(stream)  # asking for it acknowledged `first`; `second` is never acknowledged
    follower.close()

    rest = list(ledger.follow(checkpoint, timeout_s=1.0))

    assert rest[0].tx_id == second.tx_id
    assert [t.tx_index for t in [first, *rest]] == [0, 1, 2]
    assert {first.tx_id, *(t.tx_id for t in rest)} == {r.tx_id for r in results}


def test_follow_delivers_new_commits_live(
    ledger: FabricLedger,
    fake: FakeGatewayHandle,
    bob: KeySigner,
    connect_to: Callable[..., FabricLedger],
) -> None:
    follower = ledger.follow(start_block=ledger.height(), timeout_s=10)
    got: list[str] = []

    def consume() -> None:
        for tx in follower:
            got.append(f"{tx.fn}:{tx.creator}")
            if len(got) == 2:
                follower.close()

    thread = threading.Thread(target=consume)
    thread.start()
    with connect_to(fake, bob) as other:
        other.submit("Inc", {"name": "live"})
        other.submit("Refuse", {})
    thread.join(timeout=10)

    assert got == ["Inc:hospital-b", "Refuse:hospital-b"]


def test_concurrent_increments_serialize_through_mvcc_retries(
    fake: FakeGatewayHandle,
    alice: KeySigner,
    bob: KeySigner,
    connect_to: Callable[..., FabricLedger],
) -> None:
    fake.gateway.settings.batch_timeout_s = 0.05  # concurrent submissions share blocks
    clients = [connect_to(fake, s, mvcc_retries=8) for s in (alice, bob, alice, bob)]

    def work(client: FabricLedger) -> list[int]:
        return [client.submit_ok("Inc", {"name": "hot"})["value"] for _ in range(2)]

    with ThreadPoolExecutor(len(clients)) as pool:
        values = [v for vs in pool.map(work, clients) for v in vs]
    for client in clients:
        client.close()

    assert sorted(values) == list(range(1, 9))  # every increment saw the previous one
    with connect_to(fake, alice) as reader:
        assert reader.evaluate("Get", {"name": "hot"}) == 8
        codes = [t.code for t in reader.transactions()]
    assert codes.count("VALID") == 8
    assert set(codes) <= {"VALID", "MVCC_READ_CONFLICT"}


@pytest.fixture
def plain(
    ca: Any, alice: KeySigner, start_fake: Callable[..., FakeGatewayHandle]
) -> Iterator[FabricLedger]:
    """A client of a chaincode in the Fabric samples' convention (throws to refuse, no events)."""
    handle = start_fake(ca, convention="plain")
    client = FabricLedger(alice, endpoint=handle.address, tls_ca_pem=handle.tls_ca_pem)
    yield client
    client.close()
    handle.stop()


def test_plain_convention_results_and_refusals(plain: FabricLedger) -> None:
    ok = plain.submit("Inc", {"name": "x"})
    refused = plain.submit("Refuse", {})

    assert ok.valid and ok.result == {"value": 1, "by": "hospital-a"} and ok.block_number
    assert refused.code == "NOT_ALLOWED" and refused.message == "refused on purpose"
    assert refused.block_number is None  # a thrown refusal is never ordered
    assert plain.evaluate("Get", {"name": "x"}) == 1
    with pytest.raises(ContractError) as info:
        plain.evaluate("Nope", {})
    assert info.value.code == "UNKNOWN_FUNCTION"


def test_plain_convention_transactions_are_rebuilt_from_blocks(plain: FabricLedger) -> None:
    first = plain.submit("Inc", {"name": "y"})
    plain.submit("Refuse", {})
    second = plain.submit("Inc", {"name": "y"})

    txs = list(plain.transactions())

    assert [(t.tx_id, t.fn, t.code, t.creator) for t in txs] == [
        (first.tx_id, "Inc", VALID, "hospital-a"),
        (second.tx_id, "Inc", VALID, "hospital-a"),
    ]
    assert txs[1].args == {"name": "y"} and txs[1].result == {"value": 2, "by": "hospital-a"}
    assert txs[0].timestamp_ms > 0 and txs[1].block_number == second.block_number


def test_a_submit_that_timed_out_at_the_gateway_is_followed_to_its_commit(
    fake: FakeGatewayHandle, ledger: FabricLedger
) -> None:
    """The gateway's broadcast deadline can expire after an orderer took the transaction (Fabric's
    submit.go: DeadlineExceeded "submit timeout expired while broadcasting to ordering service"):
    its outcome is unknown, not a failure, so the client asks for its commit status as after any
    submit, and reports it committed rather than "cannot reach the peer"."""
    fake.gateway.settings.submit_deadline_after_queue = True

    result = ledger.submit("Inc", {"name": "late"})

    assert result.code == VALID
    fake.gateway.settings.submit_deadline_after_queue = False
    assert ledger.evaluate("Get", {"name": "late"}) == 1
