"""The steps of the vectors scenario: one consortium from genesis to two learning blocks.

Each `rec.step` names a vector, the identity that signs, the transaction and the code it must get.
Rejected steps change nothing; `keep=False` runs a valid step without keeping its effects.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from generate import Recorder

from consortium.canonical import canonical_json
from consortium.ledger.contract._updates import sml_commitment
from consortium.ledger.contract.committee import draw_committee, head_seed
from consortium.ledger.contract.memory import MemoryState
from consortium.ledger.contract.records import TaskRecord
from consortium.ledger.contract.scenario import example_task, fake_digest
from consortium.pole.difficulty import next_required_gain

CONTEXT = fake_digest("public context")
NON_ASCII_TITLE = 'Cœur · 心臓 — "quoted" \\ tab\t newline\n \x01 \x7f \u2028 😀'


def nonce_for(label: str) -> str:
    """A deterministic 32-byte nonce (hex) for ``label``."""
    return hashlib.sha256(f"nonce/{label}".encode()).hexdigest()


def build(rec: Recorder) -> None:
    """All steps, in order."""
    _bootstrap(rec)
    _members(rec)
    _shares(rec)
    _tasks(rec)
    ids = _submissions(rec)
    _reveals(rec, ids)
    _endorsements(rec, ids)
    _block_one(rec, ids)
    _downloads(rec)
    _block_two(rec, ids)
    _no_sml_block(rec, ids)
    _abstentions(rec, ids)
    _legacy_task(rec)
    _queries(rec, ids)
    _backdated(rec, ids)
    _revocations(rec, ids)
    _timestamps(rec)
    _role_mixes(rec)
    _stale_updates(rec)
    _head_seeded(rec)
    _verdict_timeouts(rec)
    _attest_reasons(rec)


def _bootstrap(rec: Recorder) -> None:
    genesis = [rec.member_args(n) for n in ("admin", "h1", "h2", "h3", "v1", "v2", "agg", "aud")]
    step = rec.step
    step("unknown-function", "admin", "Mint", {"units": 5}, "UNKNOWN_FUNCTION")
    step("args-not-an-object", "admin", "Bootstrap", [], "BAD_ARGS")  # type: ignore[arg-type]
    twice = [*genesis, genesis[1]]
    step("bootstrap-repeated-id", "admin", "Bootstrap", {"members": twice}, "BAD_ARGS")
    step("bootstrap-by-outsider", "outsider", "Bootstrap", {"members": genesis}, "NOT_A_MEMBER")
    step("bootstrap-not-admin", "h1", "Bootstrap", {"members": genesis}, "MISSING_ROLE")
    bad = [*genesis, {**rec.member_args("v3"), "cert_pem": "not a certificate"}]
    step("bootstrap-bad-cert", "admin", "Bootstrap", {"members": bad}, "BAD_CERT")
    shared = [*genesis, {**rec.member_args("v3"), "cert_pem": genesis[1]["cert_pem"]}]
    step("bootstrap-shared-cert", "admin", "Bootstrap", {"members": shared}, "CERT_IN_USE")
    renamed = [{**genesis[0], "member_id": "boss"}, *genesis[1:]]
    step("bootstrap-cert-renamed", "admin", "Bootstrap", {"members": renamed}, "CERT_MISMATCH")
    step("bootstrap", "admin", "Bootstrap", {"members": genesis})
    step("bootstrap-again", "admin", "Bootstrap", {"members": genesis}, "ALREADY_BOOTSTRAPPED")


def _members(rec: Recorder) -> None:
    step = rec.step
    step("register-verifier", "admin", "RegisterMember", rec.member_args("v3"))
    step("register-late", "admin", "RegisterMember", rec.member_args("late"))
    step("register-exists", "admin", "RegisterMember", rec.member_args("v3"), "MEMBER_EXISTS")
    reuse = {**rec.member_args("h1"), "member_id": "h1bis"}
    step("register-cert-in-use", "admin", "RegisterMember", reuse, "CERT_IN_USE")
    pem = "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n"
    bad = {**rec.member_args("outsider"), "cert_pem": pem}
    step("register-bad-cert", "admin", "RegisterMember", bad, "BAD_CERT")
    out = rec.member_args("outsider")
    step("register-by-hospital", "h1", "RegisterMember", out, "MISSING_ROLE")
    step("register-by-outsider", "outsider", "RegisterMember", out, "NOT_A_MEMBER")
    step("register-by-rogue-cert", "rogue-h1", "RegisterMember", out, "CERT_MISMATCH")
    step("register-bad-role", "admin", "RegisterMember", {**out, "roles": ["doctor"]}, "BAD_ARGS")
    twice = {**out, "roles": ["hospital", "hospital"]}
    step("register-repeated-role", "admin", "RegisterMember", twice, "BAD_ARGS")
    step("register-extra-field", "admin", "RegisterMember", {**out, "x": 1}, "BAD_ARGS")
    step("register-slash-id", "admin", "RegisterMember", {**out, "member_id": "a/b"}, "BAD_ARGS")
    step("revoke", "admin", "RevokeMember", {"member_id": "late"})
    step("revoke-again", "admin", "RevokeMember", {"member_id": "late"}, "ALREADY_REVOKED")
    step("revoke-unknown", "admin", "RevokeMember", {"member_id": "nobody"}, "MEMBER_NOT_FOUND")
    step("revoke-by-verifier", "v1", "RevokeMember", {"member_id": "h2"}, "MISSING_ROLE")


def _share(member_id: str, context: str = CONTEXT) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "wrapped_key_digest": fake_digest(f"wrapped key for {member_id}"),
        "public_context_digest": context,
    }


def _shares(rec: Recorder) -> None:
    step = rec.step
    step("share-to-self", "admin", "ShareKey", _share("admin"))
    step("share-to-hospital", "admin", "ShareKey", _share("h1"))
    step("share-by-holder", "h1", "ShareKey", _share("h2"))
    step("share-by-keyless", "v1", "ShareKey", _share("v2"), "MISSING_ROLE")
    step("share-to-aggregator", "admin", "ShareKey", _share("agg"), "ROLE_FORBIDDEN")
    step("share-to-auditor", "admin", "ShareKey", _share("aud"), "ROLE_FORBIDDEN")
    other = _share("v1", fake_digest("another context"))
    step("share-other-context", "admin", "ShareKey", other, "CONTEXT_MISMATCH")
    step("share-twice", "admin", "ShareKey", _share("h1"), "SHARE_EXISTS")
    step("share-unknown", "admin", "ShareKey", _share("nobody"), "MEMBER_NOT_FOUND")
    step("share-revoked", "admin", "ShareKey", _share("late"), "MEMBER_REVOKED")
    _replaced_share(rec)
    for name in ("v1", "v2", "v3"):
        step(f"share-to-{name}", "admin", "ShareKey", _share(name))


def _replaced_share(rec: Recorder) -> None:
    """A holder front-runs the admin with a wrap h3 cannot open: the admin's share replaces it
    (and names it), and is final; a member never overwrites a share."""
    step = rec.step
    bogus = {**_share("h3"), "wrapped_key_digest": fake_digest("a wrap h3 cannot open")}
    step("share-bogus-by-holder", "h1", "ShareKey", bogus)
    step("share-holder-over-holder", "h2", "ShareKey", _share("h3"), "SHARE_EXISTS")
    got = step("share-admin-replaces", "admin", "ShareKey", _share("h3"))
    assert got["replaced"] == bogus["wrapped_key_digest"], got
    step("share-holder-over-admin", "h1", "ShareKey", bogus, "SHARE_EXISTS")
    step("share-admin-over-admin", "admin", "ShareKey", bogus, "SHARE_EXISTS")


def _tasks(rec: Recorder) -> None:
    step = rec.step
    heart = example_task("heart", max_staleness=1)
    step("publish", "admin", "PublishTask", {"task": heart})
    nosml = example_task(
        "nosml", sml=False, committee_size=2, quorum=1, retarget_every=1,
        target_interval_ms=9_999_999, min_interval_bp=8000,
    )  # fmt: skip  # gated: the earliest interval is ceil(7_999_999.2) = 8_000_000 ms
    step("publish-without-sml", "admin", "PublishTask", {"task": nosml})
    step("publish-exists", "admin", "PublishTask", {"task": heart}, "TASK_EXISTS")
    bad = example_task("bad", quorum=4)
    step("publish-quorum-over-size", "admin", "PublishTask", {"task": bad}, "BAD_ARGS")
    floaty = example_task("floaty", server_lr_bp=0.5)
    step("publish-float", "admin", "PublishTask", {"task": floaty}, "BAD_ARGS")
    step("publish-by-hospital", "h1", "PublishTask", {"task": example_task("x")}, "MISSING_ROLE")
    coeur = example_task(
        "coeur", title=NON_ASCII_TITLE, target_interval_ms=10_000_000, gain_decay_intervals=2
    )  # the decaying requirement: 50 bp at 10_000_000 ms falls to -100 bp at 30_000_000 ms
    step("publish-non-ascii", "admin", "PublishTask", {"task": coeur}, about="canonical JSON")
    big = example_task("big", committee_size=10, quorum=10)
    step("publish-big-committee", "admin", "PublishTask", {"task": big})


def _submit(task_id: str, base: int, label: str, eps: str = "2.5", sml: bool = True) -> Any:
    return {
        "task_id": task_id,
        "base_version": base,
        "model_digest": fake_digest(f"update {label}"),
        "n_samples": 240,
        "epsilon_spent": eps,
        "commitment": sml_commitment(nonce_for(label)) if sml else "",
    }


def _submissions(rec: Recorder) -> dict[str, str]:
    step, ids = rec.step, {}
    for who in ("h1", "h2", "h3"):
        ids[who] = step(f"submit-{who}", who, "SubmitUpdate", _submit("heart", 0, who))["update_id"]
    step("submit-twice", "h1", "SubmitUpdate", _submit("heart", 0, "h1"), "DUPLICATE_SUBMISSION")
    step("submit-future-base", "h2", "SubmitUpdate", _submit("heart", 7, "x"), "VERSION_NOT_FOUND")
    over = _submit("nosml", 0, "w", eps="8.000001", sml=False)
    step("submit-over-budget", "h1", "SubmitUpdate", over, "BUDGET_EXCEEDED")
    bare = {**_submit("heart", 0, "h1"), "commitment": ""}
    step("submit-no-commitment", "h1", "SubmitUpdate", bare, "COMMITMENT_MISSING")
    step("submit-by-verifier", "v1", "SubmitUpdate", _submit("heart", 0, "v"), "MISSING_ROLE")
    step("submit-unknown-task", "h1", "SubmitUpdate", _submit("nope", 0, "n"), "TASK_NOT_FOUND")
    step("submit-revoked", "late", "SubmitUpdate", _submit("heart", 0, "l"), "MEMBER_REVOKED")
    step("submit-rogue-cert", "rogue-h1", "SubmitUpdate", _submit("heart", 0, "r"), "CERT_MISMATCH")
    step("submit-no-committee", "h1", "SubmitUpdate", _submit("big", 0, "b"), "NO_COMMITTEE")
    digest = {**_submit("heart", 0, "d"), "model_digest": "ABC"}
    step("submit-bad-digest", "h2", "SubmitUpdate", digest, "BAD_ARGS")
    boolean = {**_submit("heart", 0, "d"), "n_samples": True}
    step("submit-bool-samples", "h2", "SubmitUpdate", boolean, "BAD_ARGS")
    big = {**_submit("heart", 0, "d"), "n_samples": 2**53}
    step("submit-unsafe-integer", "h2", "SubmitUpdate", big, "BAD_ARGS")
    exponent = {**_submit("heart", 0, "d"), "epsilon_spent": "1e3"}
    step("submit-exponent-epsilon", "h2", "SubmitUpdate", exponent, "BAD_ARGS")
    text = json.dumps(_submit("heart", 0, "d")).replace('"n_samples": 240', '"n_samples": 240.0')
    step("submit-integral-float", "h2", "SubmitUpdate", {}, "BAD_ARGS", args_json=text)
    spec = example_task("huge", model_spec={"seed": 2**60})
    step("publish-unsafe-integer-in-spec", "admin", "PublishTask", {"task": spec}, "BAD_ARGS")
    surrogate = json.dumps({"task": example_task("lone")}).replace("Coronary", "\\ud800Coronary")
    step("publish-lone-surrogate", "admin", "PublishTask", {}, "BAD_ARGS", args_json=surrogate)
    plain = _submit("nosml", 0, "w", eps="1.5", sml=False)
    ids["w"] = step("submit-without-sml", "h1", "SubmitUpdate", plain)["update_id"]
    return ids


def _reveal(ids: dict[str, str], who: str, nonce: str | None = None, task: str = "heart") -> Any:
    return {
        "task_id": task,
        "update_id": ids[who],
        "nonce": nonce_for(who) if nonce is None else nonce,
        "unmapped_digest": fake_digest(f"unmapped {who}"),
    }


def _reveals(rec: Recorder, ids: dict[str, str]) -> None:
    step = rec.step
    step("reveal-by-other", "h2", "RevealNonce", _reveal(ids, "h1"), "NOT_SUBMITTER")
    wrong = _reveal(ids, "h1", nonce_for("other"))
    step("reveal-wrong-nonce", "h1", "RevealNonce", wrong, "COMMITMENT_MISMATCH")
    step("reveal", "h1", "RevealNonce", _reveal(ids, "h1"))
    step("reveal-again", "h1", "RevealNonce", _reveal(ids, "h1"), "ALREADY_REVEALED")
    unknown = {**_reveal(ids, "h1"), "update_id": "f" * 64}
    step("reveal-unknown", "h1", "RevealNonce", unknown, "UPDATE_NOT_FOUND")
    w_nonce = _reveal(ids, "w", nonce_for("w"), task="nosml")
    step("reveal-nonce-without-sml", "h1", "RevealNonce", w_nonce, "COMMITMENT_MISMATCH")
    step("reveal-without-sml", "h1", "RevealNonce", _reveal(ids, "w", "", task="nosml"))
    update = _get_update(rec, "heart", ids["h2"])
    step(
        "endorse-before-reveal", update["committee"][0], "Endorse",
        _endorse(ids, "h2"), "NOT_REVEALED",
    )  # fmt: skip
    step("reveal-h2", "h2", "RevealNonce", _reveal(ids, "h2"))
    step("reveal-h3", "h3", "RevealNonce", _reveal(ids, "h3"))


def _get_update(rec: Recorder, task_id: str, update_id: str) -> Any:
    args = {"task_id": task_id, "update_id": update_id}
    return rec.sc.ok("admin", "GetUpdate", args, after_ms=0)["update"]


def _endorse(ids: dict[str, str], who: str, verdict: str = "accept", **kw: Any) -> Any:
    args = {
        "task_id": kw.pop("task", "heart"),
        "update_id": ids[who],
        "verdict": verdict,
        "reason": "OK" if verdict == "accept" else "NORM_OUTLIER",
        "metric_bp": 7300,
        "scores": {"norm_ppm": 1_200_000, "cosine_ppm": -50_000},
    }
    args.update(kw)
    return args


def _endorsements(rec: Recorder, ids: dict[str, str]) -> None:
    step = rec.step
    committee = _get_update(rec, "heart", ids["h1"])["committee"]
    outside = sorted({"h3", "v1", "v2", "v3"} - set(committee))[0]
    step("endorse-outside-committee", outside, "Endorse", _endorse(ids, "h1"), "NOT_IN_COMMITTEE")
    step("endorse-own-update", "h3", "Endorse", _endorse(ids, "h3"), "SELF_ENDORSEMENT")
    step("endorse-by-hospital", "h2", "Endorse", _endorse(ids, "h1"), "MISSING_ROLE")
    odd = _endorse(ids, "h1", reason="DUPLICATE")
    step("endorse-accept-with-reason", committee[0], "Endorse", odd, "BAD_ARGS")
    step("endorse-first", committee[0], "Endorse", _endorse(ids, "h1"))
    step("endorse-twice", committee[0], "Endorse", _endorse(ids, "h1"), "ALREADY_ENDORSED")
    step("endorse-quorum", committee[1], "Endorse", _endorse(ids, "h1", metric_bp=7310))
    for i, member in enumerate(_get_update(rec, "heart", ids["h2"])["committee"][:2]):
        step(f"endorse-h2-{i}", member, "Endorse", _endorse(ids, "h2"))
    for i, member in enumerate(_get_update(rec, "heart", ids["h3"])["committee"][:2]):
        step(f"endorse-reject-{i}", member, "Endorse", _endorse(ids, "h3", "reject"))
    member = _get_update(rec, "nosml", ids["w"])["committee"][0]
    step("endorse-without-sml", member, "Endorse", _endorse(ids, "w", task="nosml"))


def _propose(rec: Recorder, task_id: str, height: int, updates: list[str], **kw: Any) -> Any:
    head = rec.sc.ok("admin", "GetHead", {"task_id": task_id}, after_ms=0)
    n = len(updates)
    contribution = [1_000_000 // n] * n
    contribution[0] += 1_000_000 - sum(contribution)
    args = {
        "task_id": task_id,
        "height": height,
        "parent_digest": head["model_digest"],
        "updates": updates,
        "weights_ppm": [1_000_000 - 100_000 * i for i in range(n)],
        "contribution_ppm": contribution,
        "aggregate_digest": fake_digest(f"aggregate {task_id} {height}"),
        "model_digest": fake_digest(f"model {task_id} {height}"),
        "blob_digest": fake_digest(f"blob {task_id} {height}"),
        "next_required_gain_bp": _expected_difficulty(rec, task_id, height, head),
    }
    args.update(kw)
    return args


def _expected_difficulty(rec: Recorder, task_id: str, height: int, head: Any) -> int:
    """What the sealer computes (the clock advances one step before the proposal runs)."""
    task = TaskRecord(**rec.sc.ok("admin", "GetTask", {"task_id": task_id}, after_ms=0))
    versions = rec.sc.ok("admin", "ListVersions", {"task_id": task_id}, after_ms=0)
    interval = rec.sc.now_ms + rec.sc.step_ms - head["ms"]
    r = task.retarget_every
    if height != len(versions):  # not the next height: any value (the vector fails earlier)
        return int(head["required_gain_bp"])
    window = [v["interval_ms"] for v in versions[height - r + 1 : height]] + [interval]
    return next_required_gain(task, head["required_gain_bp"], window, height)


def _attest(
    proposal_id: str, verdict: str, metric: int, base: int, task: str = "heart", **kw: Any
) -> Any:
    return {
        "task_id": task,
        "proposal_id": proposal_id,
        "verdict": verdict,
        "metric_bp": metric,
        "base_metric_bp": base,
        **kw,
    }


def _block_one(rec: Recorder, ids: dict[str, str]) -> None:
    step, pair = rec.step, [ids["h1"], ids["h2"]]
    step(
        "propose-wrong-height",
        "h1",
        "ProposeBlock",
        _propose(rec, "heart", 2, pair),
        "WRONG_HEIGHT",
    )
    parent = _propose(rec, "heart", 1, pair, parent_digest=fake_digest("x"))
    step("propose-wrong-parent", "h1", "ProposeBlock", parent, "WRONG_PARENT")
    rejected = _propose(rec, "heart", 1, [ids["h1"], ids["h3"]])
    step("propose-rejected-update", "h1", "ProposeBlock", rejected, "UPDATE_NOT_ACCEPTED")
    unknown = _propose(rec, "heart", 1, [ids["h1"], "e" * 64])
    step("propose-unknown-update", "h1", "ProposeBlock", unknown, "UPDATE_NOT_FOUND")
    short = _propose(rec, "heart", 1, pair, weights_ppm=[1])
    step("propose-lengths-differ", "h1", "ProposeBlock", short, "BAD_ARGS")
    sums = _propose(rec, "heart", 1, pair, contribution_ppm=[500_000, 400_000])
    step("propose-contributions-sum", "h1", "ProposeBlock", sums, "BAD_ARGS")
    step(
        "propose-by-verifier", "v1", "ProposeBlock", _propose(rec, "heart", 1, pair), "MISSING_ROLE"
    )
    wrong = _propose(rec, "heart", 1, pair)
    wrong["next_required_gain_bp"] += 1
    step("propose-wrong-difficulty", "h1", "ProposeBlock", wrong, "WRONG_DIFFICULTY")
    first = step("propose", "h1", "ProposeBlock", _propose(rec, "heart", 1, pair))
    rival = step("propose-rival", "h2", "ProposeBlock", _propose(rec, "heart", 1, pair))
    pid, committee = first["proposal_id"], first["committee"]
    outside = sorted({"h3", "v1", "v2", "v3"} - set(committee))[0]
    good = _attest(pid, "accept", 7400, 7300)
    step("attest-outside-committee", outside, "AttestBlock", good, "NOT_IN_COMMITTEE")
    step("attest-by-hospital", "h2", "AttestBlock", good, "MISSING_ROLE")
    step("attest-unknown", committee[0], "AttestBlock", _attest("d" * 64, "accept", 1, 0),
         "PROPOSAL_NOT_FOUND")  # fmt: skip
    step("attest-first", committee[0], "AttestBlock", good)
    step("attest-twice", committee[0], "AttestBlock", good, "ALREADY_ATTESTED")
    step("attest-finalize", committee[1], "AttestBlock", _attest(pid, "accept", 7380, 7300))
    step("attest-closed", committee[2], "AttestBlock", good, "PROPOSAL_CLOSED")
    rid, rc = rival["proposal_id"], rival["committee"]
    step("attest-rival", rc[0], "AttestBlock", _attest(rid, "accept", 7400, 7300))
    step("attest-superseded", rc[1], "AttestBlock", _attest(rid, "accept", 7400, 7300))


def _downloads(rec: Recorder) -> None:
    step = rec.step
    head = rec.sc.ok("admin", "GetHead", {"task_id": "heart"}, after_ms=0)
    args = {"task_id": "heart", "version": 1, "model_digest": head["model_digest"]}
    step("download", "h1", "RecordDownload", args)
    step("download-by-auditor", "aud", "RecordDownload", args, "ROLE_FORBIDDEN")
    step("download-by-aggregator", "agg", "RecordDownload", args, "MISSING_ROLE")
    missing = {**args, "version": 9}
    step("download-missing-version", "v1", "RecordDownload", missing, "VERSION_NOT_FOUND")
    other = {**args, "model_digest": fake_digest("other")}
    step("download-wrong-digest", "admin", "RecordDownload", other, "DIGEST_MISMATCH")


def _block_two(rec: Recorder, ids: dict[str, str]) -> None:
    step = rec.step
    lower = _submit("heart", 1, "h1b", eps="2.25")
    step("submit-epsilon-decreased", "h1", "SubmitUpdate", lower, "EPSILON_DECREASED")
    for who in ("h1", "h2"):
        update = step(
            f"submit-base1-{who}", who, "SubmitUpdate", _submit("heart", 1, f"{who}b", "3")
        )
        ids[f"{who}b"] = update["update_id"]
        rec.sc.ok(who, "RevealNonce", {**_reveal(ids, f"{who}b")}, after_ms=500)
        for member in update["committee"][:2]:
            rec.sc.ok(member, "Endorse", _endorse(ids, f"{who}b"), after_ms=500)
    pair = [ids["h1b"], ids["h2b"]]
    aggregate_id = _aggregates(rec, ids, pair)
    again = _propose(rec, "heart", 2, [ids["h1"]])
    step("propose-included-update", "h2", "ProposeBlock", again, "UPDATE_ALREADY_INCLUDED")
    wrong = _propose(rec, "heart", 2, pair)
    wrong["next_required_gain_bp"] -= 1
    step("propose-retarget-wrong", "h2", "ProposeBlock", wrong, "WRONG_DIFFICULTY")
    low = step("propose-low-gain", "h2", "ProposeBlock", _propose(rec, "heart", 2, pair))
    for i, member in enumerate(low["committee"][:2]):
        attest = _attest(low["proposal_id"], "accept", 7390 + i, 7380)
        step(f"attest-below-target-{i}", member, "AttestBlock", attest)
    mixed = _propose(rec, "heart", 2, pair, aggregate_id=aggregate_id)
    mismatch = {**mixed, "weights_ppm": [500_000, 500_000]}
    step("propose-aggregate-mismatch", "h2", "ProposeBlock", mismatch, "AGGREGATE_MISMATCH")
    unknown = {**mixed, "aggregate_id": "b" * 64}
    step("propose-aggregate-unknown", "h2", "ProposeBlock", unknown, "AGGREGATE_NOT_FOUND")
    shy = step("propose-abstained", "h2", "ProposeBlock", _propose(rec, "heart", 2, pair))
    first, second = shy["committee"][:2]
    out = step(
        "attest-abstain",
        first,
        "AttestBlock",
        _attest(shy["proposal_id"], "abstain", 0, 0),
        about="committee 3, quorum 2: one abstention leaves 2 seats, 2 accepts needed",
    )
    assert out["proposal_status"] == "open", out
    out = step("attest-reject-after-abstention", second, "AttestBlock",
               _attest(shy["proposal_id"], "reject", 7000, 7380),
               about="2 seats, 1 reject: the 2 accepts needed cannot come, rejected")  # fmt: skip
    assert out["proposal_status"] == "rejected", out
    good = step(
        "propose-retarget",
        "h2",
        "ProposeBlock",
        _propose(rec, "heart", 2, pair, aggregate_id=aggregate_id),
    )
    for i, member in enumerate(good["committee"][:2]):
        attest = _attest(good["proposal_id"], "abstain", 0, 0)
        about = "after two abstentions one seat is left and one accept decides"
        out = step(f"attest-retarget-abstain-{i}", member, "AttestBlock", attest, about=about)
        assert out["proposal_status"] == "open", out
    attest = _attest(good["proposal_id"], "accept", 7600, 7380)
    out = step("attest-retarget-one-seat", good["committee"][2], "AttestBlock", attest)
    assert out["proposal_status"] == "final" and out["block"]["attesters"] == [
        good["committee"][2]
    ], out
    stale = _submit("heart", 0, "h3", "3")
    step("submit-stale-base", "h3", "SubmitUpdate", stale, "STALE_BASE")


def _aggregate_args(rec: Recorder, updates: list[str], height: int = 2) -> dict[str, Any]:
    proposal = _propose(rec, "heart", height, updates)
    fields = ("task_id", "updates", "weights_ppm", "contribution_ppm", "aggregate_digest")
    return {name: proposal[name] for name in fields}


def _aggregates(rec: Recorder, ids: dict[str, str], pair: list[str]) -> str:
    step = rec.step
    args = _aggregate_args(rec, pair)
    step("aggregate-by-hospital", "h1", "PostAggregate", args, "MISSING_ROLE")
    rejected = _aggregate_args(rec, [ids["h1b"], ids["h3"]])
    step("aggregate-rejected-update", "agg", "PostAggregate", rejected, "UPDATE_NOT_ACCEPTED")
    included = _aggregate_args(rec, [ids["h1"]])
    step("aggregate-included-update", "agg", "PostAggregate", included, "UPDATE_ALREADY_INCLUDED")
    return str(step("aggregate", "agg", "PostAggregate", args)["aggregate_id"])


def _at_interval(rec: Recorder, task_id: str, interval: int, updates: list[str]) -> Any:
    """(after_ms, ProposeBlock args) for a proposal ``interval`` ms after the head."""
    head = rec.sc.ok("admin", "GetHead", {"task_id": task_id}, after_ms=0)
    task = TaskRecord(**rec.sc.ok("admin", "GetTask", {"task_id": task_id}, after_ms=0))
    args = _propose(rec, task_id, head["height"] + 1, updates)
    window = [interval] if task.retarget_every == 1 else []
    args["next_required_gain_bp"] = next_required_gain(
        task, head["required_gain_bp"], window, head["height"] + 1
    )
    return head["ms"] + interval - rec.sc.now_ms, args


def _no_sml_block(rec: Recorder, ids: dict[str, str]) -> None:
    """The gated task: one millisecond before the gate is TOO_EARLY, the gate itself is valid."""
    step = rec.step
    after, early = _at_interval(rec, "nosml", 7_999_999, [ids["w"]])
    step("propose-too-early", "h1", "ProposeBlock", early, "TOO_EARLY", after_ms=after,
         about="interval 7999999 ms: 7999999 × 10000 < 9999999 × 8000")  # fmt: skip
    after, args = _at_interval(rec, "nosml", 8_000_000, [ids["w"]])
    proposal = step("propose-without-sml", "h1", "ProposeBlock", args, after_ms=after,
                    about="interval 8000000 ms, the earliest the gate accepts")  # fmt: skip
    for i, member in enumerate(proposal["committee"]):
        attest = _attest(proposal["proposal_id"], "reject", 7000, 7300, task="nosml")
        step(f"attest-reject-{i}", member, "AttestBlock", attest)


def _abstentions(rec: Recorder, ids: dict[str, str]) -> None:
    """Endorse "abstain" (an endorser that could not run every check) on the task coeur, committee
    3 and quorum 2: the abstention gives its seat up (`committee_outcome`). GetUpdate pins the
    derived status, which no Endorse result shows."""
    step, committees = rec.step, {}
    for who in ("h1", "h2", "h3"):
        label = f"{who}c"
        update = rec.sc.ok(who, "SubmitUpdate", _submit("coeur", 0, label), after_ms=500)
        ids[label], committees[who] = update["update_id"], update["committee"]
        rec.sc.ok(who, "RevealNonce", _reveal(ids, label, task="coeur"), after_ms=500)

    def endorse(label: str, verdict: str, reason: str) -> dict[str, Any]:
        return _endorse(ids, label, verdict, reason=reason, task="coeur")

    def status(name: str, label: str, expected: str, about: str) -> None:
        args = {"task_id": "coeur", "update_id": ids[label]}
        assert step(name, "aud", "GetUpdate", args, about=about)["status"] == expected

    first, second, third = committees["h1"]
    abstain = endorse("h1c", "abstain", "UNMEASURABLE")
    for reason in ("OK", "NORM_OUTLIER"):
        odd = endorse("h1c", "abstain", reason)
        step(f"endorse-abstain-with-{reason.lower()}", first, "Endorse", odd, "BAD_ARGS")
    unmeasured = endorse("h1c", "reject", "UNMEASURABLE")
    step("endorse-reject-unmeasurable", first, "Endorse", unmeasured, "BAD_ARGS")
    step("endorse-abstain", first, "Endorse", abstain)
    step("endorse-abstain-then-accept", second, "Endorse", endorse("h1c", "accept", "OK"))
    status("query-update-abstain-one-accept", "h1c", "pending",
           "committee 3, quorum 2: one abstention leaves 2 seats, 2 accepts needed")  # fmt: skip
    step("endorse-abstain-then-accepts", third, "Endorse", endorse("h1c", "accept", "OK"))
    status("query-update-abstain-two-accepts", "h1c", "accepted", "2 accepts of 2 seats")
    first, second, _ = committees["h2"]
    step("endorse-abstain-h2", first, "Endorse", endorse("h2c", "abstain", "UNMEASURABLE"))
    step("endorse-reject-after-abstention", second, "Endorse",
         endorse("h2c", "reject", "DIRECTION_OUTLIER"))  # fmt: skip
    status("query-update-abstain-reject", "h2c", "rejected",
           "2 seats, 1 reject: the 2 accepts needed cannot come")  # fmt: skip
    for i, member in enumerate(committees["h3"]):
        step(f"endorse-all-abstain-{i}", member, "Endorse",
             endorse("h3c", "abstain", "UNMEASURABLE"))  # fmt: skip
    status("query-update-all-abstain", "h3c", "rejected",
           "every seat abstained: nobody vouched for the update, rejected")  # fmt: skip
    both = _propose(rec, "coeur", 1, [ids["h1c"], ids["h3c"]])
    step("propose-all-abstained", "h1", "ProposeBlock", both, "UPDATE_NOT_ACCEPTED",
         about="an update every seat abstained on is never includable")  # fmt: skip
    _late_blocks(rec, ids)


def _legacy_task(rec: Recorder) -> None:
    """A task as a contract before the gate and the decay stored it (no ``min_interval_bp``, no
    ``gain_decay_intervals``; a network upgraded in place keeps such records): it reads with
    both at 0, their "none", so its rule does not change under it."""
    stored = json.loads(rec.sc.state.get("task/heart") or b"{}")
    added = ("min_interval_bp", "gain_decay_intervals")
    legacy = {k: v for k, v in stored.items() if k not in added}
    rec.sc.state.put("task/legacy", canonical_json({**legacy, "task_id": "legacy"}))
    got = rec.step("query-task-legacy", "aud", "GetTask", {"task_id": "legacy"},
                   about="stored without min_interval_bp and gain_decay_intervals")  # fmt: skip
    assert (got["min_interval_bp"], got["gain_decay_intervals"]) == (0, 0), got


def _late_blocks(rec: Recorder, ids: dict[str, str]) -> None:
    """The decaying requirement on coeur (required 50, floor -100, target 10_000_000 ms, decay
    over 2 target intervals): a proposal records the requirement at its own interval and its
    block is judged against that number."""
    step = rec.step

    def late(name: str, interval: int, gains: tuple[int, int], expected: str, about: str) -> Any:
        after, args = _at_interval(rec, "coeur", interval, [ids["h1c"]])
        proposal = step(f"propose-{name}", "h1", "ProposeBlock", args, after_ms=after, about=about)
        out = None
        for i, (member, gain) in enumerate(zip(proposal["committee"], gains, strict=False)):
            attest = _attest(proposal["proposal_id"], "accept", 7300 + gain, 7300, task="coeur")
            out = step(f"attest-{name}-{i}", member, "AttestBlock", attest)
        assert out is not None and out["proposal_status"] == expected, out
        return proposal

    low = late("late-below-target", 20_000_000, (-30, -26), "below_target",
               "10_000_000 ms late of 20_000_000: 50 - floor(150 × 1/2) = -25 required; "
               "the median gain -30 falls short")  # fmt: skip
    assert low["required_gain_bp"] == -25, low
    ok = late("late", 25_000_000, (-30, -20), "final",
              "15_000_000 ms late of 20_000_000: 50 - floor(150 × 3/4) = -62 required; "
              "the median gain -30 meets it")  # fmt: skip
    assert ok["required_gain_bp"] == -62, ok


def _queries(rec: Recorder, ids: dict[str, str]) -> None:
    step = rec.step
    heart = {"task_id": "heart"}
    step("query-member", "aud", "GetMember", {"member_id": "h1"})
    step("query-members", "aud", "ListMembers", {})
    step("query-task", "aud", "GetTask", {"task_id": "coeur"})
    step("query-tasks", "aud", "ListTasks", {})
    step("query-update", "aud", "GetUpdate", {"task_id": "heart", "update_id": ids["h1"]})
    step("query-accepted-updates", "aud", "ListUpdates", {**heart, "status": "included"})
    step("query-head", "aud", "GetHead", heart)
    step("query-version", "aud", "GetVersion", {**heart, "version": 2})
    step("query-versions", "aud", "ListVersions", heart)
    versions = rec.sc.ok("aud", "ListVersions", heart, after_ms=0)
    step(
        "query-proposal", "aud", "GetProposal", {**heart, "proposal_id": versions[2]["proposal_id"]}
    )
    step("query-aggregates", "aud", "ListAggregates", heart)
    aggregate_id = rec.sc.ok("aud", "ListAggregates", heart, after_ms=0)[0]["aggregate_id"]
    step("query-aggregate", "aud", "GetAggregate", {**heart, "aggregate_id": aggregate_id})
    step("query-balance", "aud", "GetBalance", {"member_id": "h1"})
    step("query-balance-none", "aud", "GetBalance", {"member_id": "v1"})
    step("query-balances", "aud", "ListBalances", {})
    step("query-share", "aud", "GetShareKey", {"member_id": "h2"})
    step("query-downloads", "aud", "ListDownloads", heart)
    step("query-unknown-member", "aud", "GetMember", {"member_id": "zz"}, "MEMBER_NOT_FOUND")
    step("query-no-share", "aud", "GetShareKey", {"member_id": "agg"}, "SHARE_NOT_FOUND")
    step("query-unknown-task", "aud", "GetHead", {"task_id": "zz"}, "TASK_NOT_FOUND")
    step("query-unknown-version", "aud", "GetVersion", {**heart, "version": 3}, "VERSION_NOT_FOUND")
    step("query-unknown-proposal", "aud", "GetProposal", {**heart, "proposal_id": "c" * 64},
         "PROPOSAL_NOT_FOUND")  # fmt: skip
    step("query-unknown-update", "aud", "GetUpdate", {**heart, "update_id": "c" * 64},
         "UPDATE_NOT_FOUND")  # fmt: skip
    step("query-bad-status", "aud", "ListUpdates", {**heart, "status": "done"}, "BAD_ARGS")


def _backdated(rec: Recorder, ids: dict[str, str]) -> None:
    """A proposal stamped one millisecond before the head (task coeur, no gate): TOO_EARLY, since
    its block would precede its parent and the next interval would count the back-dating. Run
    last and undone (clock and transaction counter too), so the vectors before and after it keep
    their transaction ids."""
    saved = (rec.sc.now_ms, rec.sc.counter)
    head = rec.sc.ok("admin", "GetHead", {"task_id": "coeur"}, after_ms=0)
    args = _propose(rec, "coeur", head["height"] + 1, [ids["h3c"]])
    rec.step("propose-before-head", "h2", "ProposeBlock", args, "TOO_EARLY",
             after_ms=head["ms"] - 1 - rec.sc.now_ms, keep=False,
             about="stamped 1 ms before the head, in a task without a gate")  # fmt: skip
    rec.sc.now_ms, rec.sc.counter = saved


def _accepted(rec: Recorder, ids: dict[str, str], who: str, task: str, base: int) -> Any:
    """``who``'s update on ``base``, revealed and accepted by two of its committee (no vectors)."""
    label = f"{who}{task[0]}{base}"
    update = rec.sc.ok(who, "SubmitUpdate", _submit(task, base, label, "3"), after_ms=500)
    ids[label] = update["update_id"]
    rec.sc.ok(who, "RevealNonce", _reveal(ids, label, task=task), after_ms=500)
    return update


