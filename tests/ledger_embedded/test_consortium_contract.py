"""The embedded ledger running the real `ConsortiumContract`, driven through the CLI as an admin
and an auditor would: init, member add/revoke, verify, show, export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.identity import load_identity
from consortium.ledger.factory import default_contract, open_ledger

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "demo"
    result = runner.invoke(
        app,
        [
            "init",
            str(root),
            "--member",
            "cleveland",
            "--member",
            "hungary",
            "--auditor",
            "ethics",
            "--aggregator",
            "agg",
        ],
    )
    assert result.exit_code == 0, result.output
    return root


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_writes_config_and_genesis_registers_everyone(demo: Path) -> None:
    config = ConsortiumConfig.load(demo)
    assert set(config.members) == {"admin", "agg", "cleveland", "ethics", "hungary"}
    ledger = open_ledger(config, "ethics")
    members = {m["member_id"]: m for m in ledger.evaluate("ListMembers", {})}
    assert members["cleveland"]["roles"] == ["hospital", "verifier"]
    assert members["agg"]["roles"] == ["aggregator"] and members["admin"]["status"] == "active"
    assert members["hungary"]["cert_pem"] == load_identity(config.member_msp("hungary")).cert_pem
    ledger.close()


def test_init_refuses_an_existing_consortium(demo: Path) -> None:
    before = (demo / "consortium.toml").read_text()
    code, output = _invoke("init", str(demo), "--member", "x")
    assert code != 0 and "already holds a consortium" in output
    assert (demo / "consortium.toml").read_text() == before


def test_member_add_then_revoke_through_the_ledger(demo: Path) -> None:
    code, output = _invoke("member", "add", "zurich", "--role", "hospital", "-C", str(demo))
    assert code == 0, output
    config = ConsortiumConfig.load(demo)
    zurich = open_ledger(config, "zurich")
    assert zurich.evaluate("GetMember", {"member_id": "zurich"})["status"] == "active"
    # it received the consortium's keys, as the members made at init did
    assert "keys shared" in output
    _opens_its_key_share(config, zurich, "zurich")
    code, output = _invoke("member", "revoke", "zurich", "-C", str(demo))
    assert code == 0, output
    result = zurich.submit(
        "RecordDownload", {"task_id": "t", "version": 0, "model_digest": "0" * 64}
    )
    assert result.code == "MEMBER_REVOKED"
    zurich.close()


def test_revoking_a_name_the_ledger_does_not_know_lists_the_members(demo: Path) -> None:
    """A typo in the name is refused before anything is signed: the ledger gains no refused
    transaction, and the error lists the members to pick from."""
    config = ConsortiumConfig.load(demo)
    ledger = open_ledger(config, "ethics")
    height = ledger.height()
    code, output = _invoke("member", "revoke", "clevland", "-C", str(demo))
    assert code == 2, output
    text = " ".join(output.split())
    assert "no member 'clevland' on the ledger" in text and "cleveland" in text
    assert ledger.height() == height
    ledger.close()


def _opens_its_key_share(config: ConsortiumConfig, ledger: Any, member: str) -> None:
    from consortium.blobs import open_blob_store
    from consortium.crypto.setup import load_member_keys

    share = ledger.evaluate("GetShareKey", {"member_id": member})
    blobs = open_blob_store(config.blobs.url, config.root)
    bundle = load_member_keys(config.member_msp(member), blobs, share["wrapped_key_digest"],
                              member_id=member)  # fmt: skip
    assert bundle.ckks.can_decrypt and len(bundle.model_key) == 32


def test_an_auditor_added_later_receives_no_key(demo: Path) -> None:
    code, output = _invoke("member", "add", "regulator", "--role", "auditor", "-C", str(demo))
    assert code == 0 and "no key shared" in output, output


def test_only_an_admin_may_add_members(demo: Path) -> None:
    code, output = _invoke(
        "member", "add", "rogue", "--role", "hospital", "--as", "cleveland", "-C", str(demo)
    )
    assert code != 0 and "refused" in output
    assert "rogue" not in ConsortiumConfig.load(demo).members
    assert not (demo / "members" / "rogue").exists()


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (("add", "zurich2", "--role", "hospital"), "no admin's key is here"),
        (("revoke", "hungary"), "no admin's key is here"),
    ],
    ids=["add", "revoke"],
)
def test_member_commands_without_the_admins_key_are_refused_before_anything_is_done(
    demo: Path, tmp_path: Path, args: tuple[str, ...], instead: str
) -> None:
    """Cleveland's copy of the directory holds only its own key: `member add` said "cannot act
    as 'admin' here … with --member or --as" (it has no --member), unlike `task publish`."""
    import shutil

    copy = tmp_path / "cleveland-copy"
    shutil.copytree(demo, copy)
    for keystore in (copy / "members").glob("*/msp/keystore"):
        if keystore.parent.parent.name != "cleveland":
            shutil.rmtree(keystore)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}

    result = runner.invoke(app, ["member", *args, "-C", str(copy)], terminal_width=400)

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    keystore = copy / "members" / "admin" / "msp" / "keystore"
    assert f"no private key of 'admin' in {keystore}" in lines[0]
    assert instead in lines[0] and "--as NAME" in lines[0]
    assert "--member" not in lines[0]
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before


