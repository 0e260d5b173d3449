"""A ledger cut back or rewritten after an auditor's last check is detected against an anchor
(the last verified block number and hash) kept outside the ledger file."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger

from .copies import flush, restore
from .kv_contract import KVContract


def test_a_ledger_rolled_back_below_the_anchor_fails(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    # Arrange: a copy taken at 2 blocks, then 2 more blocks verified and anchored
    a = open_ledger(config, "a", contract=KVContract())
    a.submit("Put", {"key": "k", "value": "1"})
    flush(config.ledger_path)
    old = tmp_path / "old.sqlite"
    shutil.copy(config.ledger_path, old)
    a.submit("Put", {"key": "k", "value": "2"})
    a.submit("Put", {"key": "k", "value": "3"})
    a.close()
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    assert report.ok and report.blocks == 4 and len(report.head_hash) == 64
    anchor = (report.blocks - 1, report.head_hash)
    # Act: the file is replaced by the older copy (a valid, shorter ledger)
    restore(old, config.ledger_path)
    plain = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    anchored = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract(), anchor=anchor)
    # Assert: alone it is a valid ledger; against the anchor it was cut back
    assert plain.ok and plain.blocks == 2
    assert not anchored.ok and anchored.failure is not None
    assert "cut back" in anchored.failure.reason
    assert "restore the ledger from a backup" in anchored.failure.reason  # and what to do


def test_a_rewritten_block_fails_against_the_anchor(
    config: ConsortiumConfig, tmp_path: Path
) -> None:
    # Arrange: anchor a ledger of 2 blocks, then replace it by another consortium's ledger with
    # the same name and its own CA (as an attacker with write access to the directory can)
    a = open_ledger(config, "a", contract=KVContract())
    a.submit("Put", {"key": "k", "value": "1"})
    a.close()
    report = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract())
    anchor = (report.blocks - 1, report.head_hash)
    roles = member_roles(members=["a"], admins=[], aggregators=[], auditors=[], verifiers=[])
    other = create_identities(tmp_path / "other", config.name, roles)
    bootstrap_ledger(other, "admin", contract=KVContract())
    b = open_ledger(other, "a", contract=KVContract())
    b.submit("Put", {"key": "k", "value": "forged"})
    b.close()
    flush(other.ledger_path)
    restore(other.ledger_path, config.ledger_path)
    shutil.copy(other.ca_cert_path, config.ca_cert_path)
    # Act
    anchored = verify_ledger(config.ledger_path, config.ca_cert_path, KVContract(), anchor=anchor)
    # Assert
    assert not anchored.ok and anchored.failure is not None and anchored.failure.block == 1


def test_cli_anchor_file_is_written_and_checked(tmp_path: Path) -> None:
    from consortium.cli.app import app

    # Arrange: a consortium on the real contract, verified once with an anchor file
    roles = member_roles(members=["a"], admins=[], aggregators=[], auditors=[], verifiers=[])
    config = create_identities(tmp_path / "c", "net", roles)
    bootstrap_ledger(config, "admin")
    flush(config.ledger_path)
    old = tmp_path / "old.sqlite"
    shutil.copy(config.ledger_path, old)
    admin = open_ledger(config, "admin")
    admin.submit("RevokeMember", {"member_id": "a"})
    admin.close()
    anchor = tmp_path / "auditor" / "anchor"
    runner = CliRunner()
    args = ["ledger", "verify", "-C", str(config.root), "--anchor", str(anchor)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert anchor.read_text().split()[0] == "1"
    # Act: the revocation is rolled back by restoring the older file
    restore(old, config.ledger_path)
    second = runner.invoke(app, args)
    # Assert
    assert second.exit_code == 1
    assert "cut back" in second.output
