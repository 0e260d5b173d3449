"""The figures docs/training.md derives from the code alone (no DP noise, no pseudonym key), checked
against the code: a change to the accountant's noise search moves them without anyone rerunning
the command the page quotes."""

from __future__ import annotations

import re
from pathlib import Path

from consortium.datasets.heart import heart_cohort_table
from consortium.learning.alone import AloneOptions, _dp_noise
from consortium.learning.data import load_definition, train_test
from consortium.privacy.accountant import AccountantStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def test_switzerland_alone_needs_the_noise_the_guide_states(tmp_path: Path) -> None:
    text = DOC.read_text()
    found = re.search(
        r"Switzerland has (\d+) rows after k-anonymity, (\d+) of them for training.*?"
        r"needs σ = ([0-9.]+) on batches of about (\d+) rows",
        text,
        re.S,
    )
    assert found, "the guide no longer states Switzerland's rows and noise"
    rows, train_rows, sigma, batch = found.groups()
    train, test = train_test(heart_cohort_table("switzerland"), load_definition("heart"))
    assert (len(train.y) + len(test.y), len(train.y)) == (int(rows), int(train_rows))
    # `consortium train --cohort cohorts/switzerland --epsilon 3` with its defaults
    opts = AloneOptions(cohort_name="heart", epsilon=3.0, batch_size=64, state_dir=tmp_path)
    store = AccountantStore(
        tmp_path, member_id="local", task_id="local", accountant="prv", epsilon_budget=3.0,
        delta=1e-5,
    )  # fmt: skip
    steps_per_epoch = -(-len(train.y) // opts.batch_size)
    assert f"{_dp_noise(store, opts, len(train.y)):.2f}" == sigma
    assert round(len(train.y) / steps_per_epoch) == int(batch)
