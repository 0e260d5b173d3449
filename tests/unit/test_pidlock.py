"""`consortium.pidlock`: one holder at a time, named by its pid, and nothing held after it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consortium.pidlock import LockHeld, pid_lock


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with pid_lock(path):
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(LockHeld) as refused, pid_lock(path):
            pytest.fail("a second holder entered the block")
        assert refused.value.pid == os.getpid() and refused.value.by == f" (pid {os.getpid()})"
    assert path.read_text() == ""  # released, pid cleared
    with pid_lock(path):  # and free again
        pass


def test_a_lock_file_that_cannot_be_created_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError) as failed, pid_lock(tmp_path / "missing" / "x.lock"):
        pytest.fail("entered without a lock")
    assert failed.value.filename is not None
