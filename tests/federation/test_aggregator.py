"""The aggregator's buffer policy (FedBuff size or flush timeout) and the synchronous barrier."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from consortium.federation import aggregator
from consortium.federation.aggregator import _accepted_ms, _select, buffered
from consortium.ledger.base import TxResult
from consortium.ledger.contract.scenario import example_task
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
        {
            "member_id": "v1",
            "verdict": "accept",
            "ms": accepted_ms,
            "metric_bp": 8000,
            "scores": {"cosine_bp": 100},
        },
        {
            "member_id": "v2",
            "verdict": "accept",
            "ms": accepted_ms,
            "metric_bp": 8200,
            "scores": {"cosine_bp": 300},
        },
    ]
    update = {"update_id": f"{member}-{base}", "member_id": member, "base_version": base,
              "n_samples": 100, "quorum": 2, "committee": ["v1", "v2", "v3"]}  # fmt: skip
    return {"update": update, "status": status, "endorsements": ends if status != "pending" else []}


def test_async_waits_for_a_full_buffer_or_the_flush_timeout() -> None:
    settings = NodeSettings(flush_seconds=4.0)
    two = [_view("a", 0, "accepted", 1000), _view("b", 0, "accepted", 2000)]
    assert _select(_Ledgerless(settings, two, 3000), 0, two) == []  # type: ignore[arg-type]
    assert _select(_Ledgerless(settings, two, 5000), 0, two) == two  # type: ignore[arg-type]
    three = [*two, _view("c", 0, "accepted", 2500)]
    assert _select(_Ledgerless(settings, three, 2600), 0, three) == three  # type: ignore[arg-type]


def test_an_update_is_accepted_when_the_deciding_endorsement_came() -> None:
    view = _view("a", 0, "accepted")
    view["update"]["committee"] = ["v1", "v2"]  # committee 2, quorum 2
    view["endorsements"] = [
        {"member_id": "v1", "verdict": "abstain", "ms": 7000, "metric_bp": 0, "scores": {}},
        {"member_id": "v2", "verdict": "accept", "ms": 3000, "metric_bp": 8000, "scores": {}},
    ]
    assert _accepted_ms(view) == 7000  # the abstention left one seat, whose accept was there

    view["update"]["committee"] = ["v1", "v2", "v3"]  # quorum 2 of 3: abstaining changes nothing
    view["endorsements"].append(
        {"member_id": "v3", "verdict": "accept", "ms": 9000, "metric_bp": 8100, "scores": {}}
    )
    assert _accepted_ms(view) == 9000


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


def test_sync_goes_on_without_a_hospital_that_never_sends_once_the_round_deadline_passed() -> None:
    # c's node refuses to train (its site's ε cap: SiteBudgetExceeded, written only in its own
    # state), so nothing of c ever comes on the head. FedAvg's round timeout: the round waits for
    # it until its deadline, counted from the round's first update, then goes on without it.
    settings = NodeSettings(sync_members=["a", "b", "c"], planned_updates=2)
    views = [_view("a", 1, "accepted"), _view("b", 1, "accepted")]
    views[0]["update"]["submitted_ms"], views[1]["update"]["submitted_ms"] = 10_000, 14_000
    s = _Ledgerless(settings, views, 11_000)
    assert _select(s, 1, views) == []  # type: ignore[arg-type]  # within the round: c may come
    s._now = 10_000 + 3_600_000  # an hour after the round's first update
    assert _select(s, 1, views) == views  # type: ignore[arg-type]
    # a hospital whose update is on the head but still undecided is waited for all the same
    views.append(_view("c", 1, "pending"))
    views[2]["update"]["submitted_ms"] = 10_000 + 3_500_000
    assert _select(s, 1, views[:2]) == []  # type: ignore[arg-type]


def test_buffered_takes_medians_of_the_accepting_verifiers() -> None:
    item = buffered(_view("a", 2, "accepted"))
    assert (item.metric_bp, item.cosine_bp, item.base_version) == (8000, 100, 2)


class _Killed(Exception):
    """The node was killed (kill -9) here."""


class _Node:
    """What `aggregate_step` reads and writes, with a ledger that records PostAggregate."""

    task_id, member_id = "heart", "agg"
    roles = ("aggregator",)

    def __init__(self, views: list[dict[str, Any]]) -> None:
        self.settings = NodeSettings(sealer_timeout_seconds=2.0)
        self.views, self.height, self.now = views, 1, 100.0
        self.head_ms = 0
        self.record: dict[str, Any] = {}  # the full task record, for a test that needs one
        self.posted: list[dict[str, Any]] = []
        self.revoked: set[str] = set()  # members RevokeMember has revoked
        self.refusal = "VALID"  # the code the next PostAggregate gets
        self.aggregates: list[dict[str, Any]] = []  # as ListAggregates returns them
        self.files: dict[tuple[str, ...], Any] = {}
        self.state, self.ledger = self, self
        self.killed_before_writing = False

    def read_json(self, *path: str, default: Any = None) -> Any:
        return copy.deepcopy(self.files.get(path, default))  # a file, not the writer's object

    def write_json(self, doc: Any, *path: str) -> None:
        if self.killed_before_writing:
            raise _Killed
        self.files[path] = copy.deepcopy(doc)

    def head(self) -> dict[str, Any]:
        return {"height": self.height, "ms": self.head_ms, "required_gain_bp": 50}

    def task(self) -> dict[str, Any]:
        return {"max_staleness": 50, **self.record, "buffer_size": 2, "staleness_exponent_bp": 5000}

    def clock(self) -> float:
        return self.now

    def now_ms(self) -> int:
        return int(self.now * 1000)

    def q(self, fn: str, **args: Any) -> Any:
        if fn == "ListMembers":
            members = [(m, ["hospital"]) for m in ("a", "b", "c")] + [("agg", ["aggregator"])]
            return [{"member_id": m, "roles": roles,
                     "status": "revoked" if m in self.revoked else "active"}
                    for m, roles in members]  # fmt: skip
        if fn == "ListAggregates":
            return self.aggregates
        assert (fn, args.get("status")) == ("ListUpdates", "accepted")
        return self.views

    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        assert fn == "PostAggregate"
        if self.refusal != "VALID":
            return TxResult(tx_id="refused", code=self.refusal, message="refused")
        self.posted.append(args)
        tx_id = f"agg{len(self.posted)}"
        self.aggregates.append({**args, "aggregate_id": tx_id, "head": self.height,
                                "by": self.member_id, "ms": self.now_ms()})  # fmt: skip
        return TxResult(tx_id=tx_id, code="VALID")


def test_a_sum_that_fell_short_is_not_posted_again_until_something_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    step = lambda: aggregator.aggregate_step(node)  # type: ignore[arg-type]  # noqa: E731
    assert step() and len(node.posted) == 1
    assert not step()  # outstanding
    aggregator.close_aggregate(node, "agg1", "below_target")  # type: ignore[arg-type]
    node.now += 1.0
    assert not step() and len(node.posted) == 1  # the same updates on the same head: wait
    assert aggregator.fell_short(node.files[("tasks", "heart", "aggregator.json")], 1) == {
        "a-1", "b-1"
    }  # fmt: skip
    node.views.append(_view("c", 1, "accepted"))  # company arrives
    assert step() and node.posted[-1]["updates"] == ["a-1", "b-1", "c-1"]


def test_the_same_sum_is_tried_again_after_the_outstanding_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    aggregator.close_aggregate(node, "agg1", "below_target")  # type: ignore[arg-type]
    node.now += 2.0 * 4 - 0.1  # sealer timeout × (3 hospitals + 1), not yet
    assert not aggregator.aggregate_step(node)  # type: ignore[arg-type]
    node.now += 0.2
    assert aggregator.aggregate_step(node) and len(node.posted) == 2  # type: ignore[arg-type]


def test_a_revoked_hospital_is_not_waited_for_as_a_sealer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outstanding timeout gives every hospital its turn to seal; a revoked one cannot seal,
    so it no longer lengthens the wait."""
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    node.revoked = {"c"}
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    aggregator.close_aggregate(node, "agg1", "below_target")  # type: ignore[arg-type]
    node.now += 2.0 * 3 + 0.1  # sealer timeout × (2 hospitals left + 1)
    assert aggregator.aggregate_step(node) and len(node.posted) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("before", ["nothing", "a_short_sum_on_the_head", "a_sum_on_an_older_head"])