def _revocations(rec: Recorder, ids: dict[str, str]) -> None:
    """Revocation reaches everything not yet in a block: h1 is revoked after its update on heart
    was accepted, aggregated and proposed, and after it proposed a block itself (the next block
    leaves it out); then a verifier is revoked before its verdict on two pending updates. The
    clock and the transaction counter are put back afterwards, so the argument vectors built next
    keep their ids and times."""
    step, saved = rec.step, (rec.sc.now_ms, rec.sc.counter)
    for who in ("h1", "h2"):
        update = _accepted(rec, ids, who, "heart", 2)
        for member in update["committee"][:2]:
            rec.sc.ok(member, "Endorse", _endorse(ids, f"{who}h2"), after_ms=500)
    pair = [ids["h1h2"], ids["h2h2"]]
    aggregate_id = step("aggregate-before-revoke", "agg", "PostAggregate",
                        _aggregate_args(rec, pair, 3))["aggregate_id"]  # fmt: skip
    named = _propose(rec, "heart", 3, pair, aggregate_id=aggregate_id)
    contributor = step("propose-before-revoke", "h2", "ProposeBlock", named)
    sealed = step("propose-by-revoked-later", "h1", "ProposeBlock",
                  _propose(rec, "heart", 3, [ids["h2h2"]]))  # fmt: skip
    step("revoke-contributor", "admin", "RevokeMember", {"member_id": "h1"})
    step("aggregate-revoked-update", "agg", "PostAggregate", _aggregate_args(rec, pair[::-1], 3),
         "MEMBER_REVOKED", about="h2's update is fine, h1's is from a revoked member")  # fmt: skip
    step("propose-revoked-aggregate", "h2", "ProposeBlock",
         _propose(rec, "heart", 3, pair, aggregate_id=aggregate_id), "MEMBER_REVOKED",
         about="the aggregate was posted before h1 was revoked")  # fmt: skip
    for name, proposal in (("contributor", contributor), ("sealer", sealed)):
        out = None
        for i, member in enumerate(proposal["committee"][:2]):
            attest = _attest(proposal["proposal_id"], "accept", 7400 + i, 7300)
            out = step(f"attest-revoked-{name}-{i}", member, "AttestBlock", attest,
                       about=f"the proposal's {name} h1 was revoked while it was open")  # fmt: skip
        assert out is not None and out["proposal_status"] == "member_revoked", out
    later = _aggregate_args(rec, [ids["h2h2"]], 3)
    aggregate_id = step("aggregate-after-revoke", "agg", "PostAggregate", later)["aggregate_id"]
    good = step("propose-after-revoke", "h3", "ProposeBlock",
                _propose(rec, "heart", 3, [ids["h2h2"]], aggregate_id=aggregate_id))  # fmt: skip
    for i, member in enumerate(good["committee"][:2]):
        attest = _attest(good["proposal_id"], "accept", 7400 + i, 7300)
        out = step(f"attest-after-revoke-{i}", member, "AttestBlock", attest)
    assert out["block"]["rewards"] == {"h2": 900, "h3": 100}, out
    _revoked_seats(rec, ids)
    rec.sc.now_ms, rec.sc.counter = saved


