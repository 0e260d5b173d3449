"""The embedded ledger: submission, validation codes, nothing changed by invalid transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from consortium.config import ConsortiumConfig
from consortium.identity import load_identity
from consortium.identity.setup import create_identities
from consortium.ledger.embedded import EmbeddedLedger
from consortium.ledger.embedded.envelope import make_envelope
from consortium.ledger.embedded.verify import verify_ledger

from .conftest import OpenAs
from .kv_contract import KVContract


def _state(config: ConsortiumConfig) -> list[tuple[object, ...]]:
    with sqlite3.connect(config.ledger_path) as conn:
        return conn.execute("SELECT key, value, block, tx FROM state ORDER BY key").fetchall()


def _verify_ok(config: ConsortiumConfig) -> None:
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok, report.failure


def test_valid_transaction_is_committed_in_a_signed_block(open_as: OpenAs) -> None:
    ledger = open_as("a")
    result = ledger.submit("Put", {"key": "x", "value": "1"})
    assert result.valid and result.block_number == 1
    assert ledger.evaluate("Get", {"key": "x"}) == "1"
    assert ledger.height() == 2
    txs = list(ledger.transactions(1))
    assert [(t.fn, t.creator, t.code, t.tx_id) for t in txs] == [
        ("Put", "a", "VALID", result.tx_id)
    ]


def test_contract_rejection_is_kept_and_changes_nothing(
    open_as: OpenAs, config: ConsortiumConfig
) -> None:
    ledger = open_as("a")
    before = _state(config)
    result = ledger.submit("Put", {"key": "x", "value": "reject"})
    assert (result.code, result.valid) == ("REJECTED_VALUE", False)
    assert _state(config) == before
    assert [t.code for t in ledger.transactions(result.block_number or 0)] == ["REJECTED_VALUE"]
    _verify_ok(config)


def test_non_member_certificate_is_unknown_creator(
    open_as: OpenAs, config: ConsortiumConfig, tmp_path: Path
) -> None:
    other = create_identities(tmp_path / "other", "testnet", {"a": ["hospital"]})
    ledger = open_as("a")
    before = _state(config)
    # Same member name, certificate from another CA: the ledger must not take it for "a".
    ledger.identity = load_identity(other.member_msp("a"))
    result = ledger.submit("Put", {"key": "x", "value": "1"})
    assert result.code == "UNKNOWN_CREATOR"
    assert _state(config) == before
    _verify_ok(config)


def test_revoked_member_is_refused(open_as: OpenAs, config: ConsortiumConfig) -> None:
    assert open_as("admin").submit("RevokeMember", {"member_id": "b"}).valid
    before = _state(config)
    assert open_as("b").submit("Put", {"key": "y", "value": "2"}).code == "MEMBER_REVOKED"
    assert _state(config) == before


def test_member_without_the_role_is_refused(open_as: OpenAs, config: ConsortiumConfig) -> None:
    before = _state(config)
    assert open_as("ethics").submit("Put", {"key": "y", "value": "2"}).code == "MISSING_ROLE"
    assert _state(config) == before


def _inject(ledger: EmbeddedLedger, envelope: bytes, signature: bytes) -> int:
    cur = ledger._conn.execute(
        "INSERT INTO pending (envelope, signature, queued_ms) VALUES (?, ?, 0)",
        (envelope, signature),
    )
    return int(cur.lastrowid or 0)


def test_replayed_transaction_is_duplicate_and_changes_nothing(
    open_as: OpenAs, config: ConsortiumConfig
) -> None:
    ledger = open_as("a")
    first = ledger.submit("Put", {"key": "x", "value": "1"})
    env, sig = ledger._conn.execute(
        "SELECT envelope, signature FROM txs WHERE tx_id = ?", (first.tx_id,)
    ).fetchone()
    ledger.submit("Put", {"key": "x", "value": "2"})
    before = _state(config)
    [replay] = ledger._await([_inject(ledger, env, sig)])
    assert (replay.code, replay.tx_id) == ("DUPLICATE_TXID", first.tx_id)
    assert _state(config) == before and ledger.evaluate("Get", {"key": "x"}) == "2"
    _verify_ok(config)


def test_replay_inside_one_block_is_duplicate(open_as: OpenAs) -> None:
    ledger = open_as("a")
    env, sig, _ = make_envelope(ledger.identity, ledger.channel, "Put", {"key": "k", "value": "v"})
    results = ledger._await([_inject(ledger, env, sig), _inject(ledger, env, sig)])
    assert [r.code for r in results] == ["VALID", "DUPLICATE_TXID"]
    assert results[0].block_number == results[1].block_number


def test_forged_signature_and_swapped_creator_are_refused(open_as: OpenAs) -> None:
    a, b = open_as("a"), open_as("b")
    env, sig, _ = make_envelope(a.identity, a.channel, "Put", {"key": "k", "value": "v"})
    forged = env.replace(b'"value":"v"', b'"value":"w"')
    other_sig = b.identity.sign(env)
    results = a._await([_inject(a, forged, sig), _inject(a, env, other_sig)])
    assert [r.code for r in results] == ["BAD_SIGNATURE", "BAD_SIGNATURE"]
    assert a.evaluate("Get", {"key": "k"}) is None


def test_wrong_channel_and_garbage_are_refused(open_as: OpenAs) -> None:
    a = open_as("a")
    env, sig, _ = make_envelope(a.identity, "another-consortium", "Put", {"key": "k", "value": "v"})
    results = a._await([_inject(a, env, sig), _inject(a, b"{not json", b"\x00")])
    assert [r.code for r in results] == ["WRONG_CHANNEL", "MALFORMED_TX"]


def test_submit_many_shares_blocks_and_keeps_order(
    open_as: OpenAs, config: ConsortiumConfig
) -> None:
    ledger = open_as("a")
    results = ledger.submit_many([("Put", {"key": f"k{i}", "value": str(i)}) for i in range(50)])
    assert all(r.valid for r in results)
    assert len({r.block_number for r in results}) == 1
    committed = [t.tx_id for t in ledger.transactions(results[0].block_number or 0)]
    assert committed == [r.tx_id for r in results]
    _verify_ok(config)


def test_follow_resumes_from_its_checkpoint(open_as: OpenAs, tmp_path: Path) -> None:
    ledger = open_as("a")
    for i in range(3):
        ledger.submit("Put", {"key": f"k{i}", "value": "v"})
    checkpoint = tmp_path / "follow.ckpt"
    seen = [t.block_number for t in ledger.follow(checkpoint, poll_s=0.0, until=lambda: True)]
    assert seen == [0, 1, 2, 3]
    ledger.submit("Put", {"key": "k9", "value": "v"})
    follower = open_as("b")  # a restarted process: new client, same checkpoint file
    again = [t.block_number for t in follower.follow(checkpoint, poll_s=0.0, until=lambda: True)]
    assert again == [4] and checkpoint.read_text() == "5"


def test_admin_registers_a_member_that_can_then_submit(
    open_as: OpenAs, config: ConsortiumConfig
) -> None:
    from consortium.identity.setup import add_member_identity
    from consortium.ledger.factory import genesis_args

    add_member_identity(config, "zurich", ["hospital"])
    config.save()
    record = next(m for m in genesis_args(config)["members"] if m["member_id"] == "zurich")
    assert open_as("zurich").submit("Put", {"key": "z", "value": "1"}).code == "NOT_A_MEMBER"
    assert open_as("admin").submit("RegisterMember", record).valid
    assert open_as("zurich").submit("Put", {"key": "z", "value": "1"}).valid
    _verify_ok(config)


def test_threads_share_one_client(open_as: OpenAs, config: ConsortiumConfig) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ledger = open_as("a")

    def work(t: int) -> list[str]:
        return [ledger.submit("Put", {"key": f"t{t}/{i}", "value": "v"}).code for i in range(25)]

    with ThreadPoolExecutor(4) as pool:
        codes = [code for chunk in pool.map(work, range(4)) for code in chunk]
    assert codes == ["VALID"] * 100
    assert sum(1 for t in ledger.transactions(1) if t.code == "VALID") == 100
    _verify_ok(config)


def test_float_arguments_are_refused_before_signing(open_as: OpenAs) -> None:
    import pytest

    from consortium.canonical import CanonicalError

    ledger = open_as("a")
    height = ledger.height()
    with pytest.raises(CanonicalError, match=r"float at \$\.args\.value"):
        ledger.submit("Put", {"key": "x", "value": 0.5})
    assert ledger.height() == height
