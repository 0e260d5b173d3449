"""`consortium rewards`: the members' reward balances on the ledger, and how they were earned.

Balances are written only by learning-block finalization (0001, Rewards): ``block_reward`` units
per block, a share to the sealer, the rest split over the included updates by contribution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app
from consortium.cli.model import DirOption, load_config


def reward_rows(ledger: Any, task_id: str | None = None) -> list[dict[str, Any]]:
    """Per member: balance, blocks sealed, updates included, in ``task_id`` (all)."""
    balances = {b["member_id"]: int(b["units"]) for b in ledger.evaluate("ListBalances", {})}
    tasks = [t["task_id"] for t in ledger.evaluate("ListTasks", {})]
    rows: dict[str, dict[str, Any]] = {
        m["member_id"]: {
            "member": m["member_id"],
            "roles": ",".join(m["roles"]),
            "units": 0,
            "sealed": 0,
            "included": 0,
        }
        for m in ledger.evaluate("ListMembers", {})
    }
    for member, units in balances.items():
        rows.setdefault(member, {"member": member, "roles": "", "sealed": 0, "included": 0})
        rows[member]["units"] = units
    for task in tasks if task_id is None else [task_id]:
        for block in ledger.evaluate("ListVersions", {"task_id": task})[1:]:
            rows[block["sealer"]]["sealed"] += 1
            for update_id in block["updates"]:
                u = ledger.evaluate("GetUpdate", {"task_id": task, "update_id": update_id})
                rows[u["update"]["member_id"]]["included"] += 1
    return sorted(rows.values(), key=lambda r: (-r["units"], r["member"]))


@app.command("rewards")
def rewards_command(
    directory: DirOption = Path("."),
    member: Annotated[
        str | None,
        typer.Option("--member", help="Identity to read the ledger as [any whose key is here]."),
    ] = None,
) -> None:
    """Print every member's reward balance (units) with blocks sealed and updates included."""
    from rich.console import Console
    from rich.table import Table

    from consortium.config import ConfigError
    from consortium.ledger.base import ContractError
    from consortium.ledger.factory import open_ledger

    config = load_config(directory)
    here = [m for m in sorted(config.members) if config.holds_private_key(m)]
    who = member or next(iter(here or sorted(config.members)), None)
    if who is None:
        fail("this directory has no identities: run `consortium init` first")
    try:
        ledger = open_ledger(config, who)
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
    try:
        rows = reward_rows(ledger)
    except ContractError as exc:
        fail(f"cannot read the ledger: {exc.message}")
    finally:
        ledger.close()
    table = Table(
        "member",
        "roles",
        "balance (units)",
        "blocks sealed",
        "updates included",
        title="rewards on the ledger",
    )
    for r in rows:
        table.add_row(
            r["member"], r["roles"], str(r["units"]), str(r["sealed"]), str(r["included"])
        )
    Console().print(table)
