"""The verifier's checks on one update, as pure functions of numbers (no I/O, no torch).

A verifier drawn for an update decrypts it, rebuilds the submitter's Secure Mapping Layer from the
revealed nonce and gathers *evidence* (`Evidence`): the unmapped delta, the metric of the updated
model and of the base on its own held-out rows, the metric of the mapped model behind the rebuilt
layer, how far the revealed first layer is from the mapped one times the layer, and its references
(`Reference`: norms and deltas of recently accepted updates, earlier deltas, recent global steps).
`decide` turns evidence into a verdict with the reason codes of docs/decisions/0001-protocol.md.

Why these checks (docs/decisions/0007-bafl.md has the thresholds and the measurements):
- **norm** — model-replacement and boosting attacks scale an update (×10 here); the robust
  z-score of its norm against the median of recent accepted norms (median/MAD, not mean/std, so
  that one earlier outlier cannot widen the band) and the plain ratio to that median both flag it.
  DP-SGD clips every per-sample gradient, so honest norms are tightly grouped; so, before anything
  is accepted, the other members' submissions on the same base are the reference of a verifier
  that has none (`Thresholds.min_peers`).
- **direction** — sign flipping (and label flipping) turns an update against the consortium's
  direction. Two signals: the cosine with the trajectory of the accepted versions θ(base) − θ(0)
  (FLTrust, Cao et al., NDSS 2021, uses a server-side reference direction the same way), and the
  *mirror test* on held-out rows: an honest update ranks patients better than its mirror image
  θ − Δ. The trajectory threshold follows the stage of training: strict (−0.05) while the last
  global step clearly follows the trajectory (cosine > 4/√d), at the noise band of d parameters
  (−2.5/√d) once global steps are mostly DP noise (cosine ≤ 2/√d), where honest updates point
  anywhere within that band (where a fixed −0.05 rejected honest updates; 0007-bafl.md has the
  runs), and moving linearly between the two in between. A member whose last judged update was
  rejected as a direction outlier is on probation: outside a plateau its line is 0
  (`Thresholds.probation_z`), until one of its updates is accepted. A member whose earlier
  updates in the task, taken together, point against the trajectory beyond noise (its *record*,
  `Thresholds.record_z`) must point along it, at every stage: late flips of noise-dominated
  updates cannot be told from honest ones one by one, but a flipper's record can. Two
  trajectory-free signals are recorded as scores but decide nothing, because honest updates
  fail them under the label shift between sites (6 % to 94 % positive; measured in
  0007-bafl.md): the cosine with the mean of the other members' accepted deltas on the same
  or a neighbouring base (`cosine_others_bp`, honest down to −0.93) and the symmetric held-out
  loss L(θ+Δ) − L(θ−Δ) (`loss_sym_bp`, honest up to +1.5 nats on another site's rows).
- **duplicate / null** — the SML makes a copied mapped model useless, but a copy converted into the
  copier's coordinates is, once unmapped, a near-copy of the original's delta (0001, SML section);
  a resubmitted global model has a delta of zero or the negative of a recent global step. A zero
  delta is tested first, on an absolute floor: it decrypts to CKKS noise, whose "reveal" is noise
  too, and would otherwise be named INCONSISTENT_REVEAL.
- **SML** — a mapped model made behind another revealed layer (`Evidence.foreign_layer`, found by
  `federation.ledgerview.foreign_origin`): a copied blob or one prepared for an earlier base.
- **metric drop** — the updated model must not be much worse than the base on held-out rows that
  never touched training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from consortium.bounds import AtLeast0, Bounds, within_bounds
from consortium.ledger.contract.records import Reason

__all__ = [
    "REASONS",
    "Evidence",
    "Reference",
    "Thresholds",
    "Verdict",
    "cosine",
    "decide",
    "flatten",
    "min_trajectory_cosine",
    "record_z",
    "robust_z",
    "thresholds_from_pairs",
]

REASONS: tuple[str, ...] = get_args(Reason)  # the contract's list: one definition of the codes

# The ranges of the thresholds (`Thresholds`, `consortium.bounds`). A line that the median honest
# update fails (a norm ratio of 1, a z of 0, a null fraction of 1) or no update can reach (a
# cosine below -1) is a typo, not a policy.
_MEDIAN = "the honest updates above the median norm fail"
_NormRatio = Annotated[float, Bounds(above=1, why=f"at 1 or below, {_MEDIAN}")]
_NormZ = Annotated[float, Bounds(above=0, why=f"at 0 or below, {_MEDIAN}")]
_Cosine = Annotated[float, Bounds(at_least=-1, at_most=1, why="a cosine lies between -1 and 1")]
_NoiseZ = Annotated[float, Bounds(at_least=0, why="a multiple of 1/√d, the noise of a cosine")]
_ProbationZ = Annotated[float, Bounds(why="a multiple of 1/√d; -1000 for no probation")]
_LineZ = Annotated[float, Bounds(why="a multiple of 1/√d, the noise of a cosine")]
_NullFraction = Annotated[
    float,
    Bounds(
        at_least=0,
        below=1,
        why="a fraction of the median norm; at 1, honest updates below it are null",
    ),
]
_RevealTol = Annotated[float, Bounds(above=0, why="no reveal is exact after CKKS decryption")]
# The margins compare two metrics of one verifier's held-out rows in basis points (AUROC, or
# accuracy on rows of one class: both 0 to 10000), so two differ by at most 10000 and a margin of
# 10000 turns its check off. A negative one asks an update to beat its mirror image, the base or
# its own mapped model by that much: the honest updates that barely move the metric (every one
# at a plateau) would fail every time.
_MarginBp = Annotated[
    int,
    Bounds(
        at_least=0,
        at_most=10_000,
        why="a difference of two metrics in basis points; below 0 honest updates that barely "
        "move the metric fail, 10000 turns the check off",
    ),
]
# A count of norms: with none there is no median to compare a norm with. A count above what a
# verifier ever holds turns the norm check (min_reference) or the peers' reference (min_peers) off.
_Count = Annotated[int, Bounds(at_least=1, why="a count of norms; with none there is no median")]


class Thresholds(BaseModel):
    """Where each check draws the line. Defaults are the ones measured in 0007-bafl.md.

    A verifier's own policy: a hospital may set any of them in the ``[verifier]`` table of its
    ``node.toml`` (`consortium.node.settings.NodeSettings.verifier`); what they cost and protect
    against is measured in 0007-bafl.md ("In the demo's settings, and probation"). A float is
    refused unless finite and in its range (nan would make its check pass, or fail, every update;
    inf turn it off), an int (a margin in basis points, a count) unless in its range, with a
    message naming the field, the value and the default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    norm_ratio_max: _NormRatio = 4.0  # ‖Δ‖ / median of reference norms
    norm_z_max: _NormZ = 8.0  # robust z of ‖Δ‖ (median/MAD), MAD floored at 25 % of the median
    min_cosine: _Cosine = -0.05  # cosine with the trajectory θ(base) − θ(0), from version 1 on,
    # while the consortium is descending: its last global step has a cosine above
    # descending_z/√d with the trajectory before it (d parameters; the cosine of two random
    # directions has a standard deviation of about 1/√d) ...
    descending_z: _NoiseZ = 2.0
    # ... once it is not (a plateau: global steps are mostly DP noise and so are honest updates,
    # whose cosines then spread ~1/√d around 0), an update is rejected only below
    # min(min_cosine, −plateau_z/√d): pointing against the trajectory beyond what noise does.
    plateau_z: _NoiseZ = 2.5
    # The line moves linearly from the plateau's to min_cosine between descending_z/√d and
    # strict_z/√d of descent. Alone it let more flips through (0007-bafl.md, "A graded
    # trajectory line"); with probation (below), which takes repeat flippers, it rejected fewer
    # honest updates in the demo's settings and no fewer flips (0007-bafl.md, "In the demo's
    # settings, and probation"). 2 would make it a switch at descending_z.
    strict_z: _NoiseZ = 4.0
    # Probation: a member whose last judged update in the task was rejected as a direction
    # outlier (on the ledger; an accepted update ends it) must not point against the trajectory
    # at all unless the consortium is at a plateau (so on version 1, or at a descent above
    # descending_z/√d): a trajectory cosine of at least probation_z/√d. A sign flipper's first
    # flip is rejected almost always; a later flip then fails unless its honest original pointed
    # against the trajectory. 1/√d caught more flips but shut a small, label-skewed hospital out
    # of whole runs (0007-bafl.md, "In the demo's settings, and probation").
    probation_z: _ProbationZ = 0.0
    # A member's record: the trajectory cosines of its judged updates in the task taken together,
    # z = Σ √d·cos / √n over n ≥ 2 of them (`record_z`). Each late flip alone is noise against
    # noise, but a sign flipper's record falls below −record_z within two or three updates and
    # stays there; an honest member's did in 2 of 224 member-runs of the demo's settings
    # (Switzerland's, label-skewed: the line cost it 2 updates in one run).
    # While it is below, the member's updates must point along the trajectory by at least
    # record_line_z/√d, at every stage of training, a plateau included (0007-bafl.md, "A
    # member's record"). 1000 turns it off.
    record_z: _NoiseZ = 1.5
    record_line_z: _LineZ = 2.0
    mirror_margin_bp: _MarginBp = 800  # metric(θ+Δ) may trail metric(θ−Δ) by at most this ...
    mirror_margin_first_bp: _MarginBp = 500  # ... and by this on version 0 (no trajectory yet)
    duplicate_cosine: _Cosine = 0.995  # a near-copy of an earlier delta ...
    duplicate_rel_distance: AtLeast0 = 0.05  # ... within 5 % of its norm
    # ‖Δ‖ below this fraction of the reference median: no learning ...
    null_rel_norm: _NullFraction = 1e-3
    # ... or below this absolutely, checked first: a zero delta decrypts to CKKS noise of norm
    # ~1e-8 (per element ~1e-9), honest heart updates have norms of 1e-2 and more.
    null_abs_norm: AtLeast0 = 1e-5
    # held-out metric of base+Δ may be at most this much below base's
    metric_drop_bp: _MarginBp = 800
    sml_gap_bp: _MarginBp = 300  # mapped model behind the layer vs the unmapped model
    reveal_rel_tol: _RevealTol = 1e-3  # revealed first layer vs mapped one times the layer
    # reference deltas needed before norm/direction checks apply; at least 1: without a
    # reference there is no median to compare a norm with (0 used to stop the verifier's node
    # with a KeyError on its first update). With no reference at all the verifier abstains
    # (`decide`); with fewer than this many it judges the rest, as before.
    min_reference: _Count = 1
    # A verifier with no norm reference of its own (nothing it accepted, no delta it trained) and
    # none accepted on the ledger compares a norm with the other members' revealed submissions
    # on the update's base (`Reference.peer_deltas`: one per member, the submitter left out) if
    # at least this many members sent one; with fewer it abstains. Honest DP-SGD updates of one
    # base are alike in norm (clipping), so the median of the peers is an honest norm while more
    # than half of them are honest: with 2, one ×10 submitter among three is caught, two are not
    # (0007-bafl.md, "A verifier that never trains"). `min_reference` does not apply to them.
    min_peers: _Count = 2

    @field_validator("*")
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        return within_bounds(cls, info.field_name, value)


