"""The verifier's pure checks: each attack and free-riding pattern gets its reason code."""

from __future__ import annotations

import numpy as np
import pytest

from consortium.federation.checks import (
    Evidence,
    Reference,
    Thresholds,
    decide,
    min_trajectory_cosine,
    record_z,
    robust_z,
    thresholds_from_pairs,
)


def _honest(rng: np.random.Generator, n: int, dim: int = 200) -> list[np.ndarray]:
    """Deltas that share a direction (the learning signal) plus DP-like noise of similar norm."""
    signal = rng.normal(size=dim)
    signal /= np.linalg.norm(signal)
    return [signal + 0.6 * rng.normal(size=dim) / np.sqrt(dim) for _ in range(n)]


def _evidence(delta: np.ndarray, history: list[np.ndarray], **kw: object) -> Evidence:
    trajectory = np.sum(history, axis=0) if history else None
    ref = Reference(recent_deltas=history, earlier_deltas=history, trajectory=trajectory)
    return Evidence(delta=delta, metric_bp=8500, base_metric_bp=8400, reference=ref, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(20))
def test_honest_update_is_accepted(seed: int) -> None:
    rng = np.random.default_rng(seed)
    *history, new = _honest(rng, 6)
    verdict = decide(_evidence(new, history))
    assert verdict.accepted, verdict
    assert verdict.reason == "OK"


@pytest.mark.parametrize("seed", range(20))
def test_scaled_by_ten_is_a_norm_outlier(seed: int) -> None:
    rng = np.random.default_rng(seed)
    *history, new = _honest(rng, 6)
    verdict = decide(_evidence(10 * new, history))
    assert (verdict.verdict, verdict.reason) == ("reject", "NORM_OUTLIER")


@pytest.mark.parametrize("seed", range(20))
def test_sign_flip_is_a_direction_outlier(seed: int) -> None:
    rng = np.random.default_rng(seed)
    *history, new = _honest(rng, 6)
    verdict = decide(_evidence(-new, history))
    assert (verdict.verdict, verdict.reason) == ("reject", "DIRECTION_OUTLIER")
    assert verdict.scores["cosine_bp"] < 0


@pytest.mark.parametrize(
    ("metric", "mirror", "reliable", "reason"),
    [
        (8000, 8600, True, "DIRECTION_OUTLIER"),  # the mirror image ranks better: flipped
        (8500, 8100, True, "OK"),
        (8000, 8400, True, "OK"),  # within the first-version margin
        # too few held-out rows of a class and no trajectory yet: no direction check can run,
        # the verifier abstains
        (8000, 8600, False, "UNMEASURABLE"),
    ],
)
def test_mirror_test_without_trajectory(
    metric: int, mirror: int, reliable: bool, reason: str
) -> None:
    rng = np.random.default_rng(9)
    own, new = _honest(rng, 2)
    ev = Evidence(
        delta=new,
        metric_bp=metric,
        base_metric_bp=metric,
        mirror_metric_bp=mirror,
        metric_reliable=reliable,
        reference=Reference(recent_deltas=[own]),
    )
    assert decide(ev).reason == reason


@pytest.mark.parametrize("seed", range(10))
def test_without_a_reliable_metric_the_trajectory_still_decides(seed: int) -> None:
    rng = np.random.default_rng(seed)
    *history, new = _honest(rng, 6)
    # A mirror and a metric drop that would reject on reliable rows: here they cannot be judged,
    # and the trajectory cosine, which can, passes: the verifier accepts on what it measured.
    ev = _evidence(new, history, metric_reliable=False, mirror_metric_bp=9900)
    ev.metric_bp = ev.base_metric_bp - Thresholds().metric_drop_bp - 500

    verdict = decide(ev)

    assert (verdict.verdict, verdict.reason) == ("accept", "OK")
    assert verdict.scores["cosine_bp"] > 0


def test_without_a_reliable_metric_or_a_trajectory_the_verifier_abstains() -> None:
    rng = np.random.default_rng(3)
    own, new = _honest(rng, 2)
    ev = Evidence(delta=new, metric_bp=8000, base_metric_bp=8000, mirror_metric_bp=8600,
                  metric_reliable=False, reference=Reference(recent_deltas=[own]))  # fmt: skip

    verdict = decide(ev)

    assert (verdict.verdict, verdict.reason) == ("abstain", "UNMEASURABLE")
    assert not verdict.accepted and verdict.passed
    assert "norm_ratio_bp" in verdict.scores  # the scores it could measure still go on the ledger


