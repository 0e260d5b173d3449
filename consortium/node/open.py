"""Opening a member's node from a consortium directory: ledger, keys, blob store, cohort, state.

The member's secrets never leave its own folder: the wrapped key bundle is fetched from the blob
store by the digest its `ShareKey` put on the ledger and opened with the member's MSP private key
(`consortium.crypto.setup.load_member_keys`). The aggregator has no share: it loads the public
context only, which cannot decrypt (tests/federation/test_he_vault.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from consortium.federation.session import Cohort, Session
from consortium.federation.vault import PlainVault, Vault
from consortium.node.settings import NodeSettings, cohort_path, load_settings
from consortium.node.state import StateDir

__all__ = ["cohort_from_table", "member_dir", "open_session"]


def member_dir(config: Any, member_id: str) -> Path:
    """``DIR/members/NAME`` (the parent of the member's MSP folder)."""
    return Path(config.member_msp(member_id)).parent


def cohort_from_table(table: Any, cohort_name: str, holdout_bp: int, fold: int = 0) -> Cohort:
    """Design matrix of a cohort table, split once into training and held-out rows (held-out
    ``fold`` of `holdout_split`)."""
    from consortium.fhir.cohort import COHORTS_DIR
    from consortium.learning.data import design_matrix, holdout_split, load_definition

    definition = load_definition(Path(COHORTS_DIR) / f"{cohort_name}.json")
    dm = design_matrix(table, definition)
    split = holdout_split(table, test_fraction_bp=holdout_bp, fold=fold)
    train, test = dm.rows(split.train), dm.rows(split.test)
    return Cohort(train.X, train.y, test.X, test.y)


def _load_cohort(mdir: Path, settings: NodeSettings, cohort_name: str) -> Cohort | None:
    import pandas as pd

    path = cohort_path(mdir, settings)
    if settings.cohort and not path.is_file():
        raise ValueError(
            f"{mdir / 'node.toml'} names the cohort {settings.cohort!r}, read as {path}, which is "
            "not a file: give the cohort.parquet `consortium ingest --out` wrote, or that folder "
            f"(a relative path is read from {mdir})"
        )
    if path.is_file():
        return cohort_from_table(
            pd.read_parquet(path), cohort_name, settings.holdout_bp, settings.holdout_fold
        )
    if settings.site:
        from consortium.datasets.heart import heart_cohort_table

        table = heart_cohort_table(settings.site)
        return cohort_from_table(table, cohort_name, settings.holdout_bp, settings.holdout_fold)
    return None


def _vault(config: Any, member_id: str, ledger: Any, blobs: Any, settings: NodeSettings) -> Vault:
    if settings.plaintext:
        return PlainVault()
    from consortium.crypto.context import CkksContext
    from consortium.crypto.setup import PUBLIC_CONTEXT_FILE, load_member_keys
    from consortium.federation.he import HEVault

    roles = set(config.members[member_id].roles)
    if roles & {"aggregator", "auditor"}:
        public = (config.root / PUBLIC_CONTEXT_FILE).read_bytes()
        return HEVault(CkksContext.from_public_bytes(public), None)
    share = ledger.evaluate("GetShareKey", {"member_id": member_id})
    bundle = load_member_keys(
        config.member_msp(member_id), blobs, share["wrapped_key_digest"], member_id=member_id,
        context_digest=share["public_context_digest"],
    )  # fmt: skip
    return HEVault(bundle.ckks, bundle.model_key)


def _task_id(ledger: Any, settings: NodeSettings, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        tasks = ledger.evaluate("ListTasks", {})
        if settings.task_id is not None:
            if any(t["task_id"] == settings.task_id for t in tasks):
                return settings.task_id
        elif tasks:
            return str(tasks[0]["task_id"])
        if time.monotonic() > deadline:
            if settings.task_id is not None and tasks:
                known = ", ".join(str(t["task_id"]) for t in tasks)
                raise TimeoutError(
                    f"node.toml names task {settings.task_id!r}, which is not on the ledger "
                    f"(tasks: {known}): fix task_id or publish it"
                )
            raise TimeoutError(
                "no task on the ledger yet: an admin publishes one first (`consortium task "
                "template --task-id heart > task.json`, then `consortium task publish task.json`)"
            )
        time.sleep(0.5)


def open_session(consortium_dir: str | Path, member_id: str, *, wait_s: float = 60.0) -> Session:
    """A `Session` for ``member_id`` of the consortium directory (see the module docstring)."""
    from consortium.blobs import open_blob_store
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    config = ConsortiumConfig.load(consortium_dir)
    mdir = member_dir(config, member_id)
    settings = load_settings(mdir)
    ledger = open_ledger(config, member_id)
    blobs = open_blob_store(config.blobs.url, config.root)
    task_id = _task_id(ledger, settings, wait_s)
    task = ledger.evaluate("GetTask", {"task_id": task_id})
    roles = frozenset(config.members[member_id].roles)
    needs_data = bool(roles & {"hospital", "verifier"})
    cohort = _load_cohort(mdir, settings, task["cohort"]) if needs_data else None
    return Session(
        member_id=member_id, roles=roles, task_id=task_id, ledger=ledger,
        vault=_vault(config, member_id, ledger, blobs, settings), blobs=blobs,
        state=StateDir(mdir / "state"), settings=settings, cohort=cohort,
    )  # fmt: skip
