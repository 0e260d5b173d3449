"""Proof of Learning (PoLe): learning blocks, difficulty, rewards, the Secure Mapping Layer,
provenance of model versions and the block-rate experiment.

Public API:
- `consortium.pole.difficulty` — `next_required_gain` (retargeting, checked by the contract);
- `consortium.pole.rewards` — `split_rewards` (sealer share + contribution split);
- `consortium.pole.sml` — the Secure Mapping Layer;
- `consortium.pole.provenance` — `pull_model(config, member_id, *, task_id, version, out)` and
  `trace_version(config, member_id, task_id, version)`;
- `consortium.pole.blockrate` — `run_block_rate(...)`: block-interval CV on the real contract.
"""