def _revoked_seats(rec: Recorder, ids: dict[str, str]) -> None:
    """A verifier revoked before its verdict gives its seat up, as an abstention does: of a
    committee of 3 (quorum 2), one accept and one reject reject; one abstention and one accept
    accept. Both were pending, and would have stayed so."""
    step = rec.step
    split = _accepted(rec, ids, "h3", "heart", 2)
    shy = _accepted(rec, ids, "h2", "coeur", 1)
    gone = sorted(set(split["committee"]) & set(shy["committee"]))[0]
    first, second = [m for m in split["committee"] if m != gone]
    rec.sc.ok(first, "Endorse", _endorse(ids, "h3h2"), after_ms=500)
    rec.sc.ok(second, "Endorse", _endorse(ids, "h3h2", "reject"), after_ms=500)
    first, second = [m for m in shy["committee"] if m != gone]
    abstain = _endorse(ids, "h2c1", "abstain", reason="UNMEASURABLE", task="coeur")
    rec.sc.ok(first, "Endorse", abstain, after_ms=500)
    rec.sc.ok(second, "Endorse", _endorse(ids, "h2c1", task="coeur"), after_ms=500)
    for task, label in (("heart", "h3h2"), ("coeur", "h2c1")):
        args = {"task_id": task, "update_id": ids[label]}
        assert rec.sc.ok("aud", "GetUpdate", args, after_ms=0)["status"] == "pending"
    step("revoke-verifier", "admin", "RevokeMember", {"member_id": gone})
    cases = (
        ("split", "heart", "h3h2", "rejected", "1 accept, 1 reject, 1 seat revoked: 2 seats"),
        ("abstain", "coeur", "h2c1", "accepted", "1 abstention, 1 accept, 1 revoked: 1 seat"),
    )
    for name, task, label, expected, about in cases:
        args = {"task_id": task, "update_id": ids[label]}
        out = step(f"query-update-revoked-seat-{name}", "aud", "GetUpdate", args,
                   about=f"{about}, {expected}")  # fmt: skip
        assert out["status"] == expected, out