def test_an_admin_adds_a_member_without_holding_the_other_members_keys(
    demo: Path, tmp_path: Path
) -> None:
    """The admin's copy holds the admin's key, not the hospitals': `member add` read every
    member's private key to take its certificate, and crashed with an IdentityError."""
    import shutil

    copy = tmp_path / "admin-copy"
    shutil.copytree(demo, copy)
    for keystore in (copy / "members").glob("*/msp/keystore"):
        if keystore.parent.parent.name != "admin":
            shutil.rmtree(keystore)

    result = runner.invoke(
        app, ["member", "add", "zurich2", "--role", "hospital", "-C", str(copy)], terminal_width=400
    )

    assert result.exit_code == 0, result.output
    config = ConsortiumConfig.load(copy)
    members = open_ledger(config, "admin").evaluate("ListMembers", {})
    assert "zurich2" in {m["member_id"] for m in members}


def test_auditor_cannot_act_as_admin(demo: Path) -> None:
    config = ConsortiumConfig.load(demo)
    ethics = open_ledger(config, "ethics")
    before = ethics.evaluate("GetMember", {"member_id": "cleveland"})
    result = ethics.submit("RevokeMember", {"member_id": "cleveland"})
    assert not result.valid and result.code == "MISSING_ROLE"
    assert ethics.evaluate("GetMember", {"member_id": "cleveland"}) == before
    ethics.close()


