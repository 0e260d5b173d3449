"""The node loop: follow the ledger, then do one piece of work a role allows, and repeat.

`Node.step()` is one pass (follow new transactions; train; verify; aggregate; seal; attest) and
returns whether anything was done; `Node.run()` repeats it, sleeping ``poll_seconds`` when idle.
Every piece of work is idempotent against the ledger (see each role's module), and the follower's
position and what it learnt (update, aggregate and proposal ids) are saved together in one
document after each page of transactions, so a ``kill -9`` anywhere loses nothing: a restart
re-reads at most one page and re-asks the ledger before acting.

The position is a block number, and with it the follower keeps the last transaction it read.
Each pass starts by reading that block again: if it no longer holds that transaction, the ledger
was cut back or rewritten since (an embedded ledger restored from an old copy and grown again;
a peer reset), and the blocks now at the following heights are not the ones this node's state
refers to. Reading on from the saved number would silently skip them, so the node stops with
`RewrittenLedger` and what to do (``consortium ledger verify --anchor``). A ledger shorter than
that block stops it too, except through a client whose view may lag (`Ledger.view_may_lag`: a
Fabric gateway may answer from a peer still catching up), which waits until the block is there.

A node whose member the admin revoked stops with `MemberRevoked` when it reads the revocation
(at once on a restart): the contract refuses everything it would send from then on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from consortium.cli._errors import UserError
from consortium.federation.aggregator import aggregate_step, attested_gain, close_aggregate
from consortium.federation.attester import attest_step
from consortium.federation.sealer import seal_step
from consortium.federation.session import Session
from consortium.federation.trainer import planned_updates_sent, train_step
from consortium.federation.verifier import verify_step
from consortium.ledger.base import CommittedTx

__all__ = ["MemberRevoked", "Node", "RewrittenLedger", "describe"]


class RewrittenLedger(UserError):
    """The ledger no longer holds a transaction this node read: it was cut back or rewritten."""


class MemberRevoked(UserError):
    """The admin revoked this node's member: the contract refuses all its transactions."""


def _is_last(tx: CommittedTx, last: dict[str, Any]) -> bool:
    """Is ``tx`` the transaction recorded as the last one read?

    By its place in the block as well as its id: Fabric commits a replayed envelope again, marked
    DUPLICATE_TXID, so one id can occur twice in a block, and matching the id alone would resume
    after its first copy and read again what lies between. (A position saved before the index
    was kept matches by id, as it did.)
    """
    index = last.get("index")
    return tx.tx_id == last["tx_id"] and (index is None or tx.tx_index == int(index))


def describe(tx: CommittedTx) -> str:
    """One line for an admin watching a node: what this member did, and what the ledger said."""
    a = tx.args
    match tx.fn:
        case "SubmitUpdate":
            what = f"on version {a.get('base_version')}, ε so far {a.get('epsilon_spent')}"
        case "RevealNonce" | "Endorse":
            update = str(a.get("update_id"))[:12]
            what = f"{a.get('verdict', '')} {a.get('reason', '')} update {update}"
        case "PostAggregate":
            what = f"of {len(a.get('updates') or [])} updates"
        case "ProposeBlock":
            what = f"height {a.get('height')}"
        case "AttestBlock":
            proposal = str(a.get("proposal_id"))[:12]
            what = f"{a.get('verdict')} {a.get('reason') or ''} proposal {proposal}"
        case _:
            what = ""
    return " ".join(f"[block {tx.block_number}] {tx.fn} {what} -> {tx.code}".split())


