"""A hospital node killed at the worst moments resumes without losing or repeating work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.federation.session import Session
from consortium.federation.trainer import train_step
from consortium.node.open import open_session
from consortium.node.settings import NodeSettings, load_settings, save_settings
from consortium.node.state import StateDir
from consortium.simulate.config import SimConfig
from consortium.simulate.setup import create_consortium


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = SimConfig(plaintext=True, update_seconds=0.0, planned_updates=2, train_seed=1)
    return create_consortium(cfg, tmp_path_factory.mktemp("c") / "consortium")


def _subs(s: Session) -> dict[str, dict[str, object]]:
    return json.loads(s.state.path("tasks", s.task_id, "submissions.json").read_text())


def _own(s: Session) -> list[dict[str, object]]:
    return [
        v["update"]
        for v in s.q("ListUpdates", task_id=s.task_id)
        if v["update"]["member_id"] == s.member_id
    ]


def test_crash_between_submit_and_saving_its_id(consortium_dir: Path) -> None:
    from consortium.pole.sml import commitment

    s = open_session(consortium_dir, "cleveland")
    assert train_step(s)  # trains: nonce, blobs and digests on disk, nothing on the ledger yet
    before = s.state.path("tasks", s.task_id, "submissions.json").read_bytes()
    rec = _subs(s)["0"]
    assert rec["nonce"] and rec["model_digest"] and "update_id" not in rec
    assert _own(s) == []

    assert train_step(s)  # submits
    s.state.path("tasks", s.task_id, "submissions.json").write_bytes(before)  # "kill -9"

    restarted = open_session(consortium_dir, "cleveland")
    assert train_step(restarted)  # DUPLICATE_SUBMISSION: finds its own update on the ledger
    assert train_step(restarted)  # reveals with the nonce it had written first
    own = _own(restarted)
    assert len(own) == 1
    assert own[0]["nonce"] == rec["nonce"]
    assert own[0]["commitment"] == commitment(str(rec["nonce"]))
    assert _subs(restarted)["0"]["update_id"] == own[0]["update_id"]
    assert not train_step(restarted)  # nothing left to do on this base


def test_state_writes_are_atomic_and_ordered(tmp_path: Path) -> None:
    import stat

    (tmp_path / "state").mkdir(mode=0o755)
    state = StateDir(tmp_path / "state")
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700  # private to the node
    state.write_json({"a": 1}, "x", "doc.json")
    state.write_json({"a": 2}, "x", "doc.json")
    assert state.read_json("x", "doc.json") == {"a": 2}
    assert [p.name for p in (tmp_path / "state" / "x").iterdir()] == ["doc.json"]
    import numpy as np

    arrays = {"b": np.ones(3), "a": np.zeros((2, 2))}
    state.write_arrays(arrays, "t.npz")
    back = state.read_arrays("t.npz")
    assert back is not None and list(back) == ["b", "a"]
    assert np.array_equal(back["a"], arrays["a"])


def test_settings_round_trip_and_bad_file(tmp_path: Path) -> None:
    save_settings(tmp_path, NodeSettings(speed=5.0, attack="sign_flip", planned_updates=3))
    loaded = load_settings(tmp_path)
    assert (loaded.speed, loaded.attack, loaded.planned_updates) == (5.0, "sign_flip", 3)
    (tmp_path / "node.toml").write_text("speed = 'fast'\n")
    with pytest.raises(ValueError, match=r"node\.toml"):
        load_settings(tmp_path)


def test_an_accountant_lost_or_rolled_back_does_not_grant_its_epsilon_again(
    tmp_path: Path,
) -> None:
    import shutil

    from consortium.federation.trainer import _prepare, _store
    from consortium.privacy.accountant import BudgetExceeded

    cfg = SimConfig(plaintext=True, update_seconds=0.0, planned_updates=2, train_seed=1)
    root = create_consortium(cfg, tmp_path / "consortium")
    s = open_session(root, "cleveland")
    while train_step(s):  # train, submit, reveal: one update, its ε declared on the ledger
        pass
    [declared] = _own(s)
    assert float(str(declared["epsilon_spent"])) > 0
    shutil.rmtree(s.state.path("privacy"))  # the accountant is lost, or restored from before

    restarted = open_session(root, "cleveland")
    # the next round's training (as on a new version) refuses what the ledger says was released
    with pytest.raises(BudgetExceeded, match="behind the ε this member declared"):
        _prepare(restarted, 0, restarted.head(), {})
    assert _store(restarted).history() == []  # nothing reserved


def test_a_quorum_the_consortium_cannot_reach_stops_the_node_with_what_to_do(
    tmp_path: Path,
) -> None:
    from consortium.cli._errors import UserError

    # four hospitals: three verifiers besides any submitter, the task wants four
    cfg = SimConfig(plaintext=True, update_seconds=0.0, planned_updates=1, train_seed=1,
                    committee_size=4, quorum=4)  # fmt: skip
    s = open_session(create_consortium(cfg, tmp_path / "consortium"), "cleveland")
    assert train_step(s)  # trains
    with pytest.raises(UserError, match=r"NO_COMMITTEE.*add verifiers"):
        train_step(s)  # the submission: refused for the task, not for this update


def test_a_site_budget_in_node_toml_stops_training_that_would_pass_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = SimConfig(plaintext=True, update_seconds=0.0, planned_updates=2, train_seed=1)
    root = create_consortium(cfg, tmp_path / "consortium")
    s = open_session(root, "cleveland")
    mdir = s.state.root.parent
    # the task allows this member its ε; the hospital caps all training on its patients lower
    save_settings(mdir, load_settings(mdir).model_copy(update={"site_epsilon_budget": 0.05}))

    capped = open_session(root, "cleveland")
    assert train_step(capped)

    [record] = _subs(capped).values()
    assert record["status"] == "refused"  # not "spent": its data owners may raise the cap
    assert "past the site's budget ε=0.05" in str(record["reason"])
    assert "past the site's budget" in capsys.readouterr().err
    assert _own(capped) == []  # nothing trained, nothing sent
    assert not train_step(capped)  # not again on this version at every poll
