"""A hospital revoked after its update was accepted and aggregated: the sealer leaves the aggregate
alone, the aggregator aggregates afresh without it at once, and the next block neither holds the
update nor pays the hospital (the contract's side: tests/contract/test_revocation.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consortium.federation import sealer
from consortium.ledger.base import TxResult
from consortium.ledger.contract.scenario import example_task
from consortium.node.settings import NodeSettings

SITES = ("cleveland", "hungary", "switzerland", "va")


class _Sealer:
    """What `seal_step` reads for one posted aggregate, with a ledger that records proposals."""

    task_id, member_id, roles = "heart", "cleveland", frozenset({"hospital"})

    def __init__(self, revoked: set[str]) -> None:
        self.settings = NodeSettings(sealer_timeout_seconds=2.0)
        self.revoked = revoked
        self.files: dict[tuple[str, ...], Any] = {}
        self.proposed: list[dict[str, Any]] = []
        self.state = self.ledger = self.blobs = self.vault = self
        self.can_decrypt = True

    def seal_model(self, data: bytes) -> bytes:
        return data

    def put(self, data: bytes) -> str:
        return "b" * 64

    def read_json(self, *path: str, default: Any = None) -> Any:
        return self.files.get(path, default)

    def write_json(self, doc: Any, *path: str) -> None:
        self.files[path] = doc

    def head(self) -> dict[str, Any]:
        return {"height": 1, "ms": 0, "required_gain_bp": 50, "model_digest": "0" * 64}

    def task(self) -> dict[str, Any]:
        task = example_task("heart", retarget_every=1000)
        return {**task, "published_by": "admin", "published_ms": 0}

    def now_ms(self) -> int:
        return 10_000

    def q(self, fn: str, **args: Any) -> Any:
        if fn == "ListMembers":
            return [{"member_id": m, "roles": ["hospital"],
                     "status": "revoked" if m in self.revoked else "active"}
                    for m in ("cleveland", "hungary")]  # fmt: skip
        assert fn == "GetUpdate"
        return {"update": {"update_id": args["update_id"], "member_id": args["update_id"][:-2]}}

    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        self.proposed.append(args)  # the contract refuses it
        return TxResult(tx_id="p" * 64, code="MEMBER_REVOKED", message="refused")


def test_the_sealer_leaves_an_aggregate_naming_a_revoked_member_undecrypted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decrypted: list[str] = []

    def form_version(s: Any, agg: dict[str, Any], height: int) -> bytes:
        decrypted.append(agg["aggregate_id"])
        return b"version"

    monkeypatch.setattr(sealer, "form_version", form_version)
    s = _Sealer(revoked={"hungary"})
    agg = {"aggregate_id": "a" * 64, "head": 1, "ms": 0, "updates": ["cleveland-1", "hungary-1"],
           "weights_ppm": [1, 1], "contribution_ppm": [500_000, 500_000],
           "aggregate_digest": "d" * 64}  # fmt: skip

    assert sealer.seal_step(s, [agg])  # type: ignore[arg-type]

    assert decrypted == [] and s.proposed == []
    assert s.files[("tasks", "heart", "sealer.json")] == {
        "done": [agg["aggregate_id"]], "codes": {agg["aggregate_id"]: "MEMBER_REVOKED"}
    }  # fmt: skip
    assert not sealer.seal_step(s, [agg])  # type: ignore[arg-type]  # not retried


def _member_of(s: Any, update_id: str) -> str:
    return str(s.q("GetUpdate", task_id=s.task_id, update_id=update_id)["update"]["member_id"])


def test_a_hospital_revoked_after_its_update_was_aggregated_is_in_no_block_and_unpaid(
    tmp_path: Path,
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger
    from consortium.pole.localrun import height_at_least, open_nodes, run_nodes
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    # A sealer timeout of 10 minutes: an aggregator waiting out its outstanding aggregate (that
    # timeout × 5) would not make the next block within the test's two minutes.
    cfg = SimConfig(plaintext=True, update_seconds=0.0, planned_updates=2, train_seed=1,
                    flush_seconds=1.0, sealer_timeout_seconds=600.0)  # fmt: skip
    root = create_consortium(cfg, tmp_path / "consortium")
    nodes: list[Any] = open_nodes(root, [*SITES, "aggregator"])  # the aggregator steps last
    s = nodes[0].s

    def posted(s: Any) -> bool:
        return bool(s.q("ListAggregates", task_id=s.task_id))

    assert run_nodes(nodes, posted, max_seconds=120), "no aggregate in 120 s"
    [first] = s.q("ListAggregates", task_id=s.task_id)  # not sealed yet: the round ended
    victim = _member_of(s, first["updates"][0])
    victims = [u for u in first["updates"] if _member_of(s, u) == victim]
    admin = open_ledger(ConsortiumConfig.load(root), "admin")
    admin.submit_ok("RevokeMember", {"member_id": victim})
    admin.close()

    others = [n for n in nodes if n.s.member_id != victim]
    assert run_nodes(others, height_at_least(1), max_seconds=120), "no block in 120 s"

    watch = others[0].s
    block = watch.q("GetVersion", task_id=watch.task_id, version=1)
    assert victim not in {_member_of(watch, u) for u in block["updates"]}
    assert victim not in block["rewards"]
    assert watch.q("GetBalance", member_id=victim)["units"] == 0
    assert block["aggregate_id"] != first["aggregate_id"]  # aggregated afresh, without it
    sealed = [n.s.state.read_json("tasks", n.s.task_id, "sealer.json", default={})
              .get("codes", {}).get(first["aggregate_id"]) for n in others]  # fmt: skip
    assert "MEMBER_REVOKED" in sealed and "VALID" not in sealed  # refused, and no node crashed
    for update_id in victims:  # accepted, in no block, and none will take it
        assert watch.q("GetUpdate", task_id=watch.task_id, update_id=update_id)["status"] == (
            "accepted"
        )
    # The revoked hospital's own node stops with what happened instead of a refused transaction.
    from consortium.node.runner import MemberRevoked

    [mine] = [n for n in nodes if n.s.member_id == victim]
    with pytest.raises(MemberRevoked, match=f"member '{victim}' was revoked by 'admin'"):
        mine.step()
