"""What the portal's download buttons hand out, and to whom.

Streamlit runs a deferred download's callable when the browser asks for the file: outside any
script run, so outside the sign-in and idle checks the page made when it drew the button. These
tests take the callable the page gave the button and call it as that request would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def offered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], Any]]:
    """Label -> the data callable of every download button the pages draw from now on."""
    import streamlit

    seen: dict[str, Callable[[], Any]] = {}
    real = streamlit.download_button

    def spy(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        if callable(data):
            seen[label] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", spy)
    return seen


def test_a_raw_file_offered_before_the_idle_timeout_is_refused_after_it(
    scripted: Path, portal: Any, offered: dict[str, Callable[[], Any]]
) -> None:
    at = portal(scripted, "cleveland", page="data")
    fetch = offered["Download raw quarantined file"]
    assert b"resourceType" in fetch()  # signed in: the raw file
    at.session_state["portal_user"]["seen"] = time.time() - 3600  # the tab left open for an hour
    with pytest.raises(PermissionError, match="sign in again"):
        fetch()


def test_a_pulled_model_is_not_handed_out_after_sign_out(
    scripted_copy: Path, portal: Any, offered: dict[str, Callable[[], Any]]
) -> None:
    root = scripted_copy  # the pull records a download on this copy's ledger
    at = portal(root, "cleveland", page="models")
    next(b for b in at.button if "Pull model" in b.label).click().run()
    assert not at.exception and not at.error
    fetch = offered["Download model (.safetensors)"]
    assert fetch()[:8]  # signed in: the model
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert at.title[0].value.startswith("Sign in")
    with pytest.raises(PermissionError, match="sign in again"):
        fetch()


def test_the_audit_export_is_made_on_click_and_refused_after_the_idle_timeout(
    scripted: Path, portal: Any, offered: dict[str, Callable[[], Any]]
) -> None:
    at = portal(scripted, "auditor", page="audit")
    export = offered["Export CSV"]  # not put in the unguarded media store on every rerun
    assert export().decode().startswith("block,index,time,type,member")
    at.session_state["portal_user"]["seen"] = time.time() - 3600
    with pytest.raises(PermissionError, match="sign in again"):
        export()


def test_a_pulled_model_changed_on_disk_since_the_pull_is_not_handed_out(
    scripted_copy: Path, portal: Any, offered: dict[str, Callable[[], Any]]
) -> None:
    # the file sits at one path per version: another session pulling the same version rewrites
    # it (truncating it first), and anything else with the node's account can change it
    root = scripted_copy
    at = portal(root, "cleveland", page="models")
    next(b for b in at.button if "Pull model" in b.label).click().run()
    assert any("matches the ledger" in s.value for s in at.success)
    model = at.session_state["pulled"]["model"]
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(ValueError, match="pull the model again"):
        offered["Download model (.safetensors)"]()


def test_a_pulled_version_says_who_contributed_to_it(scripted_copy: Path, portal: Any) -> None:
    # a data scientist reads the provenance before using a model: who trained it, on how many
    # rows, with what ε, who sealed and attested it; not only a JSON tree
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    root = scripted_copy
    at = portal(root, "cleveland", page="models")
    version = int(at.selectbox[1].value)
    next(b for b in at.button if "Pull model" in b.label).click().run()
    assert not at.exception and not at.error
    ledger = open_ledger(ConsortiumConfig.load(root), "auditor")
    try:
        block = ledger.evaluate("GetVersion", {"task_id": "heart", "version": version})
        updates = [
            ledger.evaluate("GetUpdate", {"task_id": "heart", "update_id": u})["update"]
            for u in block["updates"]
        ]
    finally:
        ledger.close()
    table = next(d.value for d in at.dataframe if {"member_id", "n_samples"} <= set(d.value))
    assert sorted(zip(table["member_id"], table["n_samples"], strict=True)) == sorted(
        (u["member_id"], u["n_samples"]) for u in updates
    )
    said = " ".join(m.value for m in at.markdown)
    assert f"Version {version} of task heart" in said, said
    assert f"sealed by {block['sealer']}" in said, said
    assert f"attested by {', '.join(block['attesters'])}" in said, said


def test_the_initial_models_provenance_says_nobody_trained_it() -> None:
    import portal_ledger as pl

    initial = {"version": 0, "task_id": "heart", "sealer": "admin", "ms": 0, "updates": [],
               "attestations": [], "metric_bp": 0, "gain_bp": 0}  # fmt: skip
    said = pl.provenance_summary(initial)
    assert said.startswith("Version 0 of task heart, sealed by admin")
    assert "initial model" in said and "AUROC" not in said
    assert pl.contributors(initial).empty