def _timestamps(rec: Recorder) -> None:
    """Stamps outside [0, 2**53 − 1] ms (the client sets them): refused before the creator is read,
    which no record could hold (the chaincode wrote them, the Python contract failed without a
    code)."""
    step = rec.step
    out = rec.member_args("outsider")
    step("register-before-epoch", "admin", "RegisterMember", out, "BAD_TIMESTAMP", keep=False,
         after_ms=-1 - rec.sc.now_ms, about="stamped -1 ms")  # fmt: skip
    step("register-beyond-safe-time", "admin", "RegisterMember", out, "BAD_TIMESTAMP", keep=False,
         after_ms=2**53 - rec.sc.now_ms, about="stamped 2**53 ms")  # fmt: skip
    last = "stamped 2**53 − 1 ms: the last valid stamp"
    step("register-at-safe-time", "admin", "RegisterMember", out, keep=False,
         after_ms=2**53 - 1 - rec.sc.now_ms, about=last)  # fmt: skip


def _role_mixes(rec: Recorder) -> None:
    """A role that never holds the secret key (aggregator, auditor) with one that needs it
    (hospital, verifier): refused for a new member and for a genesis one; with admin it is
    allowed. Undone (clock and counter too), so the argument vectors keep their ids and times."""
    step = rec.step
    out = rec.member_args("outsider")
    step("register-aggregator-hospital", "admin", "RegisterMember",
         {**out, "roles": ["aggregator", "hospital"]}, "ROLE_FORBIDDEN", keep=False,
         about="an aggregator never receives the secret key, which a hospital needs")  # fmt: skip
    step("register-auditor-verifier", "admin", "RegisterMember",
         {**out, "roles": ["auditor", "verifier"]}, "ROLE_FORBIDDEN", keep=False)  # fmt: skip
    step("register-admin-auditor", "admin", "RegisterMember",
         {**out, "roles": ["admin", "auditor"]}, keep=False,
         about="an admin needs no key to register members")  # fmt: skip
    names = ("admin", "h1", "h2", "h3", "v1", "v2", "agg", "aud")
    genesis = [rec.member_args(n) for n in names]
    genesis[names.index("agg")]["roles"] = ["aggregator", "hospital"]
    kept = rec.sc.state
    rec.sc.state = MemoryState()
    step("bootstrap-aggregator-hospital", "admin", "Bootstrap", {"members": genesis},
         "ROLE_FORBIDDEN", keep=False)  # fmt: skip
    rec.sc.state = kept