def test_without_a_reliable_metric_a_failed_check_still_rejects() -> None:
    rng = np.random.default_rng(11)
    *history, new = _honest(rng, 6)
    unreliable = {"metric_reliable": False}
    failing = {
        "NORM_OUTLIER": _evidence(10 * new, history, **unreliable),
        "DIRECTION_OUTLIER": _evidence(-new, history, **unreliable),
        "DUPLICATE": _evidence(history[2] * 1.01, history, **unreliable),
        "NO_LEARNING": _evidence(np.zeros_like(new), history, **unreliable),
        "SML_MISMATCH": _evidence(new, history, sml_metric_bp=5000, **unreliable),
        "INCONSISTENT_REVEAL": _evidence(new, history, reveal_rel_error=0.2, **unreliable),
    }

    for reason, ev in failing.items():
        verdict = decide(ev)
        assert (verdict.verdict, verdict.reason) == ("reject", reason)
        assert not verdict.passed


@pytest.mark.parametrize("reliable", [True, False])
def test_without_a_norm_reference_the_verifier_abstains_rather_than_accept_blindly(
    reliable: bool,
) -> None:
    # A verifier that has accepted nothing, submitted nothing and found nothing accepted on the
    # ledger has no norm to compare with: a ×10 update would pass every check it can run.
    rng = np.random.default_rng(13)
    *history, new = _honest(rng, 6)
    trajectory = np.sum(history, axis=0)
    for delta in (new, 10 * new):
        ev = Evidence(delta=delta, metric_bp=8500, base_metric_bp=8400, mirror_metric_bp=8100,
                      metric_reliable=reliable,
                      reference=Reference(trajectory=trajectory))  # fmt: skip

        verdict = decide(ev)

        assert (verdict.verdict, verdict.reason) == ("abstain", "UNMEASURABLE"), verdict
        assert "norm_ratio_bp" not in verdict.scores and "cosine_bp" in verdict.scores
    # a failed check still rejects without a norm reference
    flipped = Evidence(delta=-new, metric_bp=8500, base_metric_bp=8400,
                       reference=Reference(trajectory=trajectory))  # fmt: skip
    assert decide(flipped).reason == "DIRECTION_OUTLIER"
    copied = Evidence(delta=history[1] * 1.01, metric_bp=8500, base_metric_bp=8400,
                      reference=Reference(earlier_deltas=history))  # fmt: skip
    assert decide(copied).reason == "DUPLICATE"
    # one reference is enough to judge the norm, as before
    assert decide(_evidence(new, history[:1], metric_reliable=reliable)).accepted
    assert decide(_evidence(10 * new, history[:1], metric_reliable=reliable)).reason == (
        "NORM_OUTLIER"
    )


def _peer_evidence(delta: np.ndarray, peers: list[np.ndarray], **kw: object) -> Evidence:
    """Version 0, nothing of the verifier's own or accepted on the ledger: only the other
    members' submissions on the base (the mirror test is the direction check)."""
    fields: dict[str, object] = {"metric_bp": 8500, "base_metric_bp": 8400,
                                 "mirror_metric_bp": 8100, **kw}  # fmt: skip
    return Evidence(delta=delta, reference=Reference(peer_deltas=peers), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(10))
def test_with_no_reference_the_other_submissions_on_the_base_judge_the_norm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    *peers, new = _honest(rng, 4)

    honest, scaled = decide(_peer_evidence(new, peers)), decide(_peer_evidence(10 * new, peers))

    assert (honest.verdict, honest.reason) == ("accept", "OK"), honest
    assert (scaled.verdict, scaled.reason) == ("reject", "NORM_OUTLIER"), scaled
    assert honest.scores["norm_peers"] == scaled.scores["norm_peers"] == 3
    # one ×10 update among three peers cannot move the median
    poisoned = [peers[0], peers[1], 10 * peers[2]]
    assert decide(_peer_evidence(new, poisoned)).accepted
    assert decide(_peer_evidence(10 * new, poisoned)).reason == "NORM_OUTLIER"
    # nor, with two peers, the honest update's: it is judged against one honest and one ×10
    assert decide(_peer_evidence(new, [peers[0], 10 * peers[1]])).accepted
    # the limit: as many ×10 peers as honest ones, and the median is no longer honest (an
    # attacker majority among the base's submitters; 0007-bafl.md, "A verifier that never
    # trains")
    assert decide(_peer_evidence(10 * new, [peers[0], 10 * peers[1]])).accepted


