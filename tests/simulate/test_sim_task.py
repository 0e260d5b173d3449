"""The task a simulation publishes carries the accountant its config names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consortium.simulate.config import SimConfig
from consortium.simulate.setup import task_params


def test_the_published_task_names_the_configs_accountant() -> None:
    assert task_params(SimConfig()).accountant == "rdp"  # the figures in the docs were run so
    assert task_params(SimConfig(accountant="prv")).accountant == "prv"


def test_an_unknown_accountant_is_refused() -> None:
    with pytest.raises(ValidationError, match="accountant"):
        SimConfig(accountant="gdp")  # type: ignore[arg-type]