def _stale_updates(rec: Recorder) -> None:
    """``max_staleness`` holds when an update is included, not only when it is submitted: on task
    stale (max_staleness 1) h2's update on version 0 is accepted, then blocks 1 and 2 are appended
    without it. At head 1 it may still be aggregated; at head 2 it enters no aggregate and no
    proposal, and stays accepted. Run on transaction ids no earlier step used (`_revocations` put
    its counter back) and undone (state, clock and counter), so no other vector moves."""
    step, ids = rec.step, {}
    saved = (MemoryState(rec.sc.state.items()), rec.sc.now_ms, rec.sc.counter)
    rec.sc.counter += 1000
    rec.sc.ok("admin", "PublishTask", {"task": example_task("stale", max_staleness=1)})

    def accepted(who: str, base: int) -> str:
        update = _accepted(rec, ids, who, "stale", base)
        for member in update["committee"][:2]:
            rec.sc.ok(member, "Endorse", _endorse(ids, f"{who}s{base}", task="stale"))
        return str(update["update_id"])

    def block(height: int, update_id: str) -> None:
        proposal = rec.sc.ok("h2", "ProposeBlock", _propose(rec, "stale", height, [update_id]))
        for member in proposal["committee"][:2]:
            attest = _attest(proposal["proposal_id"], "accept", 7400, 7300, task="stale")
            out = rec.sc.ok(member, "AttestBlock", attest)
        assert out["proposal_status"] == "final", out

    def aggregate(height: int, updates: list[str]) -> dict[str, Any]:
        proposal = _propose(rec, "stale", height, updates)
        fields = ("task_id", "updates", "weights_ppm", "contribution_ppm", "aggregate_digest")
        return {name: proposal[name] for name in fields}

    old = accepted("h2", 0)
    block(1, accepted("h3", 0))
    step("aggregate-at-max-staleness", "agg", "PostAggregate", aggregate(2, [old]), keep=False,
         about="head 1, base 0, max_staleness 1: still includable")  # fmt: skip
    block(2, accepted("h3", 1))
    step("aggregate-stale-update", "agg", "PostAggregate", aggregate(3, [old]), "STALE_BASE",
         about="head 2, base 0, max_staleness 1: grown too stale while it waited")  # fmt: skip
    step("propose-stale-update", "h3", "ProposeBlock", _propose(rec, "stale", 3, [old]),
         "STALE_BASE", about="the same update in a proposal naming no aggregate")  # fmt: skip
    got = step("query-update-stale", "aud", "GetUpdate", {"task_id": "stale", "update_id": old},
               about="the committee's verdict stands: accepted, never included")  # fmt: skip
    assert got["status"] == "accepted", got
    rec.sc.state, rec.sc.now_ms, rec.sc.counter = saved