def test_an_aggregate_posted_just_before_a_kill_is_not_posted_again(
    monkeypatch: pytest.MonkeyPatch, before: str
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    step = lambda: aggregator.aggregate_step(node)  # type: ignore[arg-type]  # noqa: E731
    # Arrange: what aggregator.json remembers, then a sum posted just before a kill -9
    if before == "a_short_sum_on_the_head":  # the same sum, tried again once the bar decayed
        assert step()
        aggregator.close_aggregate(node, "agg1", "below_target")  # type: ignore[arg-type]
        node.now += 2.0 * 4
    elif before == "a_sum_on_an_older_head":
        node.height, views = 0, node.views
        node.views = [_view("a", 0, "accepted"), _view("b", 0, "accepted")]
        assert step()
        node.height, node.views = 1, views  # sealed; a and b trained on version 1 since
    remembered = node.files.get(("tasks", "heart", "aggregator.json"))
    node.now += 1.0
    node.killed_before_writing = True
    with pytest.raises(_Killed):
        step()
    assert node.files.get(("tasks", "heart", "aggregator.json")) == remembered
    posted = len(node.posted)
    # Act: the restarted node steps again
    node.killed_before_writing = False
    node.now += 1.0
    assert not step()
    # Assert: it took its own aggregate from the ledger as outstanding, and posted nothing
    assert len(node.posted) == posted
    last = node.files[("tasks", "heart", "aggregator.json")]["last"]
    assert last["id"] == node.aggregates[-1]["aggregate_id"] and "closed" not in last
    assert (last["head"], last["updates"], last["posted_at"]) == (1, ["a-1", "b-1"], node.now - 1)
    aggregator.close_aggregate(node, last["id"], "rejected")  # type: ignore[arg-type]
    assert step() and len(node.posted) == posted + 1  # closed as any other: aggregated afresh


@pytest.mark.parametrize("status", ["rejected", "below_target"])
def test_a_close_read_before_the_restarted_aggregator_finds_its_aggregate_counts(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    """Killed between PostAggregate and aggregator.json; by the time it restarts the sum was
    sealed and its proposal closed, and the follower reads that close before the aggregator
    finds its aggregate on the ledger. The close must not be lost: a rejected sum is aggregated
    afresh at once, a short one waits for company, as without the kill."""
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    node.record = _record(gain_decay_intervals=0)
    step = lambda: aggregator.aggregate_step(node)  # type: ignore[arg-type]  # noqa: E731
    node.killed_before_writing = True
    with pytest.raises(_Killed):
        step()
    node.killed_before_writing = False
    node.now += 1.0
    # Act: the restarted node's follower reads the AttestBlock that closed agg1, then it steps
    aggregator.close_aggregate(node, "agg1", status, -30)  # type: ignore[arg-type]
    node.now += 1.0
    posted = step()
    # Assert
    mem = node.files[("tasks", "heart", "aggregator.json")]
    if status == "rejected":
        assert posted and len(node.posted) == 2  # aggregated afresh, not waited out
    else:
        assert not posted and len(node.posted) == 1
        assert aggregator.fell_short(mem, 1) == {"a-1", "b-1"}
        assert mem["last"]["gain_bp"] == -30


def test_a_rejected_or_superseded_sum_is_aggregated_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    aggregator.close_aggregate(node, "agg1", "rejected")  # type: ignore[arg-type]  # a forger
    assert aggregator.aggregate_step(node) and len(node.posted) == 2  # type: ignore[arg-type]
    aggregator.close_aggregate(node, "agg2", "below_target")  # type: ignore[arg-type]
    node.height = 2  # the head moved: the stale updates meet a new version
    assert aggregator.aggregate_step(node) and len(node.posted) == 3  # type: ignore[arg-type]


def _record(**overrides: Any) -> dict[str, Any]:
    """A task as GetTask returns it: required 50 bp, floor -100, target 5 s."""
    task = example_task("heart", target_interval_ms=5000, **overrides)
    return {**task, "published_by": "admin", "published_ms": 0}


def _fell_short(
    monkeypatch: pytest.MonkeyPatch, *, gain_decay_intervals: int, head_age_ms: int
) -> _Node:
    """A node whose first aggregate (updates a and b) fell short with an attested gain of -30
    bp on a head ``head_age_ms`` old."""
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    node.record = _record(gain_decay_intervals=gain_decay_intervals)
    node.head_ms = node.now_ms() - head_age_ms
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    aggregator.close_aggregate(node, "agg1", "below_target", -30)  # type: ignore[arg-type]
    return node


def test_the_same_sum_is_tried_again_once_the_requirement_decayed_to_its_gain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # required 50 bp, floor -100, target 5 s, decay over 4 intervals (20 s): a proposal made
    # 5 s + late ms after the head needs 50 - floor(150 × late / 20000); the sum's gain was -30
    node = _fell_short(monkeypatch, gain_decay_intervals=4, head_age_ms=10_000)
    node.now += 5.6  # late 10_600 ms: 50 - 79 = -29 > -30, and within the outstanding timeout
    assert not aggregator.aggregate_step(node)  # type: ignore[arg-type]
    node.now += 0.1  # late 10_700 ms: 50 - 80 = -30, the gain the same version showed
    assert aggregator.aggregate_step(node) and len(node.posted) == 2  # type: ignore[arg-type]


def test_without_decay_the_same_sum_waits_out_the_timeout_whatever_its_gain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = _fell_short(monkeypatch, gain_decay_intervals=0, head_age_ms=100_000)
    node.now += 7.9  # the head is 108 s old (a decaying bar would be at its floor): stays at 50
    assert not aggregator.aggregate_step(node)  # type: ignore[arg-type]


def test_closing_an_aggregate_again_keeps_when_it_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A restarted node reads again the transactions after its last saved position, and with them
    # the AttestBlock that closed its aggregate: the wait for the same sum counts from the close.
    node = _fell_short(monkeypatch, gain_decay_intervals=0, head_age_ms=100_000)
    closed = node.files[("tasks", "heart", "aggregator.json")]["last"]
    node.now += 5.0
    aggregator.close_aggregate(node, "agg1", "below_target", -30)  # type: ignore[arg-type]
    assert node.files[("tasks", "heart", "aggregator.json")]["last"] == closed
    node.now += 2.0 * 4 - 5.0  # the outstanding timeout after the first close
    assert aggregator.aggregate_step(node) and len(node.posted) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("decay", "gain", "for_good"),
    [(4, -30, False), (4, -100, False), (4, -101, True), (0, -30, True)],
)
def test_a_short_sum_is_left_for_good_only_when_the_bar_will_never_fall_to_its_gain(
    decay: int, gain: int, for_good: bool
) -> None:
    # required 50 bp on the head, floor -100: with decay the bar falls to -100 at the latest
    mem = {"last": {"head": 1, "closed": "below_target", "updates": ["a", "b"], "gain_bp": gain}}
    head = {"height": 1, "required_gain_bp": 50, "ms": 0}
    left = aggregator.short_for_good(mem, _record(gain_decay_intervals=decay), head)
    assert left == ({"a", "b"} if for_good else set())
    assert aggregator.short_for_good(mem, _record(gain_decay_intervals=decay),
                                     {**head, "height": 2}) == set()  # fmt: skip


def test_the_attested_gain_is_the_contracts_lower_median_of_accepts() -> None:
    def att(member: str, verdict: str, gain: int) -> dict[str, Any]:
        return {"proposal_id": "p" * 64, "member_id": member, "verdict": verdict,
                "metric_bp": 7000 + gain, "base_metric_bp": 7000, "ms": 1}  # fmt: skip

    three = [att("v1", "accept", -5), att("v2", "accept", -40), att("v3", "reject", -900)]
    assert aggregator.attested_gain(three) == -40  # lower median of (-40, -5); rejects ignored
    assert aggregator.attested_gain([att("v1", "abstain", 0)]) is None


def test_an_update_accepted_while_the_sum_was_computed_joins_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    sums: list[list[str]] = []

    def blob(s: Any, ids: list[str], weights: list[int]) -> str:
        sums.append(sorted(ids))
        if len(sums) == 1:  # "c" is accepted while the first sum is computed
            node.views.append(_view("c", 1, "accepted"))
        return "d" * 64

    monkeypatch.setattr(aggregator, "_aggregate_blob", blob)
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert sums == [["a-1", "b-1"], ["a-1", "b-1", "c-1"]]  # summed again, once, with "c"
    assert sorted(node.posted[-1]["updates"]) == ["a-1", "b-1", "c-1"]
    assert len(node.posted) == 1


def test_the_sum_is_computed_once_when_nothing_arrived_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    sums: list[list[str]] = []
    monkeypatch.setattr(
        aggregator, "_aggregate_blob", lambda s, ids, w: sums.append(ids) or "d" * 64
    )
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert len(sums) == 1 and len(node.posted) == 1


def test_sealers_and_attesters_recompute_the_weights_from_the_ledger() -> None:
    views = {v["update"]["update_id"]: v for v in
             (_view("a", 1, "accepted"), _view("b", 0, "accepted"))}  # fmt: skip
    views["b-0"]["update"]["n_samples"] = 300

    class _Reader:
        task_id = "heart"

        def q(self, fn: str, **args: Any) -> Any:
            assert fn == "GetUpdate"
            return views[args["update_id"]]

        def task(self) -> dict[str, Any]:
            return _record()

    from consortium.federation.weights import buffer_weights

    honest = buffer_weights([aggregator.buffered(v) for v in views.values()], head=1,
                            exponent_bp=int(_record()["staleness_exponent_bp"]))  # fmt: skip
    agg = honest.model_dump()
    assert aggregator.weights_as_ledger_says(_Reader(), agg, 1)  # type: ignore[arg-type]
    steered = {**agg, "weights_ppm": [agg["weights_ppm"][0] * 3, agg["weights_ppm"][1]]}
    assert not aggregator.weights_as_ledger_says(_Reader(), steered, 1)  # type: ignore[arg-type]
    paid = {**agg, "contribution_ppm": [1_000_000 - 10, 10]}
    assert not aggregator.weights_as_ledger_says(_Reader(), paid, 1)  # type: ignore[arg-type]
    off_by_one = {**agg, "weights_ppm": [agg["weights_ppm"][0] + 1, agg["weights_ppm"][1]]}
    assert aggregator.weights_as_ledger_says(_Reader(), off_by_one, 1)  # type: ignore[arg-type]
    # a later endorsement does not move the weights of an update already accepted
    late = {"member_id": "v3", "verdict": "accept", "ms": 10**9, "metric_bp": 100,
            "scores": {"cosine_bp": -9000}}  # fmt: skip
    views["a-1"]["endorsements"].append(late)
    assert aggregator.weights_as_ledger_says(_Reader(), agg, 1)  # type: ignore[arg-type]
    # nor can an aggregate carry an update the ledger does not hold accepted
    views["a-1"]["status"] = "rejected"
    assert not aggregator.weights_as_ledger_says(_Reader(), agg, 1)  # type: ignore[arg-type]


def test_sync_does_not_wait_for_a_revoked_hospital_nor_take_its_update() -> None:
    settings = NodeSettings(sync_members=["a", "b", "c"], planned_updates=2)
    views = [_view("a", 1, "accepted"), _view("b", 1, "accepted"), _view("c", 1, "pending")]
    s = _Ledgerless(settings, views, 0)
    # c was revoked while its update waited for verdicts, a after its update was accepted
    chosen = _select(s, 1, [views[0], views[1]], revoked={"a", "c"})  # type: ignore[arg-type]
    assert chosen == [views[1]]


def test_the_accepted_updates_of_a_revoked_member_are_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted"), _view("c", 1, "accepted")])
    node.revoked = {"a"}
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert node.posted[-1]["updates"] == ["b-1", "c-1"]


def test_an_aggregate_a_revocation_made_unusable_is_dropped_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert not aggregator.aggregate_step(node)  # type: ignore[arg-type]  # outstanding
    node.revoked = {"a"}  # no sealer can propose agg1 now (MEMBER_REVOKED)
    node.views.append(_view("c", 1, "accepted"))
    node.now += 0.1  # far within the outstanding timeout (2 s × 4)
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert node.posted[-1]["updates"] == ["b-1", "c-1"]
    mem = node.files[("tasks", "heart", "aggregator.json")]
    assert mem["last"]["id"] == "agg2" and not mem["last"].get("closed")


def test_a_contributor_revoked_before_the_post_is_ordered_is_left_out_next_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    node.refusal = "MEMBER_REVOKED"  # a was revoked after the aggregator read the members
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]  # no crash, nothing posted
    node.revoked, node.refusal = {"a"}, "VALID"
    node.views.append(_view("c", 1, "accepted"))
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert node.posted[-1]["updates"] == ["b-1", "c-1"]