def test_verify_show_export(demo: Path, tmp_path: Path) -> None:
    code, output = _invoke("ledger", "verify", "-C", str(demo))
    assert code == 0 and "ledger OK" in output, output
    code, output = _invoke("ledger", "show", "-C", str(demo), "--invalid")
    assert code == 0 and "MISSING_ROLE" in output and "Bootstrap" not in output
    out = tmp_path / "audit.jsonl"
    code, _ = _invoke("ledger", "export", "-C", str(demo), "--format", "jsonl", "-o", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and records[0]["fn"] == "Bootstrap" and records[0]["block_number"] == 0
    with sqlite3.connect(demo / "ledger" / "ledger.sqlite") as conn:
        assert len(records) == conn.execute("SELECT COUNT(*) FROM txs").fetchone()[0]
    code, output = _invoke("ledger", "export", "-C", str(demo), "--format", "xml")
    assert code != 0 and "unknown format" in output
    # CSV: the header row, then one row per transaction
    full = tmp_path / "audit.csv"
    assert _invoke("ledger", "export", "-C", str(demo), "--format", "csv", "-o", str(full))[0] == 0
    header = full.read_text().splitlines()[0]
    assert header.startswith("block_number,tx_index,tx_id,")
    assert len(full.read_text().splitlines()) == len(records) + 1


def test_verify_fails_with_location_after_tampering(demo: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo, copy)
    with sqlite3.connect(copy / "ledger" / "ledger.sqlite") as conn:
        conn.execute(
            "UPDATE state SET value = replace(value, '\"active\"', '\"revoked\"') "
            "WHERE key = 'member/cleveland'"
        )
    code, output = _invoke("ledger", "verify", "-C", str(copy))
    assert code == 1 and "member/cleveland" in output


def test_real_contract_ledger_verifies_via_api(demo: Path) -> None:
    from consortium.ledger.embedded.verify import verify_ledger

    config = ConsortiumConfig.load(demo)
    calls: list[tuple[int, int]] = []
    report = verify_ledger(
        config.ledger_path,
        config.ca_cert_path,
        default_contract(),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert report.ok and calls[-1] == (report.blocks, report.blocks)
    as_text = verify_ledger(
        str(config.ledger_path), config.ca_cert_path.read_text(), default_contract()
    )
    as_str_path = verify_ledger(config.ledger_path, str(config.ca_cert_path), default_contract())
    assert as_text.ok and as_str_path.ok and as_text.transactions == report.transactions


def test_show_says_why_each_refused_transaction_was_refused(demo: Path) -> None:
    config = ConsortiumConfig.load(demo)
    ethics = open_ledger(config, "ethics")
    ethics.submit("RevokeMember", {"member_id": "hungary"})
    ethics.close()
    code, output = _invoke("ledger", "show", "-C", str(demo), "--invalid", "--last", "0")
    assert code == 0, output
    assert "needs one of the roles admin" in output  # the contract's message, not only its code
    assert "match" in output.splitlines()[-1]  # how many rows, even when none


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--last", "-1"], "--last"),
        (["--fn", "SubmitUpdates"], "SubmitUpdate"),
        (["--creator", "clevland", "--last", "0"], "no member 'clevland' on the ledger"),
    ],
)
def test_show_refuses_what_would_silently_list_nothing_or_everything(
    demo: Path, args: list[str], says: str
) -> None:
    code, output = _invoke("ledger", "show", "-C", str(demo), *args)
    assert code == 2 and says in " ".join(output.split()) and "error:" in output, output


def test_show_lists_nothing_for_a_member_without_transactions(demo: Path) -> None:
    """A member that sent nothing in the blocks shown is no typo: an empty table, exit 0."""
    code, output = _invoke("ledger", "show", "-C", str(demo), "--creator", "agg")
    assert code == 0, output
    assert output.splitlines()[-1].endswith("0 transactions matching --creator agg")


def test_export_refuses_a_negative_first_block(demo: Path, tmp_path: Path) -> None:
    """A negative --from-block exported every block without a word: it is refused, and no file
    is written."""
    out = tmp_path / "export.jsonl"
    code, output = _invoke(
        "ledger", "export", "-C", str(demo), "--from-block", "-5", "--output", str(out)
    )
    assert code == 2, output
    assert "--from-block -5 is negative" in " ".join(output.split())
    assert not out.exists()


def test_a_member_added_or_revoked_by_no_admin_is_told_to_sign_as_one(demo: Path) -> None:
    """The ledger's MISSING_ROLE said who lacked the role, not what to do."""
    code, added = _invoke(
        "member", "add", "rogue2", "--role", "hospital", "--as", "cleveland", "-C", str(demo)
    )
    assert code == 2, added
    code, revoked = _invoke("member", "revoke", "hungary", "--as", "cleveland", "-C", str(demo))
    assert code == 2, revoked
    for output in (added, revoked):
        text = " ".join(output.split())
        assert "MISSING_ROLE" in text and "sign as an admin of the consortium (--as NAME)" in text
    assert "the identity issued for 'rogue2' was removed" in " ".join(added.split())


