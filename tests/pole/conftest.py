"""Fixtures of the PoLe tests: one real federated run per session (tests/pole/federated.py)."""

from __future__ import annotations

import pytest

from .federated import FREE_RIDERS, SITES, Run, add_member


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The run, advanced to version 1 (more versions are made by the tests that need them)."""
    from consortium.config import ConsortiumConfig
    from consortium.pole.localrun import height_at_least, open_nodes, run_nodes
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    cfg = SimConfig(planned_updates=8, epochs=1, update_seconds=0.0, flush_seconds=1.0)
    root = create_consortium(cfg, tmp_path_factory.mktemp("pole") / "consortium")
    config = ConsortiumConfig.load(root)
    for free_rider in FREE_RIDERS:
        add_member(config, free_rider, ["hospital"], share=True)
    add_member(config, "nobody", ["hospital"], share=False)
    add_member(config, "leaver", ["hospital"], share=True)  # revoked by a test
    add_member(config, "auditor", ["auditor"], share=False)
    nodes = open_nodes(root, [*SITES, "aggregator"])
    assert run_nodes(nodes, height_at_least(1), max_seconds=150), "no learning block in 150 s"
    return Run(root=root, config=ConsortiumConfig.load(root), nodes=nodes)
