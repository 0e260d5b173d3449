"""A hospital's verifier draws its lines where its own ``node.toml`` says (``[verifier]``).

The thresholds are a member's local policy, not a consortium rule (consortium/node/settings.py):
the same update, verified by the same hospital on the shared run's ledger, is judged by the
defaults without the table and by the table's values with it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from .federated import SITES, Run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _with_settings(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(text)


def test_a_verifier_judges_by_the_thresholds_of_its_node_toml(run: Run) -> None:
    from consortium.federation.verifier import verify_update
    from consortium.node.open import member_dir

    # Arrange: an honest update the committee accepted, and a hospital other than its submitter
    views = run.session("admin").q("ListUpdates", task_id="heart")
    update = next(v["update"] for v in views if v["status"] in ("accepted", "included"))
    member = next(m for m in SITES if m != update["member_id"])
    path = member_dir(run.config, member) / "node.toml"
    original = path.read_text() if path.is_file() else None
    table = tomllib.loads(original) if original else {}
    # Act: verify it with the defaults, then with a floor on the norm no update reaches (a norm
    # ratio at or below 1, which did the same, is refused: honest updates above the median fail)
    default = verify_update(run.session(member), update)[0]
    try:
        strict = {**table, "verifier": {**table.get("verifier", {}), "null_abs_norm": 1e6}}
        path.write_text(tomli_w.dumps(strict))
        judged = verify_update(run.session(member), update)[0]
    finally:
        _with_settings(path, original)
    # Assert
    assert default.reason != "NO_LEARNING", default
    assert judged.verdict == "reject" and judged.reason == "NO_LEARNING", judged


def test_the_verifier_reads_probation_from_the_ledger_into_its_verdict(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consortium.federation.verifier as verifier

    # Arrange: an accepted honest update, verified by a hospital other than its submitter
    views = run.session("admin").q("ListUpdates", task_id="heart")
    update = next(v["update"] for v in views if v["status"] in ("accepted", "included"))
    member = next(m for m in SITES if m != update["member_id"])
    on_ledger = verifier.on_probation(update, views)
    # Act: as the ledger has it, then as if the submitter's last judged update had been rejected
    # as a direction outlier
    as_is = verifier.verify_update(run.session(member), update)[0]
    monkeypatch.setattr(verifier, "on_probation", lambda *_: True)
    judged = verifier.verify_update(run.session(member), update)[0]
    # Assert: each verdict records the line it was judged by; probation is never more lenient
    assert as_is.scores.get("probation", 0) == int(on_ledger)
    assert judged.scores["probation"] == 1
    assert as_is.passed or not judged.passed
