"""A consortium directory run against the in-process fake peer, as a simulation does."""

from __future__ import annotations

from pathlib import Path

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities
from consortium.ledger.contract.scenario import example_task
from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.local import point_config_at, serve_for_consortium
from consortium.ledger.factory import genesis_args, open_ledger


def test_every_member_reaches_the_fake_through_open_ledger(tmp_path: Path) -> None:
    roles = {"admin": ["admin"], "h1": ["hospital"], "h2": ["hospital"], "v1": ["verifier"]}
    config = create_identities(tmp_path / "sim", "sim", roles)
    handle = serve_for_consortium(config)
    try:
        point_config_at(config, handle)
        reloaded = ConsortiumConfig.load(config.root)
        ledgers = {m: open_ledger(reloaded, m) for m in roles}
        assert all(isinstance(ledger, FabricLedger) for ledger in ledgers.values())

        ledgers["admin"].submit_ok("Bootstrap", genesis_args(reloaded))
        ledgers["admin"].submit_ok("PublishTask", {"task": example_task()})
        heads = {
            m: ledger.evaluate("GetHead", {"task_id": "heart"}) for m, ledger in ledgers.items()
        }
        history = [(t.fn, t.creator) for t in ledgers["v1"].transactions()]
        for ledger in ledgers.values():
            ledger.close()
    finally:
        handle.stop()

    assert reloaded.ledger.backend == "fabric"
    assert reloaded.ledger.fabric.peer_endpoint == handle.address
    assert {h["height"] for h in heads.values()} == {0}
    assert history == [("Bootstrap", "admin"), ("PublishTask", "admin")]
