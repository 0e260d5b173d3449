"""The real portal in a real browser: `consortium portal` served on a free port, driven by
Playwright through Debian's Chromium (never a downloaded browser).

Signs in (a wrong password first), opens every page, pulls a model and checks the downloaded file
against the ledger, verifies the chain, and saves a screenshot of each page in
``.cache/portal-screenshots/`` (printed) for a person to look at. An auditor's portal refuses
the model download and has no data pages. No page may show a Streamlit exception, and the browser
console must stay free of errors.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from portal_fixture import HOSPITAL, PASSWORD, TASK

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".cache" / "portal-screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HEADINGS = {
    "Overview": HOSPITAL,
    "Data": "Data",
    "Privacy": "Privacy budget",
    "Training": "Training",
    "Models": "Models",
    "Audit": "Audit",
    "Consensus": "Consensus (Proof of Learning)",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(root: Path, member: str, log: Path, *options: str) -> Iterator[str]:
    """Run `consortium portal` for ``member`` (with ``options``) until the block ends; yields its
    URL."""
    port = _free_port()
    script = Path(sys.executable).parent / "consortium"  # the installed command, as a user runs it
    cmd = [str(script), "portal", "--dir", str(root), "--member", member, "--port", str(port),
           *options]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as reply:
                    if reply.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the portal did not start: {log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (install it with `make browser`)."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is not installed: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the simulated consortium: the browser's download must not change the one the
    AppTest tests read."""
    root = tmp_path_factory.mktemp("browser") / "consortium"
    shutil.copytree(simulated, root)
    return root


class Watched:
    """A page with its console errors and uncaught errors collected."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1800},
                                           accept_downloads=True)  # fmt: skip
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def settle(self) -> None:
        """Wait until Streamlit has finished running the script and charts have drawn."""
        self.page.wait_for_timeout(300)
        done = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        self.page.locator(done).wait_for(timeout=60_000)
        self.page.wait_for_timeout(500)

    def sign_in(self, url: str, password: str) -> None:
        self.page.goto(url)
        self.page.get_by_label("Portal password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.settle()

    def open(self, name: str, shot: str) -> None:
        """Open a page from the menu, check it has no exception, save its screenshot."""
        self.page.get_by_role("link", name=name, exact=True).click()
        self.page.get_by_role("heading", name=HEADINGS.get(name, name)).first.wait_for()
        self.settle()
        self.shoot(shot)

    def shoot(self, shot: str) -> None:
        assert self.page.locator('[data-testid="stException"]').count() == 0, shot
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


def _latest(root: Path) -> dict[str, Any]:
    """The task's latest version on the ledger, with every recorded download."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(root), "auditor")
    try:
        head = ledger.evaluate("GetHead", {"task_id": TASK})
        found: dict[str, Any] = ledger.evaluate(
            "GetVersion", {"task_id": TASK, "version": head["height"]}
        )
        downloads = ledger.evaluate("ListDownloads", {"task_id": TASK})
    finally:
        ledger.close()
    found["downloads"] = [(d["member_id"], d["version"]) for d in downloads]
    return found


def test_a_hospital_uses_every_page_downloads_a_model_and_verifies_the_chain(
    browser: Any, site: Path, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nportal screenshots: {SHOTS}")
    w = Watched(browser)
    with serve(site, HOSPITAL, tmp_path / "portal.log") as url:
        w.sign_in(url, "not the password")
        assert w.page.get_by_text("Sign-in refused: wrong password").is_visible()
        w.shoot("00-sign-in-refused")
        w.sign_in(url, PASSWORD)
        w.page.get_by_role("heading", name=HOSPITAL).wait_for()
        for i, name in enumerate(HEADINGS, start=1):
            w.open(name, f"{i:02d}-{name.lower()}")
            if name == "Data":  # the run's warnings, as text: its input holds no chol Observation
                assert w.page.get_by_role("heading", name="Ingest warnings: ").is_visible()
                assert w.page.get_by_text("the feature chol has no value in any row").is_visible()
            if name == "Models":
                _download_and_check(w, site, tmp_path)
            if name == "Audit":
                w.page.get_by_role("button", name="Verify the whole ledger").click()
                w.page.get_by_text("The ledger verifies").wait_for(timeout=60_000)
                w.shoot(f"{i:02d}-audit-verified")
    assert w.errors == []
    w.context.close()


def _download_and_check(w: Watched, site: Path, tmp_path: Path) -> None:
    before = _latest(site)
    w.page.get_by_role("button", name="Pull model", exact=False).click()
    w.page.get_by_text("matches the ledger").wait_for(timeout=60_000)
    w.settle()
    w.shoot("05-models-pulled")
    with w.page.expect_download() as event:
        w.page.get_by_role("button", name="Download model (.safetensors)").click()
    saved = tmp_path / "model.safetensors"
    event.value.save_as(saved)
    after = _latest(site)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == before["model_digest"]
    assert after["downloads"] == [*before["downloads"], (HOSPITAL, before["height"])]


def test_an_auditor_reads_the_ledger_but_cannot_download(
    browser: Any, site: Path, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    w = Watched(browser)
    with serve(site, "auditor", tmp_path / "portal.log") as url:
        w.sign_in(url, PASSWORD)
        w.page.get_by_role("heading", name="auditor").wait_for()
        assert w.page.get_by_role("link", name="Data", exact=True).count() == 0
        assert w.page.get_by_role("link", name="Privacy", exact=True).count() == 0
        w.open("Models", "20-auditor-models")
        assert w.page.get_by_text("Download refused").is_visible()
        assert w.page.get_by_role("button", name="Pull model", exact=False).count() == 0
        w.open("Audit", "21-auditor-audit")
        w.open("Consensus", "22-auditor-consensus")
    assert w.errors == []
    w.context.close()


def test_a_page_left_open_signs_itself_out_without_a_click(
    browser: Any, site: Path, tmp_path: Path
) -> None:
    """A browser left open at a nurses' station: after the idle limit the page shows the sign-in
    form by itself (it used to stay readable until someone clicked)."""
    w = Watched(browser)
    with serve(site, HOSPITAL, tmp_path / "portal.log", "--idle-minutes", "0.1") as url:
        w.sign_in(url, PASSWORD)
        w.page.get_by_role("heading", name=HOSPITAL).wait_for()
        assert w.page.get_by_role("button", name="Sign out").is_visible()
        # no click, no key: the 6 s limit passes and the watcher (every 1.5 s) signs out
        w.page.get_by_label("Portal password").wait_for(timeout=30_000)
        assert w.page.get_by_role("button", name="Sign out").count() == 0
    assert w.errors == []
    w.context.close()