class Node:
    """One member's node for one task (see the module docstring)."""

    def __init__(self, session: Session, report: Callable[[str], None] | None = None) -> None:
        self.s = session
        self._report = report  # one line per transaction of this member, as the ledger took it
        self._said_trained = False  # `planned_updates_sent`'s line is said once per process

    def _events(self) -> dict[str, Any]:
        blank = {"next_block": 0, "updates": [], "aggregates": [], "proposals": []}
        doc: dict[str, Any] = self.s.state.read_json("events.json", default=blank)
        return doc

    def _is_me(self, member_id: object) -> bool:
        return member_id == self.s.member_id

    def _take(self, doc: dict[str, Any], tx: CommittedTx) -> None:
        if tx.fn == "RevokeMember" and tx.code == "VALID" and self._is_me(tx.args.get("member_id")):
            raise MemberRevoked(
                f"member {self.s.member_id!r} was revoked by {tx.creator!r} (block "
                f"{tx.block_number}, tx {tx.tx_id[:12]}…): the ledger refuses its transactions "
                "from then on, and its updates not yet in a version enter none. This node has "
                "nothing left to do; ask the consortium's admin why"
            )
        if tx.args.get("task_id") != self.s.task_id:
            return
        if self._report is not None and tx.creator == self.s.member_id:
            self._report(describe(tx))
        if tx.fn == "SubmitUpdate" and tx.code == "VALID":
            doc["updates"].append(tx.tx_id)
        elif tx.fn == "PostAggregate" and tx.code == "VALID":
            result = tx.result if isinstance(tx.result, dict) else {}
            event = {**tx.args, "aggregate_id": tx.tx_id, "ms": tx.timestamp_ms}
            doc["aggregates"].append({**event, "head": result.get("head")})
        elif tx.fn == "ProposeBlock" and tx.code == "VALID":
            doc["proposals"].append(tx.tx_id)
        elif tx.fn == "AttestBlock" and isinstance(tx.result, dict):
            status = tx.result.get("proposal_status")
            if status not in (None, "open", "final") and "aggregator" in self.s.roles:
                view = self.s.q("GetProposal", task_id=self.s.task_id,
                                proposal_id=tx.args["proposal_id"])  # fmt: skip
                agg_id = view["proposal"].get("aggregate_id")
                if agg_id:
                    gain = attested_gain(view["attestations"])
                    close_aggregate(self.s, agg_id, str(status), gain)

    def follow(self) -> int:
        """Read newly committed transactions; returns how many.

        Resumes right after the last transaction read, also within a block (a page may end in
        the middle of one), after checking that the ledger still holds it (module docstring)."""
        doc = self._events()
        last: dict[str, Any] | None = doc.get("last")
        pending = last is not None  # until the last transaction read is found again
        there = False  # whether the ledger, as this client sees it, holds that block at all
        count = 0
        start = int(last["block"]) if last is not None else int(doc["next_block"])
        for tx in self.s.ledger.transactions(start):
            if last is not None and pending:
                if tx.block_number != start:
                    self._rewritten(last)
                there = True
                pending = not _is_last(tx, last)
                continue  # read before: up to and including the last one
            self._take(doc, tx)
            doc["next_block"] = tx.block_number + 1
            doc["last"] = {"block": tx.block_number, "index": tx.tx_index, "tx_id": tx.tx_id}
            count += 1
            if count % 500 == 0:
                self.s.state.write_json(doc, "events.json")
        if last is not None and pending:
            if not there and getattr(self.s.ledger, "view_may_lag", False):
                # A view that has not reached the block cannot tell a peer still catching up from
                # a ledger cut back: wait. Once the block is there, its transactions tell.
                return 0
            self._rewritten(last)
        if count:
            self.s.state.write_json(doc, "events.json")
        return count

    def _rewritten(self, last: dict[str, Any]) -> None:
        raise RewrittenLedger(
            f"the ledger no longer holds transaction {str(last['tx_id'])[:12]}… in block "
            f"{last['block']}, which this node read: it was cut back or rewritten since, and "
            "reading on would skip the blocks now at those heights. Stop the consortium's nodes "
            "and compare the ledger with an anchor taken before "
            "(`consortium ledger verify --anchor FILE`); restore the ledger, or start this "
            f"member's state afresh ({self.s.state.root}) once the ledger is right"
        )

    def step(self) -> bool:
        """One pass over every role's work; True when something was done."""
        self.follow()
        self._say_when_trained()
        doc = self._events()
        did = train_step(self.s)
        did = verify_step(self.s, doc["updates"][-200:]) or did
        did = aggregate_step(self.s) or did
        did = seal_step(self.s, doc["aggregates"][-20:], doc["proposals"]) or did
        did = attest_step(self.s, doc["proposals"][-20:]) or did
        return did

    def _say_when_trained(self) -> None:
        """Say once that this hospital has sent all its planned updates (after the transaction
        lines of the last one): without it, a node done training looks like one that is stuck."""
        if self._said_trained or self._report is None:
            return
        line = planned_updates_sent(self.s)
        if line is not None:
            self._said_trained = True
            self._report(line)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Step until ``until()`` is true (forever when None)."""
        cut = getattr(self.s.ledger, "cut", None)
        while until is None or not until():
            if not self.step():
                if cut is not None and getattr(self.s.ledger, "orderer", None) is not None:
                    cut()  # order envelopes a submitter left behind when it died
                time.sleep(self.s.settings.poll_seconds)
