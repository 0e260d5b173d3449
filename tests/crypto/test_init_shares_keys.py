"""`consortium init` creates the consortium's HE context and shares it on the ledger."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.blobs import open_blob_store
from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.crypto.setup import PUBLIC_CONTEXT_FILE, load_member_keys
from consortium.crypto.update import CkksContext
from consortium.ledger.base import ContractError
from consortium.ledger.factory import open_ledger


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    result = CliRunner().invoke(
        app,
        ["init", str(root), "--member", "a", "--member", "b", "--aggregator", "agg",
         "--auditor", "aud"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrapped for 3 members" in result.output
    return root


def test_every_key_holder_has_a_share_on_the_ledger_and_can_open_it(consortium_dir: Path) -> None:
    config = ConsortiumConfig.load(consortium_dir)
    ledger = open_ledger(config, "a")
    blobs = open_blob_store(config.blobs.url, config.root)
    public_digest = None
    for member in ("a", "b", "admin"):
        share = ledger.evaluate("GetShareKey", {"member_id": member})
        bundle = load_member_keys(
            config.member_msp(member), blobs, share["wrapped_key_digest"], member_id=member
        )
        assert bundle.public_context_digest == share["public_context_digest"]
        public_digest = public_digest or share["public_context_digest"]
        assert share["public_context_digest"] == public_digest
        assert bundle.ckks.can_decrypt


def test_the_aggregator_and_the_auditor_get_no_share_and_only_the_public_context(
    consortium_dir: Path,
) -> None:
    config = ConsortiumConfig.load(consortium_dir)
    ledger = open_ledger(config, "a")
    for member in ("agg", "aud"):
        with pytest.raises(ContractError, match="SHARE_NOT_FOUND"):
            ledger.evaluate("GetShareKey", {"member_id": member})
    public = CkksContext.from_public_bytes((consortium_dir / PUBLIC_CONTEXT_FILE).read_bytes())
    assert not public.can_decrypt


def test_a_second_init_in_the_same_directory_is_refused(consortium_dir: Path) -> None:
    before = sorted(p.name for p in consortium_dir.iterdir())
    result = CliRunner().invoke(app, ["init", str(consortium_dir), "--member", "x"])
    assert result.exit_code != 0
    assert sorted(p.name for p in consortium_dir.iterdir()) == before


def test_the_output_names_who_got_no_share_and_nobody_when_everyone_did(tmp_path: Path) -> None:
    # with every member holding a share it printed "not shared with: nobody"
    everyone = CliRunner().invoke(app, ["init", str(tmp_path / "c"), "--member", "a"])
    assert everyone.exit_code == 0, everyone.output
    assert "wrapped for 2 members" in everyone.output
    assert "not shared with" not in everyone.output and "nobody" not in everyone.output
    assert "every member holds a share" in everyone.output

    again = CliRunner().invoke(app, ["init", str(tmp_path / "d"), "--member", "a", "--auditor",
                                     "aud"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "not shared with: aud)" in again.output