def test_with_too_few_peers_the_verifier_still_abstains() -> None:
    rng = np.random.default_rng(14)
    peer, new = _honest(rng, 2)
    for delta in (new, 10 * new):
        verdict = decide(_peer_evidence(delta, [peer]))  # 1 < min_peers = 2
        assert (verdict.verdict, verdict.reason) == ("abstain", "UNMEASURABLE"), verdict
        assert "norm_ratio_bp" not in verdict.scores and "norm_peers" not in verdict.scores
    one = Thresholds(min_peers=1)
    assert decide(_peer_evidence(new, [peer]), one).accepted
    assert decide(_peer_evidence(10 * new, [peer]), one).reason == "NORM_OUTLIER"
    # a failed check still rejects
    assert decide(_peer_evidence(-new, [peer], mirror_metric_bp=9500)).reason == (
        "DIRECTION_OUTLIER"
    )
    with pytest.raises(ValueError, match="min_peers"):
        Thresholds(min_peers=0)


def test_references_of_its_own_or_the_ledgers_come_before_the_peers() -> None:
    rng = np.random.default_rng(15)
    *peers, own, new = _honest(rng, 4)
    # the peers are all ×10: were they the reference, a ×10 update would pass
    ref = Reference(recent_deltas=[own], peer_deltas=[10 * p for p in peers])
    ev = Evidence(delta=10 * new, metric_bp=8500, base_metric_bp=8400, mirror_metric_bp=8100,
                  reference=ref)  # fmt: skip

    verdict = decide(ev)

    assert verdict.reason == "NORM_OUTLIER"
    assert "norm_peers" not in verdict.scores


def test_with_a_reliable_metric_the_verdict_is_unchanged() -> None:
    rng = np.random.default_rng(12)
    *history, new = _honest(rng, 6)

    assert decide(_evidence(new, history, metric_reliable=True)).verdict == "accept"


def test_scaled_even_with_a_single_reference() -> None:
    rng = np.random.default_rng(0)
    own, new = _honest(rng, 2)
    assert decide(_evidence(10 * new, [own])).reason == "NORM_OUTLIER"
    assert decide(_evidence(new, [own])).reason == "OK"


def test_replayed_update_is_a_duplicate() -> None:
    rng = np.random.default_rng(1)
    *history, _ = _honest(rng, 5)
    copy = history[2] * 1.01  # a converted copy: almost the same unmapped delta
    assert decide(_evidence(copy, history)).reason == "DUPLICATE"


def test_null_update_is_no_learning() -> None:
    rng = np.random.default_rng(2)
    *history, new = _honest(rng, 5)
    assert decide(_evidence(np.zeros_like(new), history)).reason == "NO_LEARNING"
    assert decide(_evidence(np.zeros_like(new), [])).reason == "NO_LEARNING"


def test_resubmitted_older_global_model_is_no_learning() -> None:
    rng = np.random.default_rng(3)
    *history, step = _honest(rng, 5)
    ev = Evidence(
        delta=-step,
        metric_bp=8000,
        base_metric_bp=8400,
        reference=Reference(recent_deltas=history, global_steps=[step]),
    )
    assert decide(ev).reason == "NO_LEARNING"


def test_metric_drop_is_rejected() -> None:
    rng = np.random.default_rng(4)
    *history, new = _honest(rng, 5)
    th = Thresholds()
    bad = Evidence(
        delta=new,
        metric_bp=8400 - th.metric_drop_bp - 1,
        base_metric_bp=8400,
        reference=Reference(recent_deltas=history),
    )
    assert decide(bad, th).reason == "METRIC_DROP"
    ok = Evidence(delta=new, metric_bp=8400 - th.metric_drop_bp, base_metric_bp=8400,
                  reference=Reference(recent_deltas=history))  # fmt: skip
    assert decide(ok, th).accepted


