"""Committees are a pure function of the transaction id and the candidates."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from consortium.ledger.contract.committee import draw_committee

members = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), max_size=12)


def test_order_is_sha256_of_tx_id_bar_member() -> None:
    def rank(m: str) -> str:
        return hashlib.sha256(f"tx1|{m}".encode()).hexdigest()

    expected = sorted(["v1", "v2", "v3", "v4"], key=rank)[:2]

    assert draw_committee("tx1", ["v4", "v3", "v2", "v1"], 2) == expected


@given(st.text(min_size=1, max_size=20), members, st.integers(0, 15))
def test_same_inputs_same_committee_whatever_the_order(tx: str, cands: list, size: int) -> None:
    first = draw_committee(tx, cands, size)

    assert first == draw_committee(tx, list(reversed(cands)), size)
    assert len(first) == min(size, len(set(cands)))
    assert set(first) <= set(cands)


def test_different_transactions_draw_different_committees() -> None:
    candidates = [f"v{i}" for i in range(10)]
    drawn = {tuple(draw_committee(f"tx{i}", candidates, 3)) for i in range(20)}

    assert len(drawn) > 10
