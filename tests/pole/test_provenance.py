"""`pull_model` and `trace_version` on a real federated run (tests/pole/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.canonical import sha256_hex
from consortium.cli import app
from consortium.pole.provenance import ProvenanceError, pull_model, trace_version

from .federated import Run


def test_pull_checks_decrypts_writes_and_records(run: Run, tmp_path: Path) -> None:
    # Act
    result = pull_model(run.config, "cleveland", out=tmp_path / "m.safetensors")
    # Assert: the bytes are the ledger's model, the provenance names the block, the download is on
    ledger_block = run.session("admin").q("GetVersion", task_id="heart", version=result.version)
    assert sha256_hex(result.out.read_bytes()) == ledger_block["model_digest"]
    prov = json.loads(result.provenance_path.read_text())
    assert prov["version"] == result.version >= 1
    assert [u["update_id"] for u in prov["updates"]] == ledger_block["updates"]
    assert prov["members"] and all(float(e) > 0 for e in prov["epsilon_by_member"].values())
    assert {a["member_id"] for a in prov["attestations"]} >= set(ledger_block["attesters"])
    assert prov["required_gain_bp"] == ledger_block["required_gain_bp"]
    assert all(u["endorsements"] for u in prov["updates"])
    downloads = run.session("admin").q("ListDownloads", task_id="heart")
    assert any(
        d["download_id"] == result.download_tx_id and d["member_id"] == "cleveland"
        for d in downloads
    )


@pytest.mark.parametrize(
    ("member", "says"),
    [
        ("nobody", "has no key share"),
        ("aggregator", "never holds the consortium key"),
        ("auditor", "never holds the consortium key"),
    ],
)
def test_who_cannot_decrypt_is_refused_clearly(
    run: Run, tmp_path: Path, member: str, says: str
) -> None:
    out = tmp_path / "m.safetensors"
    with pytest.raises(ProvenanceError, match=says):
        pull_model(run.config, member, out=out)
    assert not out.exists()


def test_a_revoked_member_is_told_it_is_revoked(run: Run, tmp_path: Path) -> None:
    """Not 'has no key share, an admin must run ShareKey for it': its share is on the ledger, and
    sharing again would not help."""
    admin = run.session("admin")
    admin.ledger.submit_ok("RevokeMember", {"member_id": "leaver"})
    out = tmp_path / "m.safetensors"
    with pytest.raises(ProvenanceError, match="'leaver' is revoked on the ledger"):
        pull_model(run.config, "leaver", out=out)
    assert not out.exists()


def test_trace_recomputes_every_version_byte_for_byte(run: Run) -> None:
    head = run.session("admin").head()["height"]
    for version in range(head + 1):
        report = trace_version(run.config, "hungary", "heart", version)
        assert report.matches, report.problems
        if version:
            assert report.aggregate_recomputed == report.provenance.aggregate_digest


def test_an_auditor_traces_the_homomorphic_sum_without_the_key(run: Run) -> None:
    head = run.session("admin").head()["height"]
    report = trace_version(run.config, "auditor", "heart", head)
    assert report.partial and report.model_recomputed is None
    assert report.aggregate_recomputed == report.provenance.aggregate_digest
    assert report.matches, report.problems


def test_trace_detects_a_substituted_version_blob(run: Run, tmp_path: Path) -> None:
    # Arrange: a copy of the consortium whose newest version blob was replaced by another one
    import shutil

    from consortium.config import ConsortiumConfig

    copy = tmp_path / "copy"
    shutil.copytree(run.root, copy)
    config = ConsortiumConfig.load(copy)
    s = run.session("admin")
    head = s.head()
    older = s.q("GetVersion", task_id="heart", version=head["height"] - 1)
    blob = copy / "blobs" / head["blob_digest"][:2] / head["blob_digest"]
    if not blob.is_file():
        blob = next(copy.joinpath("blobs").rglob(head["blob_digest"]))
    other = next(copy.joinpath("blobs").rglob(older["blob_digest"]))
    blob.write_bytes(other.read_bytes())
    # Act / Assert: the blob store no longer holds what the ledger names; trace says so
    with pytest.raises(ProvenanceError):
        pull_model(config, "cleveland", out=tmp_path / "m.safetensors")
    runner = CliRunner()
    res = runner.invoke(app, ["trace", "latest", "--dir", str(copy), "--member", "hungary"])
    assert res.exit_code == 1 and "MISMATCH" in res.output


def test_cli_pull_trace_rewards(run: Run, tmp_path: Path) -> None:
    runner = CliRunner()
    root = str(run.root)
    out = tmp_path / "pulled.safetensors"
    pulled = runner.invoke(
        app, ["model", "pull", "--dir", root, "--member", "va", "--version", "1", "--out", str(out)]
    )
    assert pulled.exit_code == 0, pulled.output
    assert out.is_file() and Path(str(out) + ".provenance.json").is_file()
    traced = runner.invoke(app, ["trace", "1", "--dir", root])
    assert traced.exit_code == 0 and "MATCH" in traced.output, traced.output
    refused = runner.invoke(
        app,
        ["model", "pull", "--dir", root, "--member", "aggregator", "--out", str(tmp_path / "x")],
    )
    assert refused.exit_code == 2 and "aggregator" in refused.output
    rewards = runner.invoke(app, ["rewards", "--dir", root])
    assert rewards.exit_code == 0
    balances = run.session("admin").q("ListBalances")
    top = max(balances, key=lambda b: b["units"])
    assert top["member_id"] in rewards.output and str(top["units"]) in rewards.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--version", "999"], "has versions 0.."),
        (["--version", "two"], "give a number"),
        (["--task", "nope"], "no task 'nope'"),
        (["--member", "ghost"], "no identity named"),
    ],
)
def test_pull_input_errors_are_one_clear_line(
    run: Run, tmp_path: Path, args: list[str], says: str
) -> None:
    base = ["model", "pull", "--dir", str(run.root), "--out", str(tmp_path / "m.safetensors")]
    member = [] if "--member" in args else ["--member", "hungary"]
    res = CliRunner().invoke(app, [*base, *member, *args])
    assert res.exit_code == 2 and says in res.output and "Traceback" not in res.output
    assert not (tmp_path / "m.safetensors").exists()
