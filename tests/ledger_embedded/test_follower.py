"""A node's follower resumes right after the last transaction it read, and stops when the ledger
no longer holds that transaction (cut back, and grown again) rather than skip what is there now."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from consortium.config import ConsortiumConfig
from consortium.ledger.factory import open_ledger
from consortium.node.runner import Node, RewrittenLedger
from consortium.node.state import StateDir

from .copies import flush, restore
from .kv_contract import KVContract


def _node(ledger: object, state: Path) -> Node:
    session = SimpleNamespace(ledger=ledger, state=StateDir(state), task_id="t", roles=frozenset())
    return Node(session)  # type: ignore[arg-type]


def _put(ledger: object, value: str) -> None:
    ledger.submit("Put", {"key": "k", "value": value})  # type: ignore[attr-defined]


def _read_then_cut_back(config: ConsortiumConfig, tmp_path: Path, later: int) -> object:
    """A node reads a ledger of 2 + ``later`` blocks; the file is then replaced by the copy taken
    at 2 blocks (a valid, shorter ledger). Returns a client of the restored ledger."""
    a = open_ledger(config, "a", contract=KVContract())
    _put(a, "1")
    flush(config.ledger_path)
    shutil.copy(config.ledger_path, tmp_path / "old.sqlite")
    for k in range(later):
        _put(a, str(k + 2))
    assert _node(a, tmp_path / "state").follow() > 0
    a.close()
    restore(tmp_path / "old.sqlite", config.ledger_path)
    return open_ledger(config, "b", contract=KVContract())


def test_a_ledger_cut_back_and_grown_again_stops_the_follower(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    b = _read_then_cut_back(config, tmp_path, later=2)
    _put(b, "2'")  # grown again to the height the node read, with other transactions
    _put(b, "3'")

    # reading on from block 4 would skip blocks 2 and 3 as they are now
    with pytest.raises(RewrittenLedger, match="cut back or rewritten"):
        _node(b, tmp_path / "state").follow()
    _put(b, "4'")  # also once the ledger is longer than what the node read
    with pytest.raises(RewrittenLedger):
        _node(b, tmp_path / "state").follow()
    b.close()  # type: ignore[attr-defined]


def test_a_ledger_only_cut_back_stops_the_follower(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    b = _read_then_cut_back(config, tmp_path, later=1)
    with pytest.raises(RewrittenLedger, match="no longer holds transaction"):
        _node(b, tmp_path / "state").follow()
    b.close()  # type: ignore[attr-defined]


def test_the_follower_reads_each_transaction_once_also_after_a_page_ends_mid_block(
    tmp_path: Path,
) -> None:
    from consortium.ledger.base import CommittedTx

    def tx(block: int, index: int) -> CommittedTx:
        return CommittedTx(block_number=block, tx_index=index, tx_id=f"{block}.{index}",
                           fn="SubmitUpdate", args={"task_id": "t"}, creator="a",
                           timestamp_ms=0, code="VALID")  # fmt: skip

    blocks = [[tx(0, 0)], [tx(1, 0), tx(1, 1), tx(1, 2)]]
    ledger = SimpleNamespace(
        transactions=lambda start: iter([t for b in blocks[start:] for t in b])
    )
    node = _node(ledger, tmp_path)
    # state as a kill -9 leaves it after a page saved in the middle of block 1
    node.s.state.write_json({"next_block": 2, "updates": ["0.0", "1.0"], "aggregates": [],
                             "proposals": [], "last": {"block": 1, "tx_id": "1.0"}},
                            "events.json")  # fmt: skip

    assert node.follow() == 2
    blocks.append([tx(2, 0)])
    assert node.follow() == 1
    assert node.follow() == 0
    assert node._events()["updates"] == ["0.0", "1.0", "1.1", "1.2", "2.0"]


def test_a_transaction_id_seen_twice_in_a_block_does_not_make_the_follower_read_again(
    tmp_path: Path,
) -> None:
    # Fabric commits a replayed envelope again, marked DUPLICATE_TXID (the fake peer does too): the
    # same tx id twice in one block. Resuming after the second copy must not match the first one
    # and read again what lies between.
    from consortium.ledger.base import CommittedTx

    def tx(index: int, tx_id: str, code: str = "VALID") -> CommittedTx:
        return CommittedTx(block_number=1, tx_index=index, tx_id=tx_id, fn="SubmitUpdate",
                           args={"task_id": "t"}, creator="a", timestamp_ms=0,
                           code=code)  # fmt: skip

    block = [tx(0, "x"), tx(1, "y"), tx(2, "x", code="DUPLICATE_TXID")]
    ledger = SimpleNamespace(transactions=lambda start: iter(block if start <= 1 else []))
    node = _node(ledger, tmp_path)

    assert node.follow() == 3
    assert node.follow() == 0  # nothing new: the block is read up to its last transaction
    block.append(tx(3, "z"))
    assert node.follow() == 1
    assert node._events()["updates"] == ["x", "y", "z"]


def test_a_fabric_view_behind_what_the_node_read_is_waited_for_not_called_rewritten(
    tmp_path: Path,
) -> None:
    # A Fabric gateway evaluates (qscc GetChainInfo, GetBlockByNumber) on the highest peer of its
    # organisation it can reach, or on another organisation's peer: after a restart the node may
    # read through a peer still catching up, a healthy channel seen from behind. Only a block that
    # is there and holds other transactions shows that the ledger was rewritten.
    from collections.abc import Iterator

    from consortium.ledger.base import CommittedTx
    from consortium.ledger.fabric.client import FabricLedger

    def tx(block: int, tx_id: str) -> CommittedTx:
        return CommittedTx(block_number=block, tx_index=0, tx_id=tx_id, fn="SubmitUpdate",
                           args={"task_id": "t"}, creator="a", timestamp_ms=0,
                           code="VALID")  # fmt: skip

    channel = [[tx(0, "a")], [tx(1, "b")], [tx(2, "c")]]
    seen = {"height": 3}

    def transactions(start: int) -> Iterator[CommittedTx]:  # what the peer answering now holds
        return iter([t for b in channel[start : seen["height"]] for t in b])

    ledger = FabricLedger.__new__(FabricLedger)  # no gateway: only what the follower reads
    ledger.transactions = transactions  # type: ignore[method-assign]
    node = _node(ledger, tmp_path)
    assert node.follow() == 3

    seen["height"] = 2  # the peer answering now is one block behind
    assert node.follow() == 0
    seen["height"] = 3  # caught up
    channel.append([tx(3, "d")])
    seen["height"] = 4
    assert node.follow() == 1
    assert node._events()["updates"] == ["a", "b", "c", "d"]

    channel[3] = [tx(3, "d'")]  # a block that is there with other transactions: rewritten
    with pytest.raises(RewrittenLedger):
        node.follow()
