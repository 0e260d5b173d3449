"""consortium: federated learning for hospital networks, with differential privacy, encrypted
aggregation, Proof-of-Learning consensus and a verifiable ledger."""

__version__ = "0.1.0"
