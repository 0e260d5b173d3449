"""One node per member: ``members/NAME/state/node.lock``, held while `consortium node run` runs.

Two nodes of one member would both train on its patients, and each training run spends ε from
the member's budget even when the ledger then refuses the second submission as a duplicate; they
would also race on the member's state files. The lock is an advisory ``flock``: the kernel drops
it when its holder exits, ``kill -9`` included, so a restarted node never finds a stale lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consortium.cli._errors import UserError
from consortium.pidlock import LockHeld, pid_lock

__all__ = ["LOCK_NAME", "one_node_per_member"]

LOCK_NAME = "node.lock"


@contextmanager
def one_node_per_member(state_root: Path, member: str) -> Iterator[None]:
    """Hold ``state_root/node.lock`` (`consortium.pidlock`, naming this process's pid) for the
    ``with`` block; raise `UserError` naming the holder's pid when another process holds it."""
    path = state_root / LOCK_NAME
    with contextlib.ExitStack() as held:
        try:
            state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
            held.enter_context(pid_lock(path))
        except LockHeld as busy:
            raise UserError(
                f"another node of {member!r} is running{busy.by}: a member runs one node; stop "
                f"that one first (it holds {path})"
            ) from None
        except OSError as exc:
            raise UserError(f"cannot open the node lock {path}: {exc.strerror or exc}") from exc
        yield
