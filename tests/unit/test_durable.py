"""Durable replacement: the folder holding a renamed name is synced, for every record that must
outlive a power cut (the accountant's reservation, the site's log, a node's state, blobs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import consortium.durable as durable
from consortium.blobs.local import LocalBlobStore
from consortium.node.state import StateDir
from consortium.privacy.accountant import AccountantStore


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders `sync_folder` synced, in order (the real sync still runs)."""
    seen: list[Path] = []
    real = durable.sync_folder

    def recording(folder: Path | str) -> None:
        seen.append(Path(folder).resolve())
        real(folder)

    monkeypatch.setattr(durable, "sync_folder", recording)
    return seen


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The mode of every file or folder fsync'ed during the test, in order."""
    modes: list[int] = []
    real = os.fsync

    def recording(fd: int) -> None:
        modes.append(os.fstat(fd).st_mode)
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return modes


def test_sync_folder_fsyncs_the_folder_itself(tmp_path: Path, fsynced: list[int]) -> None:
    modes = fsynced
    durable.write_durably(tmp_path / "sub" / "f.json", b"{}")
    assert (tmp_path / "sub" / "f.json").read_bytes() == b"{}"
    assert [stat.S_ISREG(m) for m in modes] == [True, False]  # the file, then its folder
    assert stat.S_ISDIR(modes[1])
    assert not list((tmp_path / "sub").glob(".*tmp"))


def test_an_accountant_reservation_syncs_its_folder(tmp_path: Path, synced: list[Path]) -> None:
    store = AccountantStore(
        tmp_path, member_id="h1", task_id="t", accountant="rdp", epsilon_budget=3.0, delta=1e-5
    )
    store.reserve(noise_multiplier=2.0, sample_rate=0.1, steps=10)
    assert store.path.parent.resolve() in synced


def test_node_state_and_blobs_sync_their_folders(tmp_path: Path, synced: list[Path]) -> None:
    state = StateDir(tmp_path / "state")
    state.write_json({"a": 1}, "tasks", "t", "x.json")
    assert (tmp_path / "state" / "tasks" / "t").resolve() in synced
    blobs = LocalBlobStore(tmp_path / "blobs")
    digest = blobs.put(b"model bytes")
    assert blobs.path(digest).parent.resolve() in synced


def test_a_private_file_is_never_readable_by_others_on_the_way(
    tmp_path: Path, fsynced: list[int]
) -> None:
    """`write_privately` holds the bytes in a file of mode 0600 from its creation (not chmod'ed
    after the write), whatever the umask, and replaces an earlier file readable by all."""
    modes = fsynced
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"earlier")
    path.chmod(0o644)
    before = os.umask(0o022)
    try:
        durable.write_privately(path, b"plaintext")
    finally:
        os.umask(before)
    assert path.read_bytes() == b"plaintext"
    assert stat.S_IMODE(modes[0]) == 0o600  # the temporary file, as the bytes were synced
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
