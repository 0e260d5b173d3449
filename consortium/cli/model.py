"""`consortium model pull`: download a model version with proof of where it came from.

The blob is checked against the ledger's digest, decrypted with the member's key (unwrapped from
its `ShareKey`), checked again as plaintext, written as safetensors beside
``FILE.provenance.json``,
and the download is recorded on the ledger (`consortium.pole.provenance.pull_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig

model_app = typer.Typer(
    rich_markup_mode=None, help="Consortium models: download with provenance.", no_args_is_help=True
)
app.add_typer(model_app, name="model")

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        "--consortium",
        "-C",
        envvar="CONSORTIUM_DIR",
        help="Consortium directory (holds consortium.toml).",
    ),
]


def load_config(directory: Path) -> ConsortiumConfig:
    """The consortium of ``directory``, or one clear error line."""
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        return ConsortiumConfig.load(directory)
    except ConfigError as exc:
        fail(str(exc))


@model_app.command("pull")
def pull_command(
    member: Annotated[str, typer.Option("--member", help="The member downloading (its identity).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the safetensors model.")],
    directory: DirOption = Path("."),
    task: Annotated[str | None, typer.Option("--task", help="Task id [the only task].")] = None,
    version: Annotated[str, typer.Option("--version", help="A version number or 'latest'.")] = (
        "latest"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --out file and its provenance.")
    ] = False,
) -> None:
    """Download a version: check digests, decrypt with the member's key, record the download."""
    from consortium.pole.provenance import ProvenanceError, pull_model

    config = load_config(directory)
    if out.exists() and out.is_dir():
        fail(f"--out {out} is a directory: give a file name, e.g. {out / 'model.safetensors'}")
    if out.exists() and not force:
        fail(
            f"--out {out} exists: give another file name, or --force to replace it "
            "(nothing was downloaded or recorded)"
        )
    try:  # before the download is recorded on the ledger
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot write --out {out}: {exc.strerror or exc} (nothing was downloaded)")
    try:
        result = pull_model(config, member, task_id=task, version=version, out=out)
    except ProvenanceError as exc:
        fail(str(exc))
    p = result.provenance
    typer.echo(
        f"version {result.version} of task {result.task_id}: {result.out} "
        f"(sha256 {result.model_digest[:16]}…, matches the ledger)"
    )
    typer.echo(
        f"  attested AUROC {p.metric_bp / 100:.2f}% (gain {p.gain_bp:+d} bp, required "
        f"{p.required_gain_bp:+d} bp); updates from {', '.join(p.members) or 'none (initial)'}"
    )
    typer.echo(f"  provenance: {result.provenance_path}")
    typer.echo(f"  download recorded on the ledger: tx {result.download_tx_id[:16]}…")
