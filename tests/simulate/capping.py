"""A simulation in which one hospital's node refuses every run: its site's ε cap (node.toml
``site_epsilon_budget``) is far below what one update of the task costs."""

from __future__ import annotations

from typing import Any

import pytest

from consortium.simulate import setup
from consortium.simulate.config import SimConfig

TOO_SMALL = 0.05  # one update of the simulator's task costs far more ε than this


def cap_site(monkeypatch: pytest.MonkeyPatch, site: str) -> None:
    """Give ``site``'s node the cap ``TOO_SMALL``; every other node is set up as before."""
    plain = setup._node_settings

    def capped(cfg: SimConfig, name: str | None) -> Any:
        settings = plain(cfg, name)
        if name == site:
            return settings.model_copy(update={"site_epsilon_budget": TOO_SMALL})
        return settings

    monkeypatch.setattr(setup, "_node_settings", capped)
