"""What the portal's download buttons hand out, and to whom.

Streamlit runs a deferred download's callable when the browser asks for the file: outside any
script run, so outside the sign-in and idle checks the page made when it drew the button. These
tests take the callable the page gave the button and call it as that request would.
"""

from __future__ import annotations

import shutil
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
    scripted: Path, portal: Any, offered: dict[str, Callable[[], Any]], tmp_path: Path
) -> None:
    root = tmp_path / "consortium"
    shutil.copytree(scripted, root)  # the pull records a download on this copy's ledger
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
    scripted: Path, portal: Any, offered: dict[str, Callable[[], Any]], tmp_path: Path
) -> None:
    # the file sits at one path per version: another session pulling the same version rewrites
    # it (truncating it first), and anything else with the node's account can change it
    root = tmp_path / "consortium"
    shutil.copytree(scripted, root)
    at = portal(root, "cleveland", page="models")
    next(b for b in at.button if "Pull model" in b.label).click().run()
    assert any("matches the ledger" in s.value for s in at.success)
    model = at.session_state["pulled"]["model"]
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(ValueError, match="pull the model again"):
        offered["Download model (.safetensors)"]()
