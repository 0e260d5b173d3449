"""ledger/contract."""
