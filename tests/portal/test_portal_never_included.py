"""An accepted update that can never enter a block (its member revoked, or more than the task's
``max_staleness`` versions behind the head: the contract refuses it in any aggregate or proposal,
docs/decisions/0001-protocol.md "Staleness at inclusion") stays ``accepted`` on the ledger; the
training page says why instead of counting it as waiting. A pending update in that state can never
enter a block either, whatever its committee decides: the page says so too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import portal_ledger as pl
import pytest
from portal_fixture import HOSPITAL, PASSWORD, TASK, FakeTx, h

MEMBERS = ("cleveland", "hungary")
LATE = "switzerland"  # submits on version 0 too, never judged


@dataclass
class _Data:
    """The ledger reads `updates` makes: transactions, tasks and the contract's queries."""

    txs: dict[str, list[FakeTx]]
    statuses: dict[str, str]
    head: int
    revoked: tuple[str, ...] = ()

    def valid(self, fn: str) -> list[FakeTx]:
        return self.txs.get(fn, [])

    def tasks(self) -> dict[str, dict[str, int]]:
        return {"heart": {"quorum": 2, "committee_size": 3, "max_staleness": 4}}

    def query(self, fn: str, args: dict[str, Any]) -> Any:
        if fn == "ListUpdates":
            return [{"update": {"update_id": u}, "status": s} for u, s in self.statuses.items()]
        if fn == "GetHead":
            return {"task_id": args["task_id"], "height": self.head}
        if fn == "ListMembers":
            return [{"member_id": m, "status": "revoked" if m in self.revoked else "active"}
                    for m in ("va", "lab")]  # fmt: skip
        return None


def test_an_accepted_update_that_can_never_be_included_says_why() -> None:
    submit = [
        FakeTx("stale", "va", {"task_id": "heart", "base_version": 3}),
        FakeTx("edge", "va", {"task_id": "heart", "base_version": 5}),  # 9 - 5 = max_staleness
        FakeTx("revoked", "lab", {"task_id": "heart", "base_version": 8}),
        FakeTx("in-block", "va", {"task_id": "heart", "base_version": 3}),
        FakeTx("judged", "va", {"task_id": "heart", "base_version": 3}),
    ]
    statuses = {"stale": "accepted", "edge": "accepted", "revoked": "accepted",
                "in-block": "included", "judged": "rejected"}  # fmt: skip
    data = _Data({"SubmitUpdate": submit}, statuses, head=9, revoked=("lab",))

    table = pl.updates(data).set_index("update_id")  # type: ignore[arg-type]

    why = table["never_included"]
    assert why["stale"] == "too stale to enter a block: base v3, head v9, max_staleness 4"
    assert why["revoked"] == "member revoked"
    assert why["edge"] == why["in-block"] == why["judged"] == ""
    assert list(table["status"]) == list(statuses.values())  # the ledger's status is kept
    assert pl.update_fates(table) == {
        "in a model version": 1, "accepted, waiting": 1, "accepted, never included": 2,
        "rejected": 1, "pending": 0, "pending, never included": 0,
    }  # fmt: skip


def test_a_pending_update_that_can_never_be_included_says_why() -> None:
    """Once accepted it would be refused like an accepted one (the head only grows, a revoked
    member stays revoked); rejected, it is never included anyway."""
    submit = [
        FakeTx("stale", "va", {"task_id": "heart", "base_version": 3}),
        FakeTx("edge", "va", {"task_id": "heart", "base_version": 5}),  # 9 - 5 = max_staleness
        FakeTx("revoked", "lab", {"task_id": "heart", "base_version": 8}),
    ]
    statuses = {"stale": "pending", "edge": "pending", "revoked": "pending"}
    data = _Data({"SubmitUpdate": submit}, statuses, head=9, revoked=("lab",))

    table = pl.updates(data).set_index("update_id")  # type: ignore[arg-type]

    why = table["never_included"]
    assert why["stale"] == "too stale to enter a block: base v3, head v9, max_staleness 4"
    assert why["revoked"] == "member revoked"
    assert why["edge"] == ""
    assert list(table["status"]) == ["pending"] * 3  # the ledger's status is kept
    assert pl.update_fates(table) == {
        "in a model version": 0, "accepted, waiting": 0, "accepted, never included": 0,
        "rejected": 0, "pending": 1, "pending, never included": 2,
    }  # fmt: skip


