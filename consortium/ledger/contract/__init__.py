"""The consortium contract: records, codes, committees, and `ConsortiumContract`.

See docs/decisions/0001-protocol.md for the rules, `memory` for an in-memory world state.
"""

from consortium.ledger.contract.contract import ConsortiumContract

__all__ = ["ConsortiumContract"]
