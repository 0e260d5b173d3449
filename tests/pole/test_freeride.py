"""Free-riding is rejected by the real verifiers on the real ledger, and earns nothing.

Free-riders (tests/pole/freeride.py) submit on the heads of a real federated run (conftest.py):
another member's update copied as is, the current global model, an older global model, and a
submission prepared for an earlier base version, and a copy converted into the copier's own layer
(the SML's stated limit); then the honest nodes run until every one of them is decided. Each is
rejected with the reason that says what it is (docs/decisions/0007-bafl.md) and earns nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import freeride as fr
from .federated import FREE_RIDERS, SITES, Run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _decided(ids: dict[str, str], above: int) -> Any:
    def done(s: Any) -> bool:
        views = [s.q("GetUpdate", task_id="heart", update_id=u) for u in ids.values()]
        return all(v["status"] != "pending" for v in views) and s.head()["height"] > above

    return done


@pytest.fixture(scope="module")
def attacks(run: Run) -> dict[str, dict[str, Any]]:
    """Two rounds of free-riding, each on a fresh head; returns each attack's GetUpdate view."""
    from consortium.pole.localrun import run_nodes

    s = {m: run.session(m) for m in FREE_RIDERS}
    watch = run.nodes[0].s
    head = int(watch.head()["height"])
    views = watch.q("ListUpdates", task_id="heart")
    victim = next(v["update"] for v in views if v["status"] in ("accepted", "included"))
    first = {"copy": fr.copy_update(s["mallory"], victim), "global": fr.global_model(s["oscar"])}
    assert run_nodes(run.nodes, _decided(first, head), max_seconds=120)
    head = int(watch.head()["height"])
    own = watch.q("GetUpdate", task_id="heart", update_id=first["copy"])["update"]
    second = {"precomputed": fr.precomputed(s["mallory"], own),
              "older_global": fr.older_global(s["oscar"], head - 1),
              "converted": fr.convert_update(s["trudy"], victim)}  # fmt: skip
    assert run_nodes(run.nodes, _decided(second, head), max_seconds=120)
    out = {k: watch.q("GetUpdate", task_id="heart", update_id=u) for k, u in first.items()}
    out.update({k: watch.q("GetUpdate", task_id="heart", update_id=u) for k, u in second.items()})
    out["victim"] = {"update": victim}
    return out


def _reasons(view: dict[str, Any]) -> set[str]:
    return {e["reason"] for e in view["endorsements"] if e["verdict"] == "reject"}


def test_a_copied_update_fails_the_sml_binding(attacks: dict[str, Any]) -> None:
    view = attacks["copy"]
    assert view["status"] == "rejected"
    # The copied mapped model was made behind the victim's revealed layer, not the copier's.
    assert _reasons(view) == {"SML_MISMATCH"}


def test_a_precomputed_submission_fails_the_sml_binding(attacks: dict[str, Any]) -> None:
    view = attacks["precomputed"]
    assert view["status"] == "rejected"
    # Prepared behind a layer of an earlier base; the new base's layer did not exist then.
    assert _reasons(view) == {"SML_MISMATCH"}


def test_an_older_global_model_is_no_learning(attacks: dict[str, Any]) -> None:
    view = attacks["older_global"]
    assert view["status"] == "rejected" and _reasons(view) == {"NO_LEARNING"}


def test_the_current_global_model_is_rejected(attacks: dict[str, Any]) -> None:
    view = attacks["global"]
    assert view["status"] == "rejected"
    # A zero delta decrypts to CKKS noise: the null check runs before the reveal check.
    assert _reasons(view) == {"NO_LEARNING"}


def test_a_converted_copy_is_a_duplicate_on_the_ledger(attacks: dict[str, Any]) -> None:
    view = attacks["converted"]
    assert view["status"] == "rejected" and _reasons(view) == {"DUPLICATE"}


def test_free_riders_earn_nothing(run: Run, attacks: dict[str, Any]) -> None:
    s = run.session("admin")
    ids = {v["update"]["update_id"] for k, v in attacks.items() if k != "victim"}
    for block in s.q("ListVersions", task_id="heart"):
        assert not ids & set(block["updates"])
        assert not set(FREE_RIDERS) & set(block["rewards"])
    for member in FREE_RIDERS:
        assert s.q("GetBalance", member_id=member)["units"] == 0
    assert sum(b["units"] for b in s.q("ListBalances")) > 0  # the honest members did earn


def test_a_converted_copy_is_a_duplicate_for_every_verifier(
    run: Run, attacks: dict[str, Any]
) -> None:
    from consortium.federation.verifier import verify_update

    # Arrange: trudy's copy of the victim's delta, mapped into its own layer (a consistent
    # reveal); some hospitals never verified the original (not on its committee)
    update = attacks["converted"]["update"]
    victim = attacks["victim"]["update"]
    view = run.session("admin").q("GetUpdate", task_id="heart", update_id=victim["update_id"])
    saw = {e["member_id"] for e in view["endorsements"]}
    # Act: the verifier role function of every hospital, whether it saw the original or not
    verdicts = {m: verify_update(run.session(m), update)[0] for m in SITES}
    # Assert
    assert set(SITES) - saw  # at least the victim itself did not verify its own update
    assert all(v.reason == "DUPLICATE" for v in verdicts.values()), verdicts