def _head_seeded(rec: Recorder) -> None:
    """Committees drawn from the head (task seeded: ``committee_seed`` "head", committees of 2 of
    the three active verifiers besides h2, h1 and a verifier being revoked by now): the same update
    sent under another transaction id, and the same proposer proposing again at one height, meet
    the same committee; the next head draws again. Undone (state, clock and counter), on
    transaction ids no earlier step used, so no other vector moves."""
    step, ids = rec.step, {}
    saved = (MemoryState(rec.sc.state.items()), rec.sc.now_ms, rec.sc.counter)
    rec.sc.counter += 2000
    seeded = example_task("seeded", committee_size=2, quorum=2, committee_seed="head")
    step("publish-head-seeded", "admin", "PublishTask", {"task": seeded},
         about="stored with committee_seed (a transaction-id task is stored without)")  # fmt: skip
    args = _submit("seeded", 0, "h2s0", "3")
    other = step("submit-head-seeded-other-nonce", "h2", "SubmitUpdate", args, keep=False,
                 about="the same update, another transaction id: the same committee")  # fmt: skip
    rec.sc.counter += 1  # the kept submission gets a transaction id of its own
    update = step("submit-head-seeded", "h2", "SubmitUpdate", args)
    assert update["committee"] == other["committee"] and update["update_id"] != other["update_id"]
    ids["h2s0"] = update["update_id"]
    rec.sc.ok("h2", "RevealNonce", _reveal(ids, "h2s0", task="seeded"))
    for member in update["committee"]:
        rec.sc.ok(member, "Endorse", _endorse(ids, "h2s0", task="seeded"))
    model = _moving_model(rec, update["committee"])
    args = _propose(rec, "seeded", 1, [ids["h2s0"]], model_digest=model)
    first = step("propose-head-seeded", "h2", "ProposeBlock", args)
    again = step("propose-head-seeded-again", "h2", "ProposeBlock",
                 _propose(rec, "seeded", 1, [ids["h2s0"]], model_digest=model),
                 about="the same proposer at the same height: the same committee")  # fmt: skip
    assert again["committee"] == first["committee"], (first, again)
    for member in first["committee"]:
        attest = _attest(first["proposal_id"], "accept", 7400, 7300, task="seeded")
        out = rec.sc.ok(member, "AttestBlock", attest)
    assert out["proposal_status"] == "final", out
    moved = step("submit-head-seeded-new-head", "h2", "SubmitUpdate",
                 _submit("seeded", 1, "h2s1", "3"),
                 about="head 1: another seed, here another committee")  # fmt: skip
    assert set(moved["committee"]) != set(update["committee"]), moved
    rec.sc.state, rec.sc.now_ms, rec.sc.counter = saved


