"""`consortium ledger verify|show|export`: audit the embedded ledger."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig

ledger_app = typer.Typer(
    rich_markup_mode=None,
    help="Verify, inspect and export the ledger (auditors).",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")

ConsortiumDir = Annotated[
    Path,
    typer.Option(
        "--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR", help="Consortium directory."
    ),
]


def _embedded(directory: Path) -> ConsortiumConfig:
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        config = ConsortiumConfig.load(directory)
    except ConfigError as exc:
        fail(str(exc))
    if config.ledger.backend != "embedded":
        fail("this command reads the embedded ledger's file, and this consortium uses Fabric: "
             "there the peers validate every block, and `consortium fabric status --as NAME` "
             "checks the connection (docs/fabric.md)")  # fmt: skip
    if not config.ledger_path.is_file():
        fail(f"no ledger at {config.ledger_path}: run `consortium init` first")
    return config


def _unreadable(config: ConsortiumConfig, exc: Exception, *, verifying: bool = False) -> NoReturn:
    """One line for a ledger file that is not a readable ledger (damaged, truncated, replaced)."""
    what = "ledger verification FAILED: " if verifying else ""
    fail(
        f"{what}{config.ledger_path} cannot be read as a ledger ({exc}); keep this file as "
        "evidence and verify a copy from a backup or another member",
        code=1,
    )


@ledger_app.command("verify")
def verify_command(
    consortium: ConsortiumDir = Path("."),
    workers: Annotated[
        int, typer.Option("--workers", help="Extra processes checking signatures (0 = none).")
    ] = 0,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="File kept outside the consortium directory with the last verified block "
            "number and hash: fail if the ledger was cut back or rewritten since; updated on "
            "success.",
        ),
    ] = None,
) -> None:
    """Re-check every hash, signature, Merkle root and certificate, and replay the world state."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from consortium.ledger.embedded.verify import verify_ledger
    from consortium.ledger.factory import default_contract

    config = _embedded(consortium)
    pinned: tuple[int, str] | None = None
    if anchor is not None and anchor.is_file():
        number, _, digest = anchor.read_text().strip().partition(" ")
        if not number.isdigit() or len(digest) != 64:
            fail(
                f"{anchor} is not an anchor written by `ledger verify --anchor` (a block number "
                "and a hash): give the file an earlier verification wrote, or a new path"
            )
        pinned = (int(number), digest)
    columns = ("verify", BarColumn(), MofNCompleteColumn(), "blocks", TimeRemainingColumn())
    console = Console(stderr=True)
    # a bar for a terminal only: piped (2>err.txt) even a hidden one would leave a blank line
    quiet = not console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("verify", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = verify_ledger(
                config.ledger_path, config.ca_cert_path, default_contract(), advance,
                workers=workers, anchor=pinned,
            )  # fmt: skip
        except sqlite3.DatabaseError as exc:
            _unreadable(config, exc, verifying=True)
    if report.failure is not None:
        fail(f"ledger verification FAILED at {report.failure.describe()}", code=1)
    if anchor is not None:
        anchor.parent.mkdir(parents=True, exist_ok=True)
        tmp = anchor.with_name(anchor.name + ".tmp")
        tmp.write_text(f"{report.blocks - 1} {report.head_hash}\n")
        tmp.replace(anchor)
    codes = ", ".join(f"{c} {n}" for c, n in sorted(report.codes.items()) if c != "VALID")
    typer.echo(
        f"ledger OK: {report.blocks} blocks, {report.transactions} transactions "
        f"({report.valid} valid, {report.invalid} invalid{': ' + codes if codes else ''}), "
        f"{report.members} members ({report.revoked_members} revoked); "
        f"head {report.head_hash[:16]}; {report.elapsed_ms} ms"
    )


def _ms(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


@ledger_app.command("show")
def show_command(
    consortium: ConsortiumDir = Path("."),
    last: Annotated[
        int, typer.Option("--last", help="How many recent blocks (0: every block).")
    ] = 10,
    fn: Annotated[str | None, typer.Option("--fn", help="Only this transaction type.")] = None,
    creator: Annotated[str | None, typer.Option("--creator", help="Only this member.")] = None,
    invalid: Annotated[bool, typer.Option("--invalid", help="Only invalid transactions.")] = False,
) -> None:
    """Recent blocks and their transactions (time UTC, creator, function, validation code)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from consortium.ledger.contract.contract import TRANSACTIONS
    from consortium.ledger.embedded.audit import member_ids, read_blocks, read_transactions

    if last < 0:
        fail(f"--last {last}: give a number of recent blocks, or 0 for every block")
    if fn is not None and fn not in TRANSACTIONS:
        fail(f"--fn {fn!r} is no transaction type; known: {', '.join(sorted(TRANSACTIONS))}")
    config = _embedded(consortium)
    try:
        blocks = read_blocks(config.ledger_path, last)
        start = blocks[0].number if blocks else 0
        txs = list(
            read_transactions(
                config.ledger_path, start_block=start, fn=fn, creator=creator, invalid_only=invalid
            )
        )
        members = member_ids(config.ledger_path) if creator and not txs else []
    except (sqlite3.DatabaseError, json.JSONDecodeError, KeyError) as exc:
        _unreadable(config, exc)
    if creator and not txs and creator not in members:  # a typo, not a quiet member
        known = ", ".join(members)
        fail(f"no member {creator!r} on the ledger (members: {known}); check --creator")
    table = Table("block", "tx", "time (UTC)", "creator", "fn", "code", "tx id", "why refused")
    for tx in txs:
        code = tx.code if tx.code == "VALID" else f"[red]{tx.code}[/]"
        why = "" if tx.code == "VALID" else escape(tx.message)
        table.add_row(
            str(tx.block_number),
            str(tx.tx_index),
            _ms(tx.timestamp_ms),
            tx.creator,
            tx.fn,
            code,
            tx.tx_id[:16],
            why,
        )
    # Piped output (files, tests) is not cut to 80 columns: codes and ids must stay whole.
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    height = blocks[-1].number + 1 if blocks else 0
    chosen = [f"--fn {fn}"] * bool(fn) + [f"--creator {creator}"] * bool(creator)
    chosen += ["--invalid"] * invalid
    matching = f" matching {' '.join(chosen)}" if chosen else ""
    typer.echo(
        f"height {height}; showing blocks {start}..{height - 1}: {len(txs)} transactions{matching}"
    )


@ledger_app.command("export")
def export_command(
    consortium: ConsortiumDir = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [default: stdout].")
    ] = None,
    start_block: Annotated[int, typer.Option("--from-block", help="First block.")] = 0,
) -> None:
    """Every transaction (valid and invalid) with its code, creator, arguments and result."""
    from consortium.ledger.embedded.audit import export_transactions, read_transactions

    if fmt not in ("jsonl", "csv"):
        fail(f"unknown format {fmt!r}: use --format jsonl or --format csv")
    chosen: Literal["jsonl", "csv"] = "jsonl" if fmt == "jsonl" else "csv"
    config = _embedded(consortium)
    if output is not None and output.exists():
        fail(f"{output} exists; choose another --output (nothing was overwritten)")
    if output is not None and not output.parent.is_dir():
        fail(f"--output {output}: the folder {output.parent} does not exist; create it first")
    if start_block < 0:
        fail(
            f"--from-block {start_block} is negative: give a block number (0 is the first), or "
            "leave the option out to export them all"
        )
    if start_block > 0 and _nothing_from(config, start_block):
        return
    txs = read_transactions(config.ledger_path, start_block=start_block)
    try:
        if output is None:
            export_transactions(txs, sys.stdout, chosen)
            return
        with output.open("x", newline="") as out:
            count = export_transactions(txs, out, chosen)
    except sqlite3.DatabaseError as exc:
        if output is not None:
            output.unlink(missing_ok=True)  # a partial export would block the retry
        _unreadable(config, exc)
    typer.echo(f"wrote {count} transactions to {output}", err=True)


def _nothing_from(config: ConsortiumConfig, start_block: int) -> bool:
    """True, said on stderr, when block ``start_block`` is the ledger's next one: an incremental
    export from the block after the last it wrote, with no block since, finds nothing new (not an
    error). A block past that is no block an incremental export asks for, a typo: refused (exit
    2). Either way nothing is written, so no empty file stands for an export."""
    from consortium.ledger.embedded.audit import read_blocks

    try:
        head = read_blocks(config.ledger_path, 1)
    except (sqlite3.DatabaseError, json.JSONDecodeError, KeyError) as exc:
        _unreadable(config, exc)
    height = head[-1].number + 1 if head else 0
    span = f"(blocks 0 to {height - 1})"
    if start_block > height:
        fail(f"--from-block {start_block} is past the ledger's head: its height is {height} "
             f"{span}; give at most {height} (its next block, which finds nothing new yet), or "
             "leave the option out to export every block (nothing was written)")  # fmt: skip
    if start_block == height:
        typer.echo(f"nothing new from block {start_block}: the ledger's height is {height} {span},"
                   " no block has come since (nothing was written)", err=True)  # fmt: skip
        return True
    return False