def test_a_revoked_aggregator_stops_with_the_ledgers_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 1, "accepted")])
    node.revoked, node.refusal = {"agg"}, "MEMBER_REVOKED"
    with pytest.raises(RuntimeError, match="PostAggregate refused: MEMBER_REVOKED"):
        aggregator.aggregate_step(node)  # type: ignore[arg-type]


def test_an_update_grown_too_stale_is_left_out_of_the_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contract refuses an aggregate holding an update more than max_staleness versions behind
    the head (STALE_BASE): posting one would be refused at every step, for good."""
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 0, "accepted"), _view("b", 2, "accepted"), _view("c", 1, "accepted")])
    node.record, node.height = _record(max_staleness=1), 2

    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]

    assert node.posted[-1]["updates"] == ["b-2", "c-1"]  # a is 2 versions behind, c 1


def test_a_too_stale_update_does_not_fill_the_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    just = 100_000  # accepted now (node.now is 100 s): no flush timeout has passed
    node = _Node([_view("a", 0, "accepted", just), _view("b", 2, "accepted", just)])
    node.record, node.height = _record(max_staleness=1), 2

    assert not aggregator.aggregate_step(node)  # type: ignore[arg-type]  # buffer_size 2: one

    assert node.posted == []


def test_a_post_refused_because_the_head_moved_meanwhile_is_aggregated_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block appended between the aggregator's reading of the head and its PostAggregate can
    make an update of the sum too stale: STALE_BASE then, and the next step leaves it out."""
    monkeypatch.setattr(aggregator, "_aggregate_blob", lambda s, ids, weights: "d" * 64)
    node = _Node([_view("a", 1, "accepted"), _view("b", 2, "accepted"), _view("c", 2, "accepted")])
    node.record, node.height, node.refusal = _record(max_staleness=1), 2, "STALE_BASE"
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]  # no crash, nothing posted
    node.height, node.refusal = 3, "VALID"
    assert aggregator.aggregate_step(node)  # type: ignore[arg-type]
    assert node.posted[-1]["updates"] == ["b-2", "c-2"]
