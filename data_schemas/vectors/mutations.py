"""Argument vectors: every transaction's valid arguments, mutated field by field.

The chaincode re-implements the pydantic models' checks by hand; these vectors pin that both
sides accept and refuse the same argument shapes (missing and unknown fields, wrong JSON types,
bounds, lengths counted in code points, floats, nested models). Each runs on an empty world state,
so a mutation that is still valid goes on to the creator check (and `Bootstrap` may succeed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generate import Recorder

from consortium.ledger.contract.memory import MemoryState


def wrong_values(value: Any) -> Iterator[tuple[str, Any]]:
    """Values of the wrong type or out of bounds for a field holding ``value``."""
    if value is None:
        yield from (("string", "x"), ("int", 1))
    elif isinstance(value, bool):
        yield from (("int", 1), ("string", "true"), ("null", None))
    elif isinstance(value, int):
        yield from (("string", str(value)), ("bool", True), ("float", value + 0.5))
        yield "integral-float", float(value)  # written 240.0: a float although integral
        yield from (("null", None), ("negative", -value - 1), ("huge", 2**53 - 1))
    elif isinstance(value, str):
        yield from (("int", 1), ("null", None), ("empty", ""), ("long", "a" * 300))
        yield from (("astral", "😀"), ("slash", value + "/x"))
        if value.upper() != value:
            yield "upper", value.upper()
    elif isinstance(value, list):
        yield from (("object", {}), ("empty", []), ("null", None), ("items-int", [1]))
        if value:
            yield "repeat", [*value, value[0]]
    elif isinstance(value, dict):
        yield from (("list", []), ("null", None), ("empty", {}), ("float-inside", {"x": 0.5}))


def mutations(args: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, mutated args) for each field of ``args`` (and of its nested models)."""
    yield f"{prefix}extra-field", {**args, "zz_extra": 1}
    for key, value in args.items():
        yield f"{prefix}{key}-missing", {k: v for k, v in args.items() if k != key}
        for label, bad in wrong_values(value):
            yield f"{prefix}{key}-{label}", {**args, key: bad}
        if key == "task":
            for label, task in mutations(value, "task."):
                yield label, {**args, "task": task}
        if key == "members":
            for label, first in mutations(value[0], "members.0."):
                yield label, {**args, "members": [first, *value[1:]]}


def special_cases(fn: str, args: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Edge cases the generic mutations do not reach."""
    if fn == "PublishTask":
        task = args["task"]
        yield "title-200-astral", {"task": {**task, "title": "😀" * 200}}
        yield "title-201-astral", {"task": {**task, "title": "😀" * 201}}
        yield "verification-set-null", {"task": {**task, "verification_set_digest": None}}
        yield "min-above-initial", {"task": {**task, "min_required_gain_bp": 10_000}}
        yield "min-interval-whole-target", {"task": {**task, "min_interval_bp": 10_000}}
        yield "min-interval-over-target", {"task": {**task, "min_interval_bp": 10_001}}
        yield "gain-decay-1000", {"task": {**task, "gain_decay_intervals": 1000}}
        yield "gain-decay-1001", {"task": {**task, "gain_decay_intervals": 1001}}
        yield "gain-decay-negative", {"task": {**task, "gain_decay_intervals": -1}}
        seeds = {"head": "head", "tx": "tx", "other": "block", "upper": "HEAD", "null": None}
        for label, seed in seeds.items():
            yield f"committee-seed-{label}", {"task": {**task, "committee_seed": seed}}
        for label, flag in {"true": True, "false": False, "int": 1, "null": None}.items():
            yield f"attest-reasons-{label}", {"task": {**task, "attest_reasons": flag}}
    if fn == "Endorse":
        yield "reject-with-ok", {**args, "verdict": "reject", "reason": "OK"}
        yield "scores-65-entries", {**args, "scores": {f"s{i}": i for i in range(65)}}
        yield "scores-bad-key", {**args, "scores": {"a/b": 1}}
    if fn == "AttestBlock":
        reject = {**args, "verdict": "reject", "metric_bp": 0}
        yield "reject-with-reason", {**reject, "reason": "VERSION_MISMATCH"}
        yield "reject-reason-null", {**reject, "reason": None}
        yield "reject-reason-lower", {**reject, "reason": "version_mismatch"}
        yield "reject-reason-empty", {**reject, "reason": ""}
        yield "reject-reason-endorse", {**reject, "reason": "METRIC_DROP"}
        yield "accept-with-reason", {**args, "verdict": "accept", "reason": "PROPOSAL_LATE"}
        yield "abstain-with-reason", {**args, "verdict": "abstain", "reason": "PROPOSAL_LATE"}
        yield "accept-reason-null", {**args, "verdict": "accept", "reason": None}
    if fn == "ProposeBlock":
        yield "aggregate-id-given", {**args, "aggregate_id": "a" * 64}
        yield "contributions-off-by-one", {**args, "contribution_ppm": [999_999]}


def build_mutations(rec: Recorder) -> None:
    """Record the mutated-argument vectors of every transaction seen valid in the scenario."""
    bases = dict(rec.valid_args)
    bases["Bootstrap"] = {"members": [rec.member_args("admin")]}  # one member keeps files small
    for fn, args in sorted(bases.items()):
        cases = list(mutations(args)) + list(special_cases(fn, args))
        seen: set[str] = set()
        for label, mutated in cases:
            if label in seen:
                continue
            seen.add(label)
            saved = rec.sc.state
            rec.sc.state = MemoryState()
            try:
                rec.step(f"{fn}-{label}", "admin", fn, mutated, None, group="arguments")
            finally:
                rec.sc.state = saved