def test_revoking_a_revoked_member_is_refused_before_anything_is_signed(demo: Path) -> None:
    """Like a name the ledger does not hold: the ledger gains no refused transaction."""
    code, output = _invoke("member", "add", "bern", "--role", "verifier", "-C", str(demo))
    assert code == 0, output
    code, output = _invoke("member", "revoke", "bern", "-C", str(demo))
    assert code == 0, output
    config = ConsortiumConfig.load(demo)
    ledger = open_ledger(config, "ethics")
    height = ledger.height()

    code, output = _invoke("member", "revoke", "bern", "-C", str(demo))

    assert code == 2, output
    assert "'bern' is revoked already" in " ".join(output.split())
    assert ledger.height() == height
    ledger.close()


def test_member_list_in_an_auditors_copy_reads_as_the_identity_whose_key_is_there(
    demo: Path, tmp_path: Path
) -> None:
    """It read the ledger as 'admin' whatever the copy held, so a member's or an auditor's copy
    needed --as; it now reads as `task list` does, the first identity whose key is there."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo, copy)
    config = ConsortiumConfig.load(copy)
    for name, entry in config.members.items():
        if name != "ethics":
            shutil.rmtree(config.resolve(entry.msp) / "keystore")

    code, output = _invoke("member", "list", "-C", str(copy))

    assert code == 0, output
    assert any(line.split()[:2] == ["cleveland", "active"] for line in output.splitlines())


def test_verify_piped_to_files_writes_only_its_line(demo: Path) -> None:
    """The progress bar is for a terminal: piped (``2>err.txt``, CliRunner) a hidden bar left a
    blank line on stderr, before the OK line's silence or before an ``error:`` line."""
    result = runner.invoke(app, ["ledger", "verify", "-C", str(demo)])

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("ledger OK: ") and result.stdout.count("\n") == 1


def _height(demo: Path) -> int:
    with sqlite3.connect(demo / "ledger" / "ledger.sqlite") as conn:
        return int(conn.execute("SELECT MAX(number) + 1 FROM blocks").fetchone()[0])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_past_the_next_block_is_refused_with_the_height(
    demo: Path, tmp_path: Path, fmt: str
) -> None:
    """A --from-block past the ledger's next block (a typo: no incremental export asks for it)
    said "wrote 0 transactions" and left an empty file (a CSV header): refused, naming the
    height, and no file written."""
    height, out = _height(demo), tmp_path / f"export.{fmt}"
    code, output = _invoke("ledger", "export", "-C", str(demo), "--format", fmt,
                           "--from-block", str(height + 5), "--output", str(out))  # fmt: skip
    said = " ".join(output.split())
    assert code == 2, output
    assert f"--from-block {height + 5} is past the ledger's head: its height is {height}" in said
    assert "nothing was written" in said and "wrote 0" not in said
    assert not out.exists()


def test_export_from_the_next_block_says_there_is_nothing_new(demo: Path, tmp_path: Path) -> None:
    """An incremental export from the block after the last one exported finds nothing when no
    block came since: it says so with the height, writes no empty file, and succeeds."""
    height, out = _height(demo), tmp_path / "next.jsonl"
    code, output = _invoke("ledger", "export", "-C", str(demo), "--from-block", str(height),
                           "--output", str(out))  # fmt: skip
    said = " ".join(output.split())
    assert code == 0, output
    assert f"nothing new from block {height}: the ledger's height is {height}" in said
    assert "nothing was written" in said and not out.exists()
    code, output = _invoke("ledger", "export", "-C", str(demo), "--from-block", str(height))
    assert code == 0 and "nothing was written" in output and "{" not in output  # stdout: nothing


def test_export_past_the_head_keeps_an_existing_file(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "earlier.jsonl"
    out.write_text("earlier export\n")
    code, _ = _invoke("ledger", "export", "-C", str(demo), "--from-block", "100000",
                      "--output", str(out))  # fmt: skip
    assert code == 2 and out.read_text() == "earlier export\n"
