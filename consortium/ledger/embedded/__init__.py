"""The embedded ledger: SQLite, execute-order-validate, hash-chained blocks signed by an orderer.

See docs/decisions/0003-embedded-ledger.md for the design and docs/ledger.md for operators.
"""

from consortium.ledger.embedded.ledger import EmbeddedLedger, create_ledger
from consortium.ledger.embedded.orderer import BlockPolicy

__all__ = ["BlockPolicy", "EmbeddedLedger", "create_ledger"]