def _moving_model(rec: Recorder, committee: list[str]) -> str:
    """A model digest for version 1 of task seeded under which h2's next committee has other
    members (a vector that shows the draw move, not one whose head happened to give the same)."""
    candidates = [
        m["member_id"] for m in rec.sc.ok("aud", "ListMembers", {}, after_ms=0)
        if "verifier" in m["roles"] and m["status"] == "active" and m["member_id"] != "h2"
    ]  # fmt: skip
    for i in range(100):
        digest = fake_digest(f"model seeded 1 {i}")
        seed = head_seed("update", "seeded", 1, digest, "h2")
        if set(draw_committee(seed, candidates, 2)) != set(committee):
            return digest
    raise SystemExit("no version-1 digest moves h2's committee")


def _verdict_timeouts(rec: Recorder) -> None:
    """``verdict_timeout_ms`` (task timed, 60 s; committees of 2, quorum 2, of the two active
    verifiers left besides the submitter): a seat silent that long after the reveal counts as an
    abstention. Of h2's committee one accepts, of h3's one abstains, the other seat is silent; both
    stay pending 1 ms before the deadline, and are accepted (1 seat left) and rejected (no seat
    left: nobody vouched) at it; the
    silent seat's verdict is refused from then on. Undone (state,
    clock and counter), on transaction ids no earlier step used, so no other vector moves."""
    step, ids = rec.step, {}
    saved = (MemoryState(rec.sc.state.items()), rec.sc.now_ms, rec.sc.counter)
    rec.sc.counter += 3000
    timed = example_task("timed", committee_size=2, quorum=2, verdict_timeout_ms=60_000)
    step("publish-verdict-timeout", "admin", "PublishTask", {"task": timed},
         about="stored with verdict_timeout_ms (a task without one is stored without)")  # fmt: skip
    updates = {}
    for who, verdict, reason in (("h2", "accept", "OK"), ("h3", "abstain", "UNMEASURABLE")):
        updates[who] = update = _accepted(rec, ids, who, "timed", 0)
        endorsement = _endorse(ids, f"{who}t0", verdict, reason=reason, task="timed")
        rec.sc.ok(update["committee"][0], "Endorse", endorsement)
    deadline = {
        who: rec.sc.ok("aud", "GetUpdate", {"task_id": "timed", "update_id": u["update_id"]},
                       after_ms=0)["update"]["revealed_ms"] + 60_000
        for who, u in updates.items()
    }  # fmt: skip
    cases = (("h2", "accepted", "1 accept, 1 silent: 1 seat"),
             ("h3", "rejected", "1 abstention, 1 silent: no seat"))  # fmt: skip
    for who, expected, about in cases:
        args = {"task_id": "timed", "update_id": ids[f"{who}t0"]}
        before = step(
            f"query-update-before-verdict-timeout-{who}",
            "aud",
            "GetUpdate",
            args,
            after_ms=deadline[who] - 1 - rec.sc.now_ms,
            about="1 ms before the deadline",
        )
        assert before["status"] == "pending", before
        silent = updates[who]["committee"][1]
        step(f"endorse-after-verdict-timeout-{who}", silent, "Endorse",
             _endorse(ids, f"{who}t0", task="timed"), "VERDICT_CLOSED", after_ms=1,
             about="stamped at the deadline: the silent seat is an abstention now")  # fmt: skip
        after = step(f"query-update-at-verdict-timeout-{who}", "aud", "GetUpdate", args,
                     after_ms=0, about=f"{about}, {expected}")  # fmt: skip
        assert after["status"] == expected, after
    step("aggregate-after-verdict-timeout", "agg", "PostAggregate",
         {**_aggregate_args(rec, [ids["h2t0"]], 1), "task_id": "timed"}, keep=False,
         about="h2's update is accepted once its silent seat expired")  # fmt: skip
    rec.sc.state, rec.sc.now_ms, rec.sc.counter = saved


