"""A ledger whose last block was deleted (by a tamperer, or lost with a damaged disk) fails
verification naming the missing block, where the chain ends, what says it should go further (the
block's stored transactions, the world state or the anchor), and what to do."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.embedded.verify import VerifyFailure, verify_ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger

from .copies import flush
from .kv_contract import KVContract

LAST = 4  # `sealed` has blocks 0..4; block 4 holds a valid Put of k1 (and a rejected Put)


def _without_last_block(sealed: tuple[Path, Path], tmp_path: Path, *, txs_too: bool) -> Path:
    source, _ = sealed
    target = tmp_path / "ledger.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        if txs_too:
            conn.execute("DELETE FROM txs WHERE block_number = ?", (LAST,))
        conn.execute("DELETE FROM blocks WHERE number = ?", (LAST,))
    return target


def _failure(target: Path, ca: Path, anchor: tuple[int, str] | None = None) -> VerifyFailure:
    report = verify_ledger(target, ca, KVContract(), anchor=anchor)
    assert not report.ok and report.failure is not None
    return report.failure


def _says_what_to_do(reason: str) -> None:
    assert "stop the nodes that use this file" in reason
    assert "restore the ledger from a backup or another member's copy" in reason


def test_a_deleted_last_block_header_is_named_by_its_stored_transactions(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    # Arrange: only the block row is gone; its two transactions are still stored
    target = _without_last_block(sealed, tmp_path, txs_too=False)
    # Act
    failure = _failure(target, sealed[1])
    # Assert
    assert failure.block == LAST
    assert f"the chain ends at block {LAST - 1}" in failure.reason
    assert f"2 transaction(s) of block {LAST} are stored" in failure.reason
    _says_what_to_do(failure.reason)


def test_a_deleted_last_block_is_named_by_the_world_state_it_wrote(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    # Arrange: the block and its transactions are gone; its write (k1) stays in the world state
    target = _without_last_block(sealed, tmp_path, txs_too=True)
    # Act
    failure = _failure(target, sealed[1])
    # Assert: not "the world state differs" but which block is missing, and what says so
    assert failure.block == LAST
    assert failure.key == "kv/k1"
    assert f"the chain ends at block {LAST - 1}" in failure.reason
    assert f"written by block {LAST}" in failure.reason
    _says_what_to_do(failure.reason)


def test_a_deleted_last_block_is_named_against_the_anchor(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    # Arrange: the ledger was verified (and anchored) with its last block, which is then deleted
    report = verify_ledger(*sealed, KVContract())
    anchor = (report.blocks - 1, report.head_hash)
    target = _without_last_block(sealed, tmp_path, txs_too=True)
    # Act
    failure = _failure(target, sealed[1], anchor)
    # Assert
    assert failure.block == LAST
    assert f"the chain ends at block {LAST - 1}" in failure.reason
    assert f"the anchor records block {LAST} as verified" in failure.reason
    assert "cut back" in failure.reason
    _says_what_to_do(failure.reason)


def test_cli_names_the_missing_block_with_exit_status_1(tmp_path: Path) -> None:
    from consortium.cli.app import app

    # Arrange: a consortium on the real contract whose last block (a revocation) is deleted
    roles = member_roles(members=["a"], admins=[], aggregators=[], auditors=[], verifiers=[])
    config = create_identities(tmp_path / "c", "net", roles)
    bootstrap_ledger(config, "admin")
    admin = open_ledger(config, "admin")
    admin.submit("RevokeMember", {"member_id": "a"})
    admin.close()
    flush(config.ledger_path)
    with sqlite3.connect(config.ledger_path) as conn:
        conn.execute("DELETE FROM txs WHERE block_number = 1")
        conn.execute("DELETE FROM blocks WHERE number = 1")
    # Act
    result = CliRunner().invoke(app, ["ledger", "verify", "-C", str(config.root)])
    # Assert
    assert result.exit_code == 1, result.output
    assert "FAILED at block 1, state key 'member/a'" in result.output
    assert "the chain ends at block 0" in result.output
    assert "world state differs" not in result.output
