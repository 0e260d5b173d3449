"""Fixtures: a consortium directory with identities and an embedded ledger running `KVContract`."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.embedded import BlockPolicy, EmbeddedLedger
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger

from .kv_contract import KVContract

OpenAs = Callable[[str], EmbeddedLedger]


def make_consortium(root: Path) -> ConsortiumConfig:
    """Members a, b (hospital+verifier), admin, auditor 'ethics'; genesis with the KV contract."""
    roles = member_roles(
        members=["a", "b"], admins=[], aggregators=[], auditors=["ethics"], verifiers=[]
    )
    config = create_identities(root, "testnet", roles)
    bootstrap_ledger(config, "admin", contract=KVContract())
    return config


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "c"
    make_consortium(root)
    return root


@pytest.fixture
def config(_template: Path, tmp_path: Path) -> ConsortiumConfig:
    """A fresh copy of the template consortium (identities + genesis block)."""
    root = tmp_path / "c"
    shutil.copytree(_template, root)
    return ConsortiumConfig.load(root)


@pytest.fixture
def open_as(config: ConsortiumConfig) -> Iterator[OpenAs]:
    """Open the test ledger as a member of the directory (closed at teardown)."""
    opened: list[EmbeddedLedger] = []

    def _open(member_id: str) -> EmbeddedLedger:
        ledger = open_ledger(config, member_id, contract=KVContract())
        assert isinstance(ledger, EmbeddedLedger)
        ledger.policy = BlockPolicy(max_txs=500, max_wait_ms=0)
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small ledger with valid and invalid transactions over several blocks; its file + CA."""
    config = make_consortium(tmp_path_factory.mktemp("sealed") / "c")
    a = open_ledger(config, "a", contract=KVContract())
    admin = open_ledger(config, "admin", contract=KVContract())
    a.submit_many([("Put", {"key": f"k{i}", "value": str(i)}) for i in range(6)])
    a.submit("Put", {"key": "bad", "value": "reject"})
    admin.submit("RevokeMember", {"member_id": "b"})
    a.submit_many(
        [("Put", {"key": "k1", "value": "again"}), ("Put", {"key": "z", "value": "reject"})]
    )
    for ledger in (a, admin):
        ledger.close()
    with sqlite3.connect(config.ledger_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert verify_ledger(config.ledger_path, config.ca_cert_path, KVContract()).ok
    return config.ledger_path, config.ca_cert_path
