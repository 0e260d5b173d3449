"""ledger/embedded."""
