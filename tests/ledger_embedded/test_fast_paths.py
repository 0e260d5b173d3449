"""The shortcuts `verify_ledger` takes must not skip a check.

- A contract result made of plain values is encoded without `canonical_json`'s conversion: it
  must give the same bytes, and anything else the same refusal.
- The Merkle leaf is assembled directly instead of through the generic canonical encoder: it must
  give the same bytes for any code, message, result and write set (`tx_leaf_reference`).
- With signature workers, `parse_envelope`'s canonical check runs in the worker and the replay
  skips re-encoding: an envelope that is validly signed but not canonical must still be
  `MALFORMED_TX` on replay, with and without workers, and a forged `VALID` code for it caught.
- Any single changed byte of a stored transaction gives the same failure with workers as without.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consortium.canonical import CanonicalError, canonical_json
from consortium.config import ConsortiumConfig
from consortium.ledger.embedded.execute import (
    MALFORMED_TX,
    result_bytes,
    tx_leaf,
    tx_leaf_reference,
)
from consortium.ledger.embedded.verify import verify_ledger

from .conftest import OpenAs
from .kv_contract import KVContract
from .test_tamper import _alter

text = st.text(st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    envelope=st.binary(max_size=64),
    signature=st.binary(max_size=72),
    code=text,
    message=text,
    result=st.binary(max_size=32),
    writes=st.dictionaries(text, st.binary(max_size=16), max_size=5),
)
def test_direct_leaf_equals_the_canonical_encoding(
    envelope: bytes,
    signature: bytes,
    code: str,
    message: str,
    result: bytes,
    writes: dict[str, bytes],
) -> None:
    assert tx_leaf(envelope, signature, code, message, result, writes) == tx_leaf_reference(
        envelope, signature, code, message, result, writes
    )


values = st.recursive(
    st.none() | st.booleans() | st.integers() | text | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(text | st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_result_fast_path_gives_canonical_bytes_or_the_same_refusal(value: object) -> None:
    try:
        expected: bytes | str = canonical_json(value)
    except CanonicalError as exc:
        expected = str(exc)
    try:
        got: bytes | str = result_bytes(value)
    except CanonicalError as exc:
        got = str(exc)
    assert got == expected


def _submit_raw(ledger: object, envelope: bytes) -> None:
    """Queue ``envelope`` signed by the ledger's identity, bypassing `make_envelope`."""
    conn = ledger._conn  # type: ignore[attr-defined]
    signature = ledger.identity.sign(envelope)  # type: ignore[attr-defined]
    conn.execute(
        "INSERT INTO pending (envelope, signature, queued_ms) VALUES (?, ?, ?)",
        (envelope, signature, time.time_ns() // 1_000_000),
    )
    assert ledger.cut(force=True)  # type: ignore[attr-defined]


@pytest.fixture
def with_noncanonical(open_as: OpenAs, config: ConsortiumConfig) -> tuple[Path, Path]:
    """A ledger holding a validly signed envelope whose JSON has a space after one colon."""
    from consortium.ledger.embedded.envelope import make_envelope

    a = open_as("a")
    a.submit("Put", {"key": "k", "value": "v"})
    envelope, _, _ = make_envelope(a.identity, a.channel, "Put", {"key": "n", "value": "w"})
    _submit_raw(a, envelope.replace(b'"fn":', b'"fn": ', 1))
    a.submit("Put", {"key": "k2", "value": "v2"})
    return config.ledger_path, config.ca_cert_path


@pytest.mark.parametrize("workers", [0, 1])
def test_noncanonical_signed_envelope_is_malformed_on_replay(
    with_noncanonical: tuple[Path, Path], tmp_path: Path, workers: int
) -> None:
    path, ca = with_noncanonical
    with sqlite3.connect(path) as conn:
        codes = [c for (c,) in conn.execute("SELECT code FROM txs ORDER BY block_number")]
    assert MALFORMED_TX in codes and codes[-1] == "VALID"
    assert verify_ledger(path, ca, KVContract(), workers=workers).ok
    forged = tmp_path / "forged.sqlite"
    with sqlite3.connect(path) as live, sqlite3.connect(forged) as copy:
        live.backup(copy)  # the live ledger's last blocks may still be in its -wal file
    with sqlite3.connect(forged) as conn:
        conn.execute("UPDATE txs SET code = 'VALID' WHERE code = ?", (MALFORMED_TX,))
    failure = verify_ledger(forged, ca, KVContract(), workers=workers).failure
    assert failure is not None and "MALFORMED_TX" in failure.reason


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    row_pick=st.integers(min_value=0, max_value=10_000),
    column=st.sampled_from(["envelope", "signature"]),
    position=st.integers(min_value=0, max_value=100_000),
    new_byte=st.integers(min_value=0, max_value=255),
)
def test_pooled_and_sequential_verdicts_agree_on_changed_bytes(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    row_pick: int,
    column: str,
    position: int,
    new_byte: int,
) -> None:
    source, ca = sealed
    target = tmp_path / f"t{row_pick}-{position}-{new_byte}.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        rows = conn.execute(f"SELECT block_number, tx_index, {column} FROM txs").fetchall()
        block, index, value = rows[row_pick % len(rows)]
        conn.execute(
            f"UPDATE txs SET {column} = ? WHERE block_number = ? AND tx_index = ?",
            (_alter(value, position, new_byte), block, index),
        )
    pooled = verify_ledger(target, ca, KVContract(), workers=1).failure
    alone = verify_ledger(target, ca, KVContract()).failure
    assert pooled is not None and pooled == alone
    assert (pooled.block, pooled.tx_index) in ((block, index), (block, None))
    target.unlink()


@pytest.mark.parametrize("column", ["envelope", "signature"])
def test_text_instead_of_bytes_is_reported_with_workers(
    sealed: tuple[Path, Path], tmp_path: Path, column: str
) -> None:
    source, ca = sealed
    target = tmp_path / "text.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        conn.execute(
            f"UPDATE txs SET {column} = CAST({column} AS TEXT) "
            "WHERE block_number = 1 AND tx_index = 2"
        )
    pooled = verify_ledger(target, ca, KVContract(), workers=1).failure
    assert pooled is not None and pooled.block == 1
    assert pooled == verify_ledger(target, ca, KVContract()).failure
    pooled.describe().encode("utf-8")  # printable even if the bytes were not UTF-8


def test_undecodable_tx_id_is_located_and_printable(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    source, ca = sealed
    target = tmp_path / "id.sqlite"
    shutil.copyfile(source, target)
    with sqlite3.connect(target) as conn:
        conn.execute(
            "UPDATE txs SET tx_id = CAST(X'FF00' || CAST(tx_id AS BLOB) AS TEXT) "
            "WHERE block_number = 2 AND tx_index = 0"
        )
    failure = verify_ledger(target, ca, KVContract(), workers=1).failure
    assert failure is not None and (failure.block, failure.tx_index) == (2, 0)
    assert "\\udcff" in failure.describe()
