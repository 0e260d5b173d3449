"""`consortium node run`: the long-running member process (train, verify, aggregate, seal, attest).

It reads ``DIR/consortium.toml`` and the member's optional ``members/NAME/node.toml``
(`consortium.node.settings`), follows the ledger and does what the member's roles allow. All its
state is under ``members/NAME/state``: stop it any way (even ``kill -9``) and start it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.node.runner import Node

node_app = typer.Typer(rich_markup_mode=None, help="Run a member's node.", no_args_is_help=True)
app.add_typer(node_app, name="node")


def _say_site_budget(session: Any) -> None:
    """With a site budget in node.toml, say how much of it is spent before anything runs."""
    from consortium.federation.trainer import site_budget
    from consortium.privacy.accountant import spent_text

    site = site_budget(session)
    if site is None:
        return
    histories = site.histories()
    total = site.epsilon_spent(histories)
    spent = site.spent(histories)
    each = ", ".join(f"{label} {spent_text(eps)}" for label, eps in spent.items()) or "nothing yet"
    plain = len(site.non_private_runs())  # `consortium train --no-dp --outside-site-budget`
    if plain:
        each += f"; {plain} non-private local run{'s' * (plain != 1)} (not bounded by ε)"
    typer.echo(
        f"site budget: ε {spent_text(total)} of {site.epsilon:g} (δ={site.delta:g}) spent on these "
        f"patients, over every task and local training; each alone: {each}"
    )


@node_app.command("run")
def run(
    member: Annotated[str, typer.Option("--member", help="The member identity to run as.")],
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR", help="Consortium directory."
        ),
    ] = Path("."),
    wait: Annotated[float, typer.Option(help="Seconds to wait for a task to appear.")] = 60.0,
    test_bed: Annotated[
        bool,
        typer.Option(
            "--test-bed",
            help="Allow node.toml settings meant for simulations and benchmarks only "
            "(dp = false, plaintext = true, attack).",
        ),
    ] = False,
) -> None:
    """Follow the ledger and do the member's work until stopped (Ctrl-C or SIGTERM)."""
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        config = ConsortiumConfig.load(directory)
        member_dir = config.member_msp(member).parent
    except ConfigError as exc:
        fail(str(exc))
    roles = set(config.members[member].roles)
    if not roles & {"hospital", "verifier", "aggregator"}:
        fail(
            f"{member!r} ({', '.join(sorted(roles))}) has no work for a node: run the node of a "
            "hospital, verifier or aggregator"
        )
    from consortium.cli._errors import UserError
    from consortium.node.lock import one_node_per_member

    with contextlib.ExitStack() as held:
        try:  # before anything is opened: a second node of this member does nothing at all
            held.enter_context(one_node_per_member(member_dir / "state", member))
        except UserError as exc:
            fail(str(exc))
        _run_node(directory, member, member_dir, roles, wait=wait, test_bed=test_bed)


def _run_node(
    directory: Path, member: str, member_dir: Path, roles: set[str], *, wait: float, test_bed: bool
) -> None:
    """Open the member's session, check it can work, and run its node until stopped."""
    from consortium.node.open import open_session
    from consortium.node.runner import Node

    try:
        session = open_session(directory, member, wait_s=wait)
    except (TimeoutError, ValueError, FileNotFoundError) as exc:
        fail(f"cannot start the node of {member!r}: {exc}")
    if roles & {"hospital", "verifier"} and session.cohort is None:
        session.ledger.close()
        fail(
            f"{member!r} has no cohort data, so it can neither train nor verify: "
            f'`consortium ingest ... --out {member_dir / "cohort"}`, or set cohort = "PATH" '
            f"in {member_dir / 'node.toml'} (PATH: an ingest's --out folder or its "
            f"cohort.parquet; a relative PATH is read from {member_dir})"
        )
    unsafe = session.settings.test_bed_only()
    if unsafe and not test_bed:
        session.ledger.close()
        fail(
            f"{member_dir / 'node.toml'} sets {'; '.join(unsafe)}: settings for simulations and "
            "benchmarks only. Remove them, or pass --test-bed if this consortium is a test bed "
            "with no real patients"
        )
    typer.echo(f"node {member} ({', '.join(sorted(session.roles))}) on task {session.task_id}")
    if session.settings.seed is not None:
        typer.echo(
            "warning: node.toml sets seed: anyone with the file knows this node's DP noise, "
            "which then protects nothing; remove it outside tests",
            err=True,
        )
    for setting in unsafe:
        typer.echo(f"warning: test bed: {setting}", err=True)
    _say_site_budget(session)
    _run_until_stopped(Node(session, report=typer.echo), member)


def _run_until_stopped(node: Node, member: str) -> None:
    """Run ``node`` until SIGTERM, Ctrl-C, the simulator that started it going away, or an error
    it cannot go on from (its member revoked, the ledger rewritten); then say which, in one line."""
    from consortium.cli._errors import UserError

    why: list[str] = []  # the reasons to stop, the first one first
    # A simulator that dies must not leave its nodes running: it names itself in the environment.
    parent = int(os.environ.get("CONSORTIUM_PARENT_PID", "0") or 0)

    def _done() -> bool:
        if not why and parent > 0 and os.getppid() != parent:
            why.append(f"its parent process {parent} is gone")
        return bool(why)

    # SIGTERM lets the step in progress finish: the loop checks `_done` between steps
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: why.append("SIGTERM"))
    try:
        node.run(until=_done)
    except KeyboardInterrupt:
        why.append("interrupted (Ctrl-C)")
    except UserError as exc:  # the node cannot go on until someone changes the setup
        fail(f"node {member} stopped: {exc}", code=1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    typer.echo(f"node {member} stopped: {why[0]}" if why else f"node {member} stopped")
