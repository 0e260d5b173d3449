"""`consortium portal`: serve the institution portal for one member; `portal set-password`.

The portal is a Streamlit app in ``apps/portal/`` (docs/portal.md). It is served on 127.0.0.1 by
default: a node exposes it to its hospital through its own reverse proxy (TLS, the hospital's
network rules), never directly on a public interface.
"""

from __future__ import annotations

import getpass
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

portal_app = typer.Typer(
    rich_markup_mode=None,
    help="The institution portal (web UI) of one member.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(portal_app, name="portal")

DirOption = Annotated[
    Path,
    typer.Option("--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR",
                 help="Consortium directory (holds consortium.toml)."),
]  # fmt: skip
MemberOption = Annotated[
    str | None, typer.Option("--member", help="The member this node serves (its identity name).")
]


def find_app() -> Path:
    """The portal's entry script: ``CONSORTIUM_PORTAL_APP``, else next to the package (a source
    checkout or an editable install), else ``apps/portal`` under the current directory."""
    package = Path(__file__).resolve().parents[2]  # consortium/cli/portal.py -> the checkout
    candidates = [
        Path(os.environ.get("CONSORTIUM_PORTAL_APP", "")),
        package / "apps" / "portal" / "portal.py",
        Path.cwd() / "apps" / "portal" / "portal.py",
    ]
    for path in candidates:
        if path.name == "portal.py" and path.is_file():
            return path.resolve()
    fail(
        "cannot find apps/portal/portal.py: run from a source checkout (pip install -e .) or set "
        "CONSORTIUM_PORTAL_APP to the script's path"
    )


def _member_dir(consortium_dir: Path, member: str | None) -> tuple[Path, str]:
    """The member's folder, checking the directory and the member name first."""
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        config = ConsortiumConfig.load(consortium_dir)
    except ConfigError as err:
        fail(str(err))
    if member is None:
        if len(config.members) != 1:
            known = ", ".join(sorted(config.members)) or "none"
            fail(f"say which member this node serves: --member NAME (members here: {known})")
        member = next(iter(config.members))
    try:
        msp = config.member_msp(member)
    except ConfigError as err:
        fail(str(err))
    return msp.parent, member


def _auth_module() -> ModuleType:
    """``apps/portal/portal_auth.py``, the one implementation of portal passwords."""
    path = find_app().parent / "portal_auth.py"
    spec = importlib.util.spec_from_file_location("portal_auth", path)
    if spec is None or spec.loader is None:
        fail(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("portal_auth", module)
    spec.loader.exec_module(module)
    return module


def streamlit_command(app_path: Path, consortium_dir: Path, member: str, port: int,
                      address: str) -> list[str]:  # fmt: skip
    """The `streamlit run` command line serving the portal for ``member``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.address", address, "--server.port", str(port),
        "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        # Exception messages can quote data; the browser gets the type only, the log the rest.
        "--client.showErrorDetails", "type", "--client.toolbarMode", "viewer",
        "--", "--dir", str(consortium_dir), "--member", member,
    ]  # fmt: skip


@portal_app.callback()
def portal(
    ctx: typer.Context,
    consortium_dir: DirOption = Path("."),
    member: MemberOption = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8501,
    address: Annotated[
        str, typer.Option("--address", help="Interface to listen on (keep 127.0.0.1).")
    ] = "127.0.0.1",
    ingest: Annotated[
        list[Path] | None,
        typer.Option(
            "--ingest", metavar="DIR", help="An ingest --out folder of this member; repeatable."
        ),
    ] = None,
    idle_minutes: Annotated[
        float,
        typer.Option(
            "--idle-minutes",
            min=0.05,
            max=24 * 60,
            help="Sign a session out after this long without a click; an open page then shows "
            "the sign-in form.",
        ),
    ] = 30.0,
) -> None:
    """Serve the portal of one member (sign-in required; see docs/portal.md)."""
    if ctx.invoked_subcommand is not None:
        return
    app_path = find_app()
    member_dir, name = _member_dir(consortium_dir, member)
    if not _auth_module().password_path(member_dir).is_file():
        fail(
            f"no portal password for {name}: run "
            f"`consortium portal set-password --dir {consortium_dir} --member {name}`"
        )
    folders = [p.resolve() for p in ingest or []]
    missing = [str(p) for p in folders if not p.is_dir()]
    if missing:
        fail(f"--ingest folder not found: {', '.join(missing)}")
    command = streamlit_command(app_path, consortium_dir.resolve(), name, port, address)
    env = {**os.environ, "CONSORTIUM_PORTAL_DIR": str(consortium_dir.resolve()),
           "CONSORTIUM_PORTAL_MEMBER": name,
           "CONSORTIUM_PORTAL_INGEST": os.pathsep.join(map(str, folders)),
           "CONSORTIUM_PORTAL_IDLE_S": repr(idle_minutes * 60)}  # fmt: skip
    typer.echo(f"portal of {name}: http://{address}:{port}/  (Ctrl-C to stop)", err=True)
    sys.stdout.flush()
    os.execve(sys.executable, command, env)  # the server replaces this process: one pid to stop


def _read_password(stdin: bool) -> str:
    if stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New portal password: ")
    if first != getpass.getpass("Repeat it: "):
        fail("the two passwords differ; nothing was changed, run the command again")
    return first


@portal_app.command("set-password")
def set_password(
    consortium_dir: DirOption = Path("."),
    member: MemberOption = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Set a member's portal password (from a prompt or stdin, never from the command line)."""
    member_dir, name = _member_dir(consortium_dir, member)
    password = _read_password(stdin)
    try:
        path = _auth_module().set_password(member_dir, password)
    except ValueError as err:
        fail(f"{err}; nothing was changed")
    typer.echo(f"portal password of {name} set ({path})")