@pytest.fixture(scope="module")
def left_behind(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ledger, task ``max_staleness`` 0: cleveland and hungary submit on version 0, both
    are accepted, and cleveland seals version 1 with its own update only. Hungary's stays
    accepted, one version behind: the contract would refuse it in any aggregate. Switzerland also
    submits on version 0 and reveals, but nobody judges it: it stays pending, as stale."""
    from portal_auth import set_password
    from portal_fixture import _real_version

    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    root = tmp_path_factory.mktemp("left-behind") / "consortium"
    cfg = SimConfig(sites=(*MEMBERS, "switzerland"), sml=False, max_staleness=0,
                    committee_size=2, quorum=2)  # fmt: skip
    create_consortium(cfg, root)
    config = ConsortiumConfig.load(root)
    ledgers = {name: open_ledger(config, name) for name in cfg.sites}
    try:
        ids = {}
        for name in MEMBERS:
            args = {"task_id": TASK, "base_version": 0, "model_digest": h(name), "n_samples": 200,
                    "epsilon_spent": "1", "commitment": ""}  # fmt: skip
            update = ledgers[name].submit_ok("SubmitUpdate", args)
            ids[name] = update["update_id"]
            reveal = {"task_id": TASK, "update_id": ids[name], "nonce": "",
                      "unmapped_digest": h(f"u{name}")}  # fmt: skip
            ledgers[name].submit_ok("RevealNonce", reveal)
            for judge in update["committee"]:
                ledgers[judge].submit_ok("Endorse", {
                    "task_id": TASK, "update_id": ids[name], "verdict": "accept", "reason": "OK",
                    "metric_bp": 7100, "scores": {"norm": 10},
                })  # fmt: skip
        unjudged = {"task_id": TASK, "base_version": 0, "model_digest": h(LATE), "n_samples": 200,
                    "epsilon_spent": "1", "commitment": ""}  # fmt: skip
        ids[LATE] = ledgers[LATE].submit_ok("SubmitUpdate", unjudged)["update_id"]
        reveal = {"task_id": TASK, "update_id": ids[LATE], "nonce": "",
                  "unmapped_digest": h(f"u{LATE}")}  # fmt: skip
        ledgers[LATE].submit_ok("RevealNonce", reveal)
        head = ledgers[HOSPITAL].evaluate("GetHead", {"task_id": TASK})
        model_digest, blob_digest = _real_version(root, ledgers[HOSPITAL], 1)
        proposal = ledgers[HOSPITAL].submit_ok("ProposeBlock", {
            "task_id": TASK, "height": 1, "parent_digest": head["model_digest"],
            "updates": [ids[HOSPITAL]], "weights_ppm": [1_000_000],
            "contribution_ppm": [1_000_000], "aggregate_digest": h("agg1"),
            "model_digest": model_digest, "blob_digest": blob_digest,
            "next_required_gain_bp": head["required_gain_bp"],
        })  # fmt: skip
        for judge in proposal["committee"]:
            ledgers[judge].submit_ok("AttestBlock", {
                "task_id": TASK, "proposal_id": proposal["proposal_id"], "verdict": "accept",
                "metric_bp": 7400, "base_metric_bp": 7100,
            })  # fmt: skip
        assert ledgers[HOSPITAL].evaluate("GetHead", {"task_id": TASK})["height"] == 1
        left = {"task_id": TASK, "update_id": ids["hungary"]}
        assert ledgers[HOSPITAL].evaluate("GetUpdate", left)["status"] == "accepted"
        late = {"task_id": TASK, "update_id": ids[LATE]}
        assert ledgers[HOSPITAL].evaluate("GetUpdate", late)["status"] == "pending"
    finally:
        for ledger in ledgers.values():
            ledger.close()
    for name in ("hungary", LATE):
        set_password(root / "members" / name, PASSWORD, n_log2=12)
    return root


def test_the_training_page_says_why_an_accepted_update_is_not_waiting(
    left_behind: Path, portal: Any
) -> None:
    at = portal(left_behind, "hungary", page="training")

    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["accepted, waiting"] == "0"
    assert metrics["accepted, never included"] == "1"
    reason = "too stale to enter a block: base v0, head v1, max_staleness 0"
    assert list(at.dataframe[0].value["never_included"]) == [reason]
    assert any(reason in w.value for w in at.warning)


def test_the_training_page_says_why_a_pending_update_will_never_be_included(
    left_behind: Path, portal: Any
) -> None:
    at = portal(left_behind, LATE, page="training")

    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["pending"] == "0"
    assert metrics["pending, never included"] == "1"
    reason = "too stale to enter a block: base v0, head v1, max_staleness 0"
    table = at.dataframe[0].value
    assert list(table["status"]) == ["pending"]
    assert list(table["never_included"]) == [reason]
    assert any(reason in w.value and "pending" in w.value for w in at.warning)