def test_sml_mismatch_and_inconsistent_reveal() -> None:
    rng = np.random.default_rng(5)
    *history, new = _honest(rng, 5)
    copied = _evidence(new, history, sml_metric_bp=5000)  # useless behind the rebuilt layer
    assert decide(copied).reason == "SML_MISMATCH"
    lied = _evidence(new, history, sml_metric_bp=8500, reveal_rel_error=0.2)
    assert decide(lied).reason == "INCONSISTENT_REVEAL"
    fine = _evidence(new, history, sml_metric_bp=8490, reveal_rel_error=1e-6)
    assert decide(fine).accepted


def test_robust_z_ignores_one_earlier_outlier() -> None:
    sample = [1.0, 1.02, 0.98, 1.01, 50.0]
    assert robust_z(10.0, sample) > 6
    assert abs(robust_z(1.0, sample)) < 1


def test_scores_are_integers() -> None:
    rng = np.random.default_rng(6)
    *history, new = _honest(rng, 4)
    scores = decide(_evidence(new, history)).scores
    assert all(isinstance(v, int) for v in scores.values())
    assert {"norm_ppm", "norm_ratio_bp", "norm_z_bp", "cosine_bp"} <= set(scores)
    mirrored = decide(_evidence(new, history, mirror_metric_bp=8300)).scores
    assert mirrored["mirror_bp"] == 8500 - 8300


def test_zero_delta_is_no_learning_even_when_the_reveal_looks_inconsistent() -> None:
    # A resubmitted current model decrypts to CKKS noise (~1e-9 per element): the relative reveal
    # error of noise against noise is large, but the null check comes first.
    rng = np.random.default_rng(7)
    *history, new = _honest(rng, 5)
    noise = rng.normal(scale=1e-9, size=new.shape)
    assert decide(_evidence(noise, history, reveal_rel_error=0.7)).reason == "NO_LEARNING"
    small_honest = new * (2 * Thresholds().null_abs_norm / np.linalg.norm(new))
    assert decide(_evidence(small_honest, [], reveal_rel_error=0.7)).reason == "INCONSISTENT_REVEAL"


def test_a_model_made_behind_another_layer_is_an_sml_mismatch() -> None:
    rng = np.random.default_rng(8)
    *history, new = _honest(rng, 5)
    # whether or not the submitter managed a consistent reveal for it
    for err in (0.0, 0.9):
        ev = _evidence(new, history, foreign_layer=True, reveal_rel_error=err)
        assert decide(ev).reason == "SML_MISMATCH"


def test_trajectory_free_scores_are_recorded_but_decide_nothing() -> None:
    # Honest updates from a site with the opposite label balance point against the others' mean
    # (cosine down to -0.93 in real runs, 0007-bafl.md): the cosine is a score, not a rule.
    rng = np.random.default_rng(10)
    a, b, new = _honest(rng, 3)
    ref = Reference(recent_deltas=[a, b], others=[a, b])
    ev = Evidence(delta=-new, metric_bp=8500, base_metric_bp=8400, reference=ref, loss_sym_bp=900)
    verdict = decide(ev)
    assert verdict.accepted
    assert verdict.scores["cosine_others_bp"] < -5000 and verdict.scores["n_others"] == 2
    assert verdict.scores["loss_sym_bp"] == 900


def _unit_orthogonal(rng: np.random.Generator, *others: np.ndarray) -> np.ndarray:
    v = rng.normal(size=others[0].size)
    for o in others:
        o = o / np.linalg.norm(o)
        v -= np.dot(v, o) * o
    return v / np.linalg.norm(v)


def _staged(cos_with_trajectory: float, descent: float, dim: int = 289) -> Evidence:
    """An update with a given trajectory cosine, after a last global step whose cosine with the
    trajectory before it is ``descent``."""
    rng = np.random.default_rng(3)
    before = rng.normal(size=dim)
    before /= np.linalg.norm(before)
    side = _unit_orthogonal(rng, before)
    step = descent * before + np.sqrt(1 - descent**2) * side
    trajectory = before + step
    t_hat = trajectory / np.linalg.norm(trajectory)
    away = _unit_orthogonal(rng, t_hat)
    delta = 0.5 * (cos_with_trajectory * t_hat + np.sqrt(1 - cos_with_trajectory**2) * away)
    ref = Reference(
        recent_deltas=[0.5 * _unit_orthogonal(rng, t_hat) for _ in range(4)],
        trajectory=trajectory,
        global_steps=[trajectory, step],
    )
    return Evidence(delta=delta, metric_bp=8500, base_metric_bp=8500, reference=ref)


