"""`PortalData`'s ledger clients: one per thread that reads, closed once the thread is gone."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from portal_data import PortalData


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_ledger_clients_of_finished_threads_are_closed(scripted: Path) -> None:
    # Streamlit runs every rerun of a page on a new thread: a client left open per thread is a
    # file descriptor or two lost per click, until the portal can open no file at all.
    data = PortalData(scripted, "auditor")

    def page() -> None:
        data.height()
        data.transactions()

    page()
    before = _open_files()
    for _ in range(20):
        rerun = threading.Thread(target=page)
        rerun.start()
        rerun.join(timeout=30)
        assert not rerun.is_alive(), "a page waits for the ledger for ever"
    page()
    assert _open_files() - before <= 2, f"{_open_files() - before} files left open by 20 threads"
