"""ledger/fabric."""