@pytest.mark.parametrize(
    ("cos", "descent", "reason"),
    [
        (-0.08, 0.5, "DIRECTION_OUTLIER"),  # still descending: the strict −0.05
        (-0.04, 0.5, "OK"),
        (-0.08, 0.0, "OK"),  # a plateau: within the noise band of 289 parameters (±0.147)
        (-0.14, 0.05, "OK"),  # 0.05 < 2/√289: not significantly descending
        (-0.16, 0.0, "DIRECTION_OUTLIER"),  # beyond the noise band
        # a weak descent (3/√289): the line half way between the plateau's and the strict one
        (-0.09, 3 / 17, "OK"),
        (-0.11, 3 / 17, "DIRECTION_OUTLIER"),
    ],
)
def test_trajectory_threshold_follows_the_stage_of_training(
    cos: float, descent: float, reason: str
) -> None:
    verdict = decide(_staged(cos, descent))
    assert verdict.reason == reason, verdict
    assert verdict.scores["descent_bp"] == round(descent * 10_000)
    assert verdict.scores["cosine_bp"] == round(cos * 10_000)


def test_plateau_threshold_is_never_stricter_than_the_descending_one() -> None:
    th = Thresholds(strict_z=2.0)  # the line as a switch at 2/√d
    assert min_trajectory_cosine(th, 289, None) == th.min_cosine  # version 1: no step before
    assert min_trajectory_cosine(th, 289, 0.0) == pytest.approx(-2.5 / 17)
    # a million parameters: the noise band (±0.0025) is inside −0.05, which stays the line
    assert min_trajectory_cosine(th, 1_000_000, 0.0) == th.min_cosine
    assert min_trajectory_cosine(th, 1_000_000, 0.01) == th.min_cosine  # 0.01 > 2/1000
    # with strict_z = 4 the line moves monotonically from the plateau's to the strict one
    # between 2/√d and 4/√d of descent (half way at 3/√d: (−2.5/17 − 0.05) / 2)
    graded = Thresholds(strict_z=4.0)
    lines = [min_trajectory_cosine(graded, 289, k / 170) for k in range(15, 45)]
    assert lines == sorted(lines)
    assert lines[0] == pytest.approx(-2.5 / 17) and lines[-1] == th.min_cosine
    assert min_trajectory_cosine(graded, 289, 3 / 17) == pytest.approx((-2.5 / 17 - 0.05) / 2)


def test_a_flip_scores_the_negatives_of_its_original() -> None:
    # What bench/verifier_signals.py --analyse relies on (0007-bafl.md, direction): a rule that
    # rejects the flip of an honest update rejects any honest update that scores like its negative.
    ev = _staged(0.2, 0.5)
    others = [0.5 * ev.delta + np.roll(ev.delta, 1)]
    honest = Evidence(delta=ev.delta, metric_bp=8600, base_metric_bp=8500, mirror_metric_bp=8300,
                      loss_sym_bp=-700, reference=ev.reference)  # fmt: skip
    flipped = Evidence(delta=-ev.delta, metric_bp=8300, base_metric_bp=8500, mirror_metric_bp=8600,
                       loss_sym_bp=700, reference=ev.reference)  # fmt: skip
    honest.reference.others = flipped.reference.others = others
    h, f = decide(honest).scores, decide(flipped).scores
    for key in ("cosine_bp", "mirror_bp", "loss_sym_bp", "cosine_others_bp"):
        assert f[key] == -h[key] != 0, key
    for key in ("norm_ppm", "norm_ratio_bp", "descent_bp"):
        assert f[key] == h[key], key


@pytest.mark.parametrize(
    ("cos", "descent", "probation", "reason"),
    [
        (-0.03, 0.5, False, "OK"),  # slightly against the trajectory: an ordinary member passes
        (-0.03, 0.5, True, "DIRECTION_OUTLIER"),  # on probation it must not point against it
        (0.02, 0.5, True, "OK"),
        (-0.03, None, True, "DIRECTION_OUTLIER"),  # version 1 (no step before): strict as well
        (-0.10, 0.0, True, "OK"),  # at a plateau the line is the noise band, probation or not
        (-0.16, 0.0, True, "DIRECTION_OUTLIER"),
    ],
)
def test_a_member_on_probation_must_not_point_against_the_trajectory(
    cos: float, descent: float | None, probation: bool, reason: str
) -> None:
    ev = _staged(cos, 0.5 if descent is None else descent)
    if descent is None:
        ev.reference.global_steps = []  # version 1: no global step before the base
    ev.on_probation = probation

    verdict = decide(ev)

    assert verdict.reason == reason, verdict
    assert verdict.scores.get("probation", 0) == int(probation)  # on the ledger with the verdict


