"""Replay every shared vector against the Python contract (the chaincode replays the same files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consortium.canonical import canonical_json
from consortium.ledger.base import Creator
from consortium.ledger.contract import ConsortiumContract
from consortium.ledger.contract.codes import ALL_CODES
from consortium.ledger.contract.memory import MemoryState, execute

from .conftest import ROOT, VECTORS

CASES = sorted((VECTORS / "cases").glob("*.json"))
ARGUMENTS = json.loads((VECTORS / "arguments.json").read_text())


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector_replays(path: Path) -> None:
    _replay(_load(path))


@pytest.mark.parametrize("vector", ARGUMENTS["vectors"], ids=lambda v: v["name"])
def test_argument_vector_replays(vector: dict[str, Any]) -> None:
    _replay({**vector, "creator": ARGUMENTS["creator"]})


def test_argument_vectors_mostly_exercise_bad_args() -> None:
    codes = [v["expected"]["code"] for v in ARGUMENTS["vectors"]]

    assert len(codes) > 500
    assert codes.count("BAD_ARGS") > 0.8 * len(codes)
    assert "VALID" in codes  # some mutations stay valid (optional fields, bounds)


def _replay(vector: dict[str, Any]) -> None:
    state = MemoryState({k: canonical_json(v) for k, v in vector["state_before"].items()})
    tx = vector["tx"]
    creator = Creator(**vector["creator"])

    outcome = execute(
        ConsortiumContract(), state, tx["fn"], json.loads(tx["args_json"]), creator=creator,
        tx_id=tx["tx_id"], timestamp_ms=tx["timestamp_ms"], query=tx["kind"] == "query",
    )  # fmt: skip

    assert outcome.code == vector["expected"]["code"], outcome.message
    assert json.loads(canonical_json(outcome.result)) == vector["expected"]["result"]
    after = {k: canonical_json(v) for k, v in vector["state_after"].items()}
    assert state.items() == after


def test_vectors_cover_every_code_and_transaction() -> None:
    vectors = [_load(p) for p in CASES]
    codes = {v["expected"]["code"] for v in vectors}
    valid_fns = {v["tx"]["fn"] for v in vectors if v["expected"]["code"] == "VALID"}

    assert set(ALL_CODES) <= codes
    assert {
        "Bootstrap", "RegisterMember", "RevokeMember", "ShareKey", "PublishTask", "SubmitUpdate",
        "RevealNonce", "Endorse", "ProposeBlock", "AttestBlock", "RecordDownload",
    } <= valid_fns  # fmt: skip
    assert len(vectors) >= 50


def test_vectors_are_up_to_date() -> None:
    script = VECTORS / "generate.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
