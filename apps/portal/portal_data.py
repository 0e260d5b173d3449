"""What the portal reads, and nothing else: one member's view of its consortium directory.

The pages never touch the ledger, the file system or other packages directly; they call
`PortalData`. It reads:

- the ledger, through `consortium.ledger.factory.open_ledger(config, member_id)`, as the member
  itself (the portal is served by the member's own node). The committed transactions are read once
  and then followed incrementally (`transactions(start_block)`); most tables are derived from them,
  because the protocol (docs/decisions/0001-protocol.md) fixes every transaction's arguments, and
  the contract's queries are used for what only the world state knows (learning blocks, balances,
  derived update status);
- the member's own folder ``DIR/members/<id>/``: ingest runs (a folder holding ``report.json``,
  ``quarantine/`` and ``cohort.parquet``), the privacy accountant store, the portal password.

Nothing here returns a row of patient data: ingest runs are summarized from their reports, the
cohort by its shape and column names, quarantined resources by file name, size and reason. Raw
quarantined files are only handed out by `quarantine_file`, which the Data page calls for a
hospital admin of this member (see docs/decisions/0008-portal-access.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from consortium.ledger.base import CommittedTx, Ledger

__all__ = [
    "IngestRun",
    "PortalData",
    "PortalUnavailable",
    "QuarantineItem",
    "task_of",
]

VALID = "VALID"


class PortalUnavailable(RuntimeError):
    """A part of the consortium the portal needs is missing (not initialized, module absent)."""


class QuarantineItem(BaseModel):
    """One quarantined resource: file name, size, type, origin and why. Never its content."""

    name: str
    size_bytes: int
    resource_type: str = ""
    source: str = ""
    position: str = ""
    reason: str


class IngestRun(BaseModel):
    """One ingest run of this member, summarized from its report (no patient rows)."""

    root: str  # the folder searched (the member's folder, or an --ingest folder)
    name: str  # the run's folder relative to ``root``
    path: str
    report: dict[str, Any]
    cohort_rows: int | None = None
    cohort_columns: list[str] = []
    quarantine: list[QuarantineItem] = []


def task_of(tx: CommittedTx) -> str:
    """The task a transaction is about when its own arguments say so ('' otherwise)."""
    if "task_id" in tx.args:
        return str(tx.args["task_id"])
    task = tx.args.get("task")
    if isinstance(task, dict) and "task_id" in task:
        return str(task["task_id"])
    return ""


def to_decimal(value: Any) -> Decimal | None:
    """A ledger decimal string (or integer) as a `Decimal`; None when absent or malformed."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class PortalData:
    """Read access to one member's consortium directory and ledger."""

    def __init__(
        self,
        consortium_dir: Path,
        member_id: str,
        *,
        ingest_dirs: tuple[Path, ...] = (),
        open_ledger: Callable[[], Ledger] | None = None,
    ) -> None:
        self.dir = Path(consortium_dir)
        self.member_id = member_id
        self.ingest_dirs = ingest_dirs  # this member's ingest --out folders outside its folder
        self._open = open_ledger or self._default_opener
        # one ledger client per thread, so that sessions do not queue behind one client's lock
        self._clients: dict[threading.Thread, Ledger] = {}
        self._clients_lock = threading.Lock()
        self._lock = threading.Lock()
        self._txs: list[CommittedTx] = []
        self._next_block = 0

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def member_dir(self) -> Path:
        """This member's folder (MSP, keys, state, portal password)."""
        return self.dir / "members" / self.member_id

    def _default_opener(self) -> Ledger:
        try:
            from consortium.config import ConsortiumConfig
            from consortium.ledger.factory import open_ledger
        except ImportError as err:  # the identity/ledger part is not installed yet
            raise PortalUnavailable(f"the ledger is not available in this install: {err}") from err
        config = ConsortiumConfig.load(self.dir)
        return open_ledger(config, self.member_id)

    def config(self) -> Any:
        """The consortium configuration (`consortium.config.ConsortiumConfig`)."""
        from consortium.config import ConsortiumConfig

        return ConsortiumConfig.load(self.dir)

    def ledger(self) -> Ledger:
        """This thread's ledger client, acting as this member.

        Streamlit runs every rerun of a page on a new thread, so the clients of threads that have
        ended are closed here: each holds the ledger file and its lock file open, and a portal
        that kept them would run out of file descriptors after some thousands of clicks."""
        me = threading.current_thread()
        with self._clients_lock:
            ended = [thread for thread in self._clients if not thread.is_alive()]
            for thread in ended:
                self._clients.pop(thread).close()
            ledger = self._clients.get(me)
        if ledger is None:
            ledger = self._open()
            with self._clients_lock:
                self._clients[me] = ledger
        return ledger

    def query(self, fn: str, args: dict[str, Any] | None = None) -> Any:
        """Evaluate a contract query; None when the query does not exist or fails."""
        try:
            return self.ledger().evaluate(fn, args or {})
        except PortalUnavailable:
            raise
        except Exception:  # a query not implemented, or an absent record: show nothing
            return None

    def height(self) -> int:
        """Number of ledger blocks committed so far."""
        return self.ledger().height()

    def transactions(self) -> list[CommittedTx]:
        """Every committed transaction, in order, valid and invalid; followed incrementally."""
        with self._lock:
            for tx in self.ledger().transactions(self._next_block):
                self._txs.append(tx)
                self._next_block = tx.block_number + 1
            return list(self._txs)

    def valid(self, fn: str) -> Iterator[CommittedTx]:
        """Valid committed transactions of one kind."""
        return (tx for tx in self.transactions() if tx.fn == fn and tx.code == VALID)

    # -- members and tasks ----------------------------------------------------------------------
    def members(self) -> dict[str, dict[str, Any]]:
        """Members by id, replayed from Bootstrap / RegisterMember / RevokeMember."""
        out: dict[str, dict[str, Any]] = {}
        for tx in self.transactions():
            if tx.code != VALID:
                continue
            if tx.fn == "Bootstrap":
                for m in tx.args.get("members", []):
                    out[m["member_id"]] = {**m, "status": "active"}
            elif tx.fn == "RegisterMember":
                out[tx.args["member_id"]] = {**tx.args, "status": "active"}
            elif tx.fn == "RevokeMember" and tx.args.get("member_id") in out:
                out[tx.args["member_id"]]["status"] = "revoked"
        return out

    def roles(self) -> tuple[str, ...]:
        """This member's roles as the ledger records them (authoritative, protocol §Roles)."""
        record = self.query("GetMember", {"member_id": self.member_id})
        if isinstance(record, dict) and "roles" in record:
            return tuple(record["roles"])
        member = self.members().get(self.member_id)
        return tuple(member.get("roles", ())) if member else ()

    def tasks(self) -> dict[str, dict[str, Any]]:
        """Published tasks by id."""
        return {
            t["task"]["task_id"]: t["task"] for t in (x.args for x in self.valid("PublishTask"))
        }