def test_probation_line() -> None:
    th = Thresholds()
    assert min_trajectory_cosine(th, 289, None, probation=True) == 0.0  # version 1
    assert min_trajectory_cosine(th, 289, 0.5, probation=True) == 0.0
    assert min_trajectory_cosine(th, 289, 0.0, probation=True) == pytest.approx(-2.5 / 17)
    assert min_trajectory_cosine(Thresholds(probation_z=1.0), 289, 0.5, True) == pytest.approx(
        1 / 17
    )
    # never below the ordinary line, whatever probation_z is set to
    assert min_trajectory_cosine(Thresholds(probation_z=-3.0), 289, 0.5, True) == th.min_cosine


def test_probation_raises_a_graded_line_too() -> None:
    graded = Thresholds(strict_z=4.0)
    band = 3 / 17  # between descending_z/√d and strict_z/√d of descent
    assert min_trajectory_cosine(graded, 289, band) < 0
    assert min_trajectory_cosine(graded, 289, band, probation=True) == 0.0
    assert min_trajectory_cosine(graded, 289, 1 / 17, probation=True) == pytest.approx(-2.5 / 17)


def test_a_record_is_the_sum_of_noise_units_over_root_n() -> None:
    assert record_z([], 289) is None
    assert record_z([-0.2], 289) is None  # one update is no record
    # √289 · (−0.10 − 0.05) / √2
    assert record_z([-0.10, -0.05], 289) == pytest.approx(17 * -0.15 / np.sqrt(2))
    assert record_z([0.1, -0.1, 0.0], 289) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("cos", "descent", "record", "reason"),
    [
        (0.05, 0.0, [-0.10, -0.08], "DIRECTION_OUTLIER"),  # a flipper's record: at a plateau too
        (0.05, 0.5, [-0.10, -0.08], "DIRECTION_OUTLIER"),  # and while descending
        (0.13, 0.0, [-0.10, -0.08], "OK"),  # beyond 2/√d along the trajectory: it learns
        (0.05, 0.0, [-0.10, 0.08], "OK"),  # a mixed record (z 0.0)
        (-0.10, 0.0, [-0.05, -0.04], "OK"),  # z −1.08: above −1.5, the plateau's line
        (0.05, 0.0, [-0.30], "OK"),  # a single earlier update is no record
    ],
)
def test_a_member_whose_record_points_against_the_trajectory_must_point_along_it(
    cos: float, descent: float, record: list[float], reason: str
) -> None:
    ev = _staged(cos, descent)
    ev.record = record

    verdict = decide(ev)

    assert verdict.reason == reason, verdict
    expected = record_z(record, 289)
    if expected is None:
        assert "record_z_bp" not in verdict.scores
    else:  # on the ledger with the verdict: an auditor sees the line it was judged by
        assert verdict.scores["record_z_bp"] == round(expected * 10_000)


def test_record_line() -> None:
    th = Thresholds()
    assert min_trajectory_cosine(th, 289, 0.0, record=-1.5) == pytest.approx(2 / 17)
    assert min_trajectory_cosine(th, 289, 0.0, record=-1.49) == pytest.approx(-2.5 / 17)
    assert min_trajectory_cosine(th, 289, None, True, record=-3.0) == pytest.approx(2 / 17)
    # never lowers a line: a record line below the probation line leaves probation's
    assert min_trajectory_cosine(Thresholds(record_line_z=-1.0), 289, 0.5, True, -3.0) == 0.0
    # turned off
    assert min_trajectory_cosine(Thresholds(record_z=1000), 289, 0.0, record=-50.0) < 0


def test_thresholds_from_command_line_pairs() -> None:
    th = thresholds_from_pairs(["strict_z=4", " mirror_margin_bp = 900 "])
    assert (th.strict_z, th.mirror_margin_bp) == (4.0, 900)
    assert thresholds_from_pairs([]) == Thresholds()
    for bad, named in (("strict_z", "strict_z"), ("=4", "=4"), ("strictz=4", "strictz")):
        with pytest.raises(ValueError, match=named):
            thresholds_from_pairs([bad])
