"""`consortium node run` says what its member did: one line per transaction, with its code."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from consortium.ledger.base import CommittedTx
from consortium.node.runner import Node, describe
from consortium.node.state import StateDir


def _tx(index: int, creator: str, fn: str, code: str = "VALID", **args: object) -> CommittedTx:
    return CommittedTx(block_number=3, tx_index=index, tx_id=f"{index:064x}", fn=fn,
                       args={"task_id": "heart", **args}, creator=creator, timestamp_ms=0,
                       code=code)  # fmt: skip


def test_a_node_reports_its_own_transactions_and_nothing_else(tmp_path: Path) -> None:
    txs = [
        _tx(0, "cleveland", "SubmitUpdate", base_version=2, epsilon_spent="1.25"),
        _tx(1, "hungary", "SubmitUpdate", base_version=2, epsilon_spent="0.9"),
        _tx(
            2,
            "cleveland",
            "Endorse",
            "NOT_IN_COMMITTEE",
            update_id="ab" * 32,
            verdict="reject",
            reason="NORM_OUTLIER",
        ),
    ]
    ledger = SimpleNamespace(transactions=lambda start: iter(txs))
    session = SimpleNamespace(ledger=ledger, state=StateDir(tmp_path), task_id="heart",
                              member_id="cleveland", roles=frozenset({"hospital"}))  # fmt: skip
    lines: list[str] = []

    Node(session, report=lines.append).follow()  # type: ignore[arg-type]

    assert lines == [
        "[block 3] SubmitUpdate on version 2, ε so far 1.25 -> VALID",
        "[block 3] Endorse reject NORM_OUTLIER update abababababab -> NOT_IN_COMMITTEE",
    ]


def test_every_kind_of_transaction_has_a_line() -> None:
    assert describe(_tx(0, "agg", "PostAggregate", updates=["a", "b", "c"])) == (
        "[block 3] PostAggregate of 3 updates -> VALID"
    )
    assert describe(_tx(0, "h", "ProposeBlock", height=7)) == (
        "[block 3] ProposeBlock height 7 -> VALID"
    )
    assert describe(_tx(0, "h", "AttestBlock", verdict="accept", proposal_id="cd" * 32)) == (
        "[block 3] AttestBlock accept proposal cdcdcdcdcdcd -> VALID"
    )
    rejected = _tx(0, "h", "AttestBlock", verdict="reject", reason="PROPOSAL_LATE",
                   proposal_id="cd" * 32)  # fmt: skip
    assert describe(rejected) == (
        "[block 3] AttestBlock reject PROPOSAL_LATE proposal cdcdcdcdcdcd -> VALID"
    )
    assert describe(_tx(0, "h", "RevealNonce", update_id="ef" * 32)) == (
        "[block 3] RevealNonce update efefefefefef -> VALID"
    )
    assert describe(_tx(0, "h", "RecordDownload")) == "[block 3] RecordDownload -> VALID"
