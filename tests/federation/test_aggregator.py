"""The aggregator's buffer policy (FedBuff size or flush timeout) and the synchronous barrier."""

from __future__ import annotations

from typing import Any

from consortium.federation.aggregator import _select, buffered
from consortium.node.settings import NodeSettings


class _Ledgerless:
    """Just what `_select` reads from a session: settings, task, clock, and ListUpdates."""

    task_id = "heart"

    def __init__(self, settings: NodeSettings, views: list[dict[str, Any]], now_ms: int) -> None:
        self.settings = settings
        self._views = views
        self._now = now_ms

    def task(self) -> dict[str, Any]:
        return {"buffer_size": 3}

    def now_ms(self) -> int:
        return self._now

    def q(self, fn: str, **args: Any) -> Any:
        assert fn == "ListUpdates"
        return self._views


def _view(member: str, base: int, status: str, accepted_ms: int = 0) -> dict[str, Any]:
    ends = [
        {"verdict": "accept", "ms": accepted_ms, "metric_bp": 8000, "scores": {"cosine_bp": 100}},
        {"verdict": "accept", "ms": accepted_ms, "metric_bp": 8200, "scores": {"cosine_bp": 300}},
    ]
    update = {"update_id": f"{member}-{base}", "member_id": member, "base_version": base,
              "n_samples": 100, "quorum": 2}  # fmt: skip
    return {"update": update, "status": status, "endorsements": ends if status != "pending" else []}


def test_async_waits_for_a_full_buffer_or_the_flush_timeout() -> None:
    settings = NodeSettings(flush_seconds=4.0)
    two = [_view("a", 0, "accepted", 1000), _view("b", 0, "accepted", 2000)]
    assert _select(_Ledgerless(settings, two, 3000), 0, two) == []  # type: ignore[arg-type]
    assert _select(_Ledgerless(settings, two, 5000), 0, two) == two  # type: ignore[arg-type]
    three = [*two, _view("c", 0, "accepted", 2500)]
    assert _select(_Ledgerless(settings, three, 2600), 0, three) == three  # type: ignore[arg-type]


def test_sync_waits_for_every_hospital_of_the_round() -> None:
    settings = NodeSettings(sync_members=["a", "b", "c"], planned_updates=2)
    views = [_view("a", 1, "accepted"), _view("b", 1, "pending")]
    accepted = [views[0]]
    s = _Ledgerless(settings, views, 0)
    assert _select(s, 1, accepted) == []  # type: ignore[arg-type]  # b pending, c not yet sent
    views[1] = _view("b", 1, "rejected")
    views.append(_view("c", 1, "accepted"))
    accepted = [views[0], views[2]]
    assert _select(s, 1, accepted) == accepted  # type: ignore[arg-type]


def test_sync_does_not_wait_for_a_hospital_that_sent_all_it_planned() -> None:
    settings = NodeSettings(sync_members=["a", "b"], planned_updates=1)
    views = [_view("a", 1, "accepted"), _view("b", 0, "accepted")]
    s = _Ledgerless(settings, views, 0)
    assert _select(s, 1, [views[0]]) == [views[0]]  # type: ignore[arg-type]


def test_buffered_takes_medians_of_the_accepting_verifiers() -> None:
    item = buffered(_view("a", 2, "accepted"))
    assert (item.metric_bp, item.cosine_bp, item.base_version) == (8000, 100, 2)
