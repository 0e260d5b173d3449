"""The Audit page's Member and Task filters apply to its attestations table too (each row is one
member's AttestBlock on a task's proposed block). Before, the table listed every attestation
whatever was chosen, under filters that narrowed the transactions above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from portal_fixture import h


def _attestations(at: Any) -> pd.DataFrame | None:
    """The attestations table of the page, or None when it shows none."""
    tables = [d.value for d in at.dataframe if {"verdict", "reason"} <= set(d.value)]
    return tables[0] if tables else None


def _filter(at: Any, label: str) -> Any:
    return next(m for m in at.multiselect if m.label == label)


def _publish_another_task(root: Path, task_id: str) -> None:
    """A second task on the ledger, with no update and so no attestation."""
    from consortium.config import ConsortiumConfig
    from consortium.federation.publish import task_record
    from consortium.ledger.factory import open_ledger
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import task_params

    params = task_params(SimConfig(sites=("cleveland", "hungary", "switzerland")))
    record = task_record(params.model_copy(update={"task_id": task_id}), h("v0"), h("blob0"))
    admin = open_ledger(ConsortiumConfig.load(root), "admin")
    try:
        admin.submit_ok("PublishTask", {"task": record})
    finally:
        admin.close()


def test_the_member_filter_keeps_that_members_attestations(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "auditor", page="audit")
    every = _attestations(at)
    assert every is not None and every["site"].nunique() >= 2, every
    member = sorted(every["site"])[0]

    _filter(at, "Member").select(member).run()

    shown = _attestations(at)
    assert shown is not None and set(shown["site"]) == {member}
    assert len(shown) == int((every["site"] == member).sum())
    assert any("Member and Task" in c.value for c in at.caption)  # the page says what applies


def test_the_task_filter_keeps_that_tasks_attestations(scripted_copy: Path, portal: Any) -> None:
    _publish_another_task(scripted_copy, "other")
    at = portal(scripted_copy, "auditor", page="audit")
    every = _attestations(at)
    assert every is not None and set(every["task"]) == {"heart"}

    _filter(at, "Task").select("heart").run()
    chosen = _attestations(at)
    assert chosen is not None and len(chosen) == len(every)
    _filter(at, "Task").unselect("heart").select("other").run()

    assert not at.exception
    assert _attestations(at) is None  # the other task has none
    assert any("No attestation matches the filters" in i.value for i in at.info)