def thresholds_from_pairs(items: Sequence[str]) -> Thresholds:
    """`Thresholds` from ``KEY=VALUE`` strings (as a command line gives them); a malformed item, an
    unknown key or a value out of its range raises ValueError naming it, in one line (for a
    command's error: `bench/per_hospital.py`, `bench/verifier_signals.py`)."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{item!r} is not KEY=VALUE (KEY a field of Thresholds)")
        if key not in Thresholds.model_fields:
            known = ", ".join(Thresholds.model_fields)
            raise ValueError(f"{key!r} is no field of Thresholds; known: {known}")
        values[key] = value.strip()
    try:
        return Thresholds.model_validate(values)
    except ValidationError as exc:  # pydantic's own report spans lines, with types and a link
        raise ValueError("; ".join(_named(e["loc"], e["msg"]) for e in exc.errors())) from None


def _named(loc: tuple[int | str, ...], msg: str) -> str:
    """One refused value: the range's own message names its field; pydantic's ("Input should be
    a valid integer") gets the field's name in front."""
    field, why = str(loc[0]) if loc else "", msg.removeprefix("Value error, ")
    return why if why.startswith(field) else f"{field}: {why}"


class Verdict(BaseModel):
    """A verifier's decision: what goes into `Endorse`."""

    verdict: str  # "accept" | "reject" | "abstain"
    reason: str
    metric_bp: int
    scores: dict[str, int]

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"

    @property
    def passed(self) -> bool:
        """No check it ran failed (accepted, or abstained for want of a measurable metric)."""
        return self.verdict != "reject"


@dataclass
class Reference:
    """What a verifier compares an update with (all in global, unmapped coordinates)."""

    recent_deltas: Sequence[np.ndarray] = ()  # recently accepted updates and the verifier's own
    trajectory: np.ndarray | None = None  # θ(base) − θ(0): where the consortium has been going
    earlier_deltas: Sequence[np.ndarray] = ()  # every earlier update it saw (duplicate check)
    global_steps: Sequence[np.ndarray] = ()  # θ(base) − θ(u) for recent u, oldest u first (the
    # last is the latest step θ(base) − θ(base − 1))
    others: Sequence[np.ndarray] = ()  # other members' accepted deltas on nearby bases (a score)
    # other members' revealed submissions on the update's base, one each: the norm reference
    # when there is no other (`Thresholds.min_peers`)
    peer_deltas: Sequence[np.ndarray] = ()


@dataclass
class Evidence:
    """What the verifier measured on one update."""

    delta: np.ndarray  # the unmapped delta, flattened
    metric_bp: int  # metric of base + Δ on the verifier's held-out rows
    base_metric_bp: int  # metric of the base version on the same rows
    sml_metric_bp: int | None = None  # mapped model behind the rebuilt layer (None: task w/o SML)
    reveal_rel_error: float = 0.0  # ‖revealed − mapped·layer‖ / ‖mapped·layer‖
    metric_reliable: bool = True  # enough held-out rows of each class for a metric comparison
    mirror_metric_bp: int | None = None  # metric of base − Δ (the update's mirror image)
    foreign_layer: bool = False  # the mapped model fits another revealed layer (copy/precomputed)
    loss_sym_bp: int | None = None  # 10⁴·(L(base+Δ) − L(base−Δ)), held-out log loss (a score)
    reference: Reference = field(default_factory=Reference)
    on_probation: bool = False  # the submitter's last judged update in this task was rejected
    # as a direction outlier (`Thresholds.probation_z`)
    # the trajectory cosines of the submitter's earlier judged updates in the task, oldest first,
    # as their committees recorded them (`Thresholds.record_z`)
    record: Sequence[float] = ()


def flatten(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Concatenate tensors (in their mapping order) into one float64 vector."""
    if not arrays:
        return np.zeros(0, dtype=np.float64)
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays.values()])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def robust_z(value: float, sample: Sequence[float]) -> float:
    """(value − median) / (1.4826 · MAD), MAD floored at 25 % of |median| (and at 1e-12).

    The floor keeps a tight group of honest norms (DP clipping makes them alike) from turning a
    small honest variation into a huge z-score.
    """
    arr = np.asarray(sample, dtype=np.float64)
    med = float(np.median(arr))
    mad = float(np.median(np.abs(arr - med)))
    scale = max(1.4826 * mad, 0.25 * abs(med), 1e-12)
    return (value - med) / scale


def _bp(x: float) -> int:
    return round(x * 10_000)


def _is_null(ev: Evidence, th: Thresholds, ref_median: float | None) -> bool:
    norm = float(np.linalg.norm(ev.delta))
    if norm <= th.null_abs_norm:
        return True
    if ref_median is not None and norm < th.null_rel_norm * ref_median:
        return True
    # A resubmitted older global model: Δ = θ(u) − θ(v) = −(global step u→v).
    return any(_near(ev.delta, -step, th) for step in ev.reference.global_steps)


def _near(a: np.ndarray, b: np.ndarray, th: Thresholds) -> bool:
    if a.shape != b.shape:
        return False
    nb = float(np.linalg.norm(b))
    if nb == 0.0:
        return False
    close = float(np.linalg.norm(a - b)) <= th.duplicate_rel_distance * nb
    return close and cosine(a, b) >= th.duplicate_cosine


def _norm_reference(ref: Reference, th: Thresholds) -> tuple[Sequence[np.ndarray], bool]:
    """The deltas an update's norm is compared with, and whether they are its peers: the
    verifier's own or the ledger's accepted ones (``recent_deltas``) when there are any, else
    the other members' submissions on the base when at least `Thresholds.min_peers` of them,
    else none (the verifier then abstains on an update that passes the rest, `decide`)."""
    if ref.recent_deltas:
        return ref.recent_deltas, False
    if len(ref.peer_deltas) >= th.min_peers:
        return ref.peer_deltas, True
    return (), False


def _scores(ev: Evidence, th: Thresholds) -> dict[str, int]:
    ref, peers = _norm_reference(ev.reference, th)
    norm = float(np.linalg.norm(ev.delta))
    scores = {"norm_ppm": round(norm * 1_000_000), "base_metric_bp": ev.base_metric_bp}
    if ref:
        norms = [float(np.linalg.norm(d)) for d in ref]
        med = float(np.median(norms))
        scores["norm_ratio_bp"] = _bp(norm / med) if med > 0 else 0
        scores["norm_z_bp"] = _bp(robust_z(norm, norms))
        if peers:  # published: whoever reads the verdict sees what the norm was compared with
            scores["norm_peers"] = len(ref)
    traj = ev.reference.trajectory
    if traj is not None and traj.shape == ev.delta.shape and float(np.linalg.norm(traj)) > 0:
        scores["cosine_bp"] = _bp(cosine(ev.delta, traj))
        descent = _descent(ev.reference)
        if descent is not None:
            scores["descent_bp"] = _bp(descent)
    if ev.mirror_metric_bp is not None:
        scores["mirror_bp"] = ev.metric_bp - ev.mirror_metric_bp
    if ev.sml_metric_bp is not None:
        scores["sml_metric_bp"] = ev.sml_metric_bp
    if ev.loss_sym_bp is not None:
        scores["loss_sym_bp"] = ev.loss_sym_bp
    if ev.on_probation:
        scores["probation"] = 1
    z = record_z(ev.record, ev.delta.size)
    if z is not None:
        scores["record_z_bp"] = _bp(z)
    others = ev.reference.others
    if len(others) >= 1 and all(o.shape == ev.delta.shape for o in others):
        scores["cosine_others_bp"] = _bp(cosine(ev.delta, np.mean(np.stack(others), axis=0)))
        scores["n_others"] = len(others)
    return scores


def _descent(ref: Reference) -> float | None:
    """Cosine of the latest global step with the trajectory before it (None before version 2)."""
    if ref.trajectory is None or not ref.global_steps:
        return None
    step = ref.global_steps[-1]
    before = ref.trajectory - step
    if step.shape != ref.trajectory.shape or float(np.linalg.norm(before)) == 0.0:
        return None
    return cosine(step, before)


def record_z(cosines: Sequence[float], dim: int) -> float | None:
    """A member's record: Σ √d·cos / √n over the trajectory cosines of its n earlier judged
    updates, None below two. A pure-noise update's √d·cos is about standard normal, so the record
    of a member sending noise stays near 0, an honest learner's rises, a sign flipper's falls."""
    if len(cosines) < 2:
        return None
    return math.sqrt(max(1, dim)) * math.fsum(cosines) / math.sqrt(len(cosines))


def min_trajectory_cosine(
    th: Thresholds,
    dim: int,
    descent: float | None,
    probation: bool = False,
    record: float | None = None,
) -> float:
    """The lowest trajectory cosine an update may have (see `Thresholds.min_cosine`; on
    ``probation``, `Thresholds.probation_z`; with a ``record`` z at or below −`Thresholds.record_z`,
    `Thresholds.record_line_z`)."""
    noise = 1.0 / math.sqrt(max(1, dim))
    plateau = min(th.min_cosine, -th.plateau_z * noise)
    low, high = th.descending_z * noise, max(th.descending_z, th.strict_z) * noise
    if descent is not None and descent <= low:
        line = plateau  # probation or not: a flip of noise is noise (0007-bafl.md) ...
    else:
        if descent is None or descent > high:
            line = th.min_cosine
        else:
            line = plateau + (descent - low) / (high - low) * (th.min_cosine - plateau)
        if probation:
            line = max(line, th.probation_z * noise)
    if record is not None and record <= -th.record_z:  # ... but not a flipper's record
        line = max(line, th.record_line_z * noise)
    return line


def _reason(ev: Evidence, th: Thresholds, scores: Mapping[str, int]) -> str:
    ref, peers = _norm_reference(ev.reference, th)
    med = float(np.median([float(np.linalg.norm(d)) for d in ref])) if ref else None
    if float(np.linalg.norm(ev.delta)) <= th.null_abs_norm:
        return "NO_LEARNING"  # before the reveal check: CKKS noise has no consistent reveal
    if ev.foreign_layer:
        return "SML_MISMATCH"
    if ev.reveal_rel_error > th.reveal_rel_tol:
        return "INCONSISTENT_REVEAL"
    if ev.sml_metric_bp is not None and ev.metric_bp - ev.sml_metric_bp > th.sml_gap_bp:
        return "SML_MISMATCH"
    if _is_null(ev, th, med):
        return "NO_LEARNING"
    if any(_near(ev.delta, d, th) for d in ev.reference.earlier_deltas):
        return "DUPLICATE"
    if ref and (peers or len(ref) >= th.min_reference):
        ratio, z = scores["norm_ratio_bp"] / 10_000, scores["norm_z_bp"] / 10_000
        if ratio > th.norm_ratio_max or z > th.norm_z_max:
            return "NORM_OUTLIER"
    return _direction(ev, th, scores)


def _direction(ev: Evidence, th: Thresholds, scores: Mapping[str, int]) -> str:
    if "cosine_bp" in scores:
        descent = scores["descent_bp"] / 10_000 if "descent_bp" in scores else None
        record = scores["record_z_bp"] / 10_000 if "record_z_bp" in scores else None
        line = min_trajectory_cosine(th, ev.delta.size, descent, ev.on_probation, record)
        if scores["cosine_bp"] / 10_000 < line:
            return "DIRECTION_OUTLIER"
    margin = th.mirror_margin_bp if "cosine_bp" in scores else th.mirror_margin_first_bp
    if ev.metric_reliable and "mirror_bp" in scores and scores["mirror_bp"] < -margin:
        return "DIRECTION_OUTLIER"
    if ev.metric_reliable and ev.base_metric_bp - ev.metric_bp > th.metric_drop_bp:
        return "METRIC_DROP"
    return "OK"


def decide(ev: Evidence, th: Thresholds | None = None) -> Verdict:
    """The verdict on one update: the first failing check names the reason, else ``OK``.

    Order: an (absolutely) null delta first (it decrypts to CKKS noise, which no reveal check can
    judge), then the SML (a mapped model made behind another revealed layer: a copy or a
    precomputed submission) and reveal consistency (the submission is not what it claims to be),
    then null/duplicate (free-riding), then norm and direction (poisoning), then the metric.

    A verifier that could run no direction check at all abstains (reason ``UNMEASURABLE``) when
    every check it ran passed: its held-out rows cannot measure the metric (``metric_reliable``
    false, so no mirror test and no metric-drop check) and there is no trajectory yet (version 0).
    Its seat then leaves the committee. With a trajectory it judges direction by the cosine and
    accepts: abstaining whenever the metric is unmeasurable cost more honest updates than it kept
    flips out (0007-bafl.md, "Abstaining endorsers"). So does a verifier with no norm reference at
    all (it accepted, submitted and found accepted on the ledger nothing yet, and fewer than
    `Thresholds.min_peers` other members submitted on the update's base): a ×10 update would
    pass every check it can run (0007-bafl.md, "A verifier that never trains"). A failed check
    still rejects.
    """
    th = th or Thresholds()
    scores = _scores(ev, th)
    reason = _reason(ev, th, scores)
    verdict = "accept" if reason == "OK" else "reject"
    no_direction = not ev.metric_reliable and "cosine_bp" not in scores
    if reason == "OK" and (no_direction or "norm_ratio_bp" not in scores):
        verdict, reason = "abstain", "UNMEASURABLE"
    return Verdict(verdict=verdict, reason=reason, metric_bp=ev.metric_bp, scores=scores)