def _attest_reasons(rec: Recorder) -> None:
    """An attester's reject says why (``reason``; task told, published with ``attest_reasons``,
    task untold without, as every task was before the field; committees of 2, quorum 2, of the
    active verifiers besides h2): a reason goes with a reject only, and task told refuses a reject
    without one; task untold takes it, stored as before, and a reject with one. Undone (state,
    clock and counter), on transaction ids no earlier step used, so no other vector moves."""
    step, ids = rec.step, {}
    saved = (MemoryState(rec.sc.state.items()), rec.sc.now_ms, rec.sc.counter)
    rec.sc.counter += 4000
    told = _reasons_proposal(rec, ids, "told")
    untold = _reasons_proposal(rec, ids, "untold")
    first, second = told["committee"]
    late = {"reason": "PROPOSAL_LATE"}
    for verdict in ("accept", "abstain"):
        args = _attest(told["proposal_id"], verdict, 0, 0, task="told", **late)
        step(f"attest-{verdict}-with-reason", first, "AttestBlock", args, "BAD_ARGS",
             about="a reason goes with a reject only")  # fmt: skip
    step("attest-accept-before-reject", second, "AttestBlock",
         _attest(told["proposal_id"], "accept", 7400, 7300, task="told"),
         about="stored without a reason")  # fmt: skip
    other = _attest(told["proposal_id"], "reject", 0, 7300, task="told", reason="METRIC_DROP")
    step("attest-endorse-reason", first, "AttestBlock", other, "BAD_ARGS",
         about="an endorsement's reason is no attester's")  # fmt: skip
    untold_args = _attest(told["proposal_id"], "reject", 0, 7300, task="told")
    step("attest-reject-without-reason", first, "AttestBlock", untold_args, "REASON_MISSING",
         about="task told sets attest_reasons")  # fmt: skip
    said = _attest(told["proposal_id"], "reject", 0, 7300, task="told", reason="VERSION_MISMATCH")
    out = step("attest-reject-with-reason", first, "AttestBlock", said,
               about="stored with its reason; 1 reject of 2 seats: rejected")  # fmt: skip
    assert out["proposal_status"] == "rejected", out
    step("query-proposal-reasons", "aud", "GetProposal",
         {"task_id": "told", "proposal_id": told["proposal_id"]},
         about="a reason for the reject, null for the accept")  # fmt: skip
    first = untold["committee"][0]
    step("attest-reject-with-reason-untold-task", first, "AttestBlock",
         _attest(untold["proposal_id"], "reject", 0, 0, task="untold", **late), keep=False,
         about="a task without attest_reasons takes a reject with a reason")  # fmt: skip
    about = "and one without, stored as before the field"
    step("attest-reject-untold-task", first, "AttestBlock",
         _attest(untold["proposal_id"], "reject", 0, 7300, task="untold"), about=about)  # fmt: skip
    rec.sc.state, rec.sc.now_ms, rec.sc.counter = saved


def _reasons_proposal(rec: Recorder, ids: dict[str, str], task_id: str) -> Any:
    """Task ``task_id`` published (``attest_reasons`` when "told"), h2's update on it accepted and
    proposed as version 1 by h2."""
    task = example_task(task_id, committee_size=2, quorum=2, attest_reasons=task_id == "told")
    if task_id == "told":
        rec.step("publish-attest-reasons", "admin", "PublishTask", {"task": task},
                 about="stored with attest_reasons (a task without is stored without)")  # fmt: skip
    else:
        rec.sc.ok("admin", "PublishTask", {"task": task})
    update = _accepted(rec, ids, "h2", task_id, 0)
    for member in update["committee"]:
        rec.sc.ok(member, "Endorse", _endorse(ids, f"h2{task_id[0]}0", task=task_id))
    return rec.sc.ok("h2", "ProposeBlock", _propose(rec, task_id, 1, [update["update_id"]]))
