"""One transaction per block, as one member: the embedded ledger opened, submitted to, closed."""

from __future__ import annotations

from typing import Any

from consortium.config import ConsortiumConfig
from consortium.ledger.embedded import BlockPolicy, EmbeddedLedger
from consortium.ledger.factory import open_ledger


def submit(config: ConsortiumConfig, who: str, fn: str, args: dict[str, Any]) -> Any:
    """``fn(args)`` as ``who`` in a block of its own; its result, asserting it is valid."""
    ledger = open_ledger(config, who)
    assert isinstance(ledger, EmbeddedLedger)
    ledger.policy = BlockPolicy(max_txs=1, max_wait_ms=0)
    try:
        result = ledger.submit(fn, args)
    finally:
        ledger.close()
    assert result.valid, (fn, who, result.code, result.message)
    return result.result
