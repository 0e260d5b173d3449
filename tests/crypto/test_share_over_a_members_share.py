"""`consortium member add` shares the keys with a member that another key holder front-ran with a
wrap it cannot open: the admin's share replaces that one (0001-protocol.md, ShareKey)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.blobs import open_blob_store
from consortium.cli import app
from consortium.cli.member import _share_keys_with
from consortium.config import ConsortiumConfig
from consortium.crypto.setup import load_member_keys
from consortium.identity.setup import add_member_identity
from consortium.ledger.factory import genesis_args, open_ledger


@pytest.fixture
def config(tmp_path: Path) -> ConsortiumConfig:
    root = tmp_path / "c"
    result = CliRunner().invoke(app, ["init", str(root), "--member", "a"])
    assert result.exit_code == 0, result.output
    return ConsortiumConfig.load(root)


def test_member_add_replaces_a_bogus_share_a_key_holder_published_first(
    config: ConsortiumConfig,
) -> None:
    # Arrange: "late" is registered; before the admin shares, member "a" publishes its own wrap
    # (a real blob, which "late" cannot open) as late's share.
    add_member_identity(config, "late", ["hospital"])
    config.save()
    record = next(m for m in genesis_args(config)["members"] if m["member_id"] == "late")
    admin = open_ledger(config, "admin")
    holder = open_ledger(config, "a")
    try:
        admin.submit_ok("RegisterMember", record)
        own = holder.evaluate("GetShareKey", {"member_id": "a"})
        fields = ("wrapped_key_digest", "public_context_digest")
        holder.submit_ok("ShareKey", {"member_id": "late", **{k: own[k] for k in fields}})

        # Act
        said = _share_keys_with(config, admin, "admin", "late", ["hospital"])

        # Assert
        share = admin.evaluate("GetShareKey", {"member_id": "late"})
    finally:
        holder.close()
        admin.close()
    assert "it replaced a share another member had published" in said, said
    assert (share["by"], share["replaced"]) == ("admin", own["wrapped_key_digest"])
    blobs = open_blob_store(config.blobs.url, config.root)
    bundle = load_member_keys(
        config.member_msp("late"), blobs, share["wrapped_key_digest"], member_id="late"
    )
    assert bundle.ckks.can_decrypt
