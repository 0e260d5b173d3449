"""An auditor's copy of the consortium directory: the ledger, the blobs, the CA certificate and
every member's certificate, but only the auditor's own private key. What the auditor runs there
(docs/ledger.md, docs/pole.md) answers, or refuses in one line; a partial trace says what it did
not check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.config import ConsortiumConfig

from .federated import Run


@pytest.fixture(scope="module")
def auditor_copy(run: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("auditor") / "consortium"
    shutil.copytree(run.root, copy)
    config = ConsortiumConfig.load(copy)
    (copy / "ca" / "ca-key.pem").unlink(missing_ok=True)
    for entry in config.members.values():
        if "auditor" not in entry.roles:
            shutil.rmtree(config.resolve(entry.msp) / "keystore")
    return copy


def test_rewards_reads_the_ledger_as_the_identity_whose_key_is_here(auditor_copy: Path) -> None:
    res = CliRunner().invoke(app, ["rewards", "--dir", str(auditor_copy)])
    assert res.exit_code == 0, res.output
    assert "rewards on the ledger" in res.output


def test_trace_in_an_auditor_copy_is_the_auditors_partial_trace(auditor_copy: Path) -> None:
    res = CliRunner().invoke(app, ["trace", "latest", "--dir", str(auditor_copy)])
    assert res.exit_code == 0, res.output
    assert "PARTIAL" in res.output


def test_an_identity_without_its_key_here_is_one_clear_line(auditor_copy: Path) -> None:
    res = CliRunner().invoke(
        app, ["trace", "latest", "--dir", str(auditor_copy), "--member", "hungary"]
    )
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "hungary" in res.output and "private key" in res.output


def test_an_identity_whose_key_is_here_but_unusable_is_not_called_missing(
    auditor_copy: Path, tmp_path: Path
) -> None:
    """Only a missing key is reported as missing: a broken certificate next to a present key
    says what is wrong with it, not "its private key is not in this directory"."""
    broken = tmp_path / "consortium"
    shutil.copytree(auditor_copy, broken)
    config = ConsortiumConfig.load(broken)
    auditor = next(m for m, e in config.members.items() if "auditor" in e.roles)
    (config.member_msp(auditor) / "signcerts" / "cert.pem").write_text("not a certificate\n")
    res = CliRunner().invoke(
        app, ["rewards", "--dir", str(broken), "--member", auditor], terminal_width=400
    )
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"cannot act as {auditor!r}" in text
    assert "private key is not in this directory" not in text


def test_a_partial_trace_claims_only_what_it_checked(run: Run) -> None:
    res = CliRunner().invoke(
        app, ["trace", "latest", "--dir", str(run.root), "--member", "auditor"]
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "opens to model" not in text  # the auditor decrypted nothing
    assert "not decrypted" in text
    assert "MATCH (PARTIAL" in text
