"""Fixtures of the portal tests: simulated, scripted and empty consortia (session-scoped, built
once through the real ledger; see portal_fixture) and an AppTest factory signed in as a member."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "apps" / "portal" / "portal.py"
sys.path.insert(0, str(APP.parent))

from portal_fixture import make_consortium  # noqa: E402


@pytest.fixture(scope="session")
def simulated_with_name(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real short simulation, and the name in its quarantined resource."""
    root = tmp_path_factory.mktemp("simulated") / "consortium"
    name = make_consortium(root, "simulated")
    return root, name


@pytest.fixture(scope="session")
def simulated(simulated_with_name: tuple[Path, str]) -> Path:
    """A consortium after a real short simulation (see portal_fixture)."""
    return simulated_with_name[0]


@pytest.fixture(scope="session")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consortium with two hand-written learning rounds (deterministic content)."""
    root = tmp_path_factory.mktemp("scripted") / "consortium"
    make_consortium(root, "scripted")
    return root


@pytest.fixture
def scripted_copy(scripted: Path, tmp_path: Path) -> Path:
    """A copy of the scripted consortium in this test's folder, for a test that writes to it (a
    pull records a download on its ledger, a node.toml, an ingest run)."""
    root = tmp_path / "consortium"
    shutil.copytree(scripted, root)
    return root


@pytest.fixture(scope="session")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consortium right after init: identities and the genesis block only."""
    root = tmp_path_factory.mktemp("empty") / "consortium"
    make_consortium(root, "empty")
    return root


AppFactory = Callable[..., "object"]


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """``portal(dir, member, signed_in=True, page=None)`` -> an AppTest that has run once."""
    from streamlit.testing.v1 import AppTest

    def make(
        root: Path, member: str, *, signed_in: bool = True, page: str | None = None
    ) -> AppTest:
        monkeypatch.setenv("CONSORTIUM_PORTAL_DIR", str(root))
        monkeypatch.setenv("CONSORTIUM_PORTAL_MEMBER", member)
        at = AppTest.from_file(str(APP), default_timeout=30)
        if signed_in:
            at.session_state["portal_user"] = {"method": "test", "who": member, "seen": time.time()}
        at.run()
        if page is not None:
            at.switch_page(f"views/{page}.py").run()
        return at

    yield make
    os.environ.pop("CONSORTIUM_PORTAL_DIR", None)
