"""`consortium task`: publish a learning task and list the tasks (consortium data scientists)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from consortium.cli._errors import fail
from consortium.cli._identity import any_keyed_identity, require_key
from consortium.cli.app import app

task_app = typer.Typer(
    rich_markup_mode=None, help="Learning tasks: write a template, publish one, list them."
)
app.add_typer(task_app, name="task")

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR", help="Consortium directory."
    ),
]


@task_app.command("template")
def template_command(
    task_id: Annotated[str, typer.Option("--task-id", help="Identifier of the new task.")],
    title: Annotated[str, typer.Option("--title", help="What the task learns.")] = "",
    cohort: Annotated[str, typer.Option("--cohort", help="Cohort definition.")] = "heart",
) -> None:
    """Print a task's parameters with the defaults, as JSON to edit and then publish."""
    from pydantic import ValidationError

    from consortium.config import validation_text
    from consortium.federation.publish import TaskParams, task_record
    from consortium.fhir.cohort import CohortError

    try:  # what `task publish` would refuse, refused before the file is written and edited
        params = TaskParams(task_id=task_id, title=title or task_id, cohort=cohort)
        task_record(params, "0" * 64, "0" * 64)
    except ValidationError as exc:
        fail(f"{validation_text(exc)} (nothing was printed)")
    except CohortError as exc:
        fail(f"--cohort: {exc} (nothing was printed)")
    typer.echo(json.dumps(params.model_dump(mode="json"), indent=2))


@task_app.command("publish")
def publish_command(
    params_file: Annotated[Path, typer.Argument(help="Task parameters (JSON, see `template`).")],
    directory: DirOption = Path("."),
    as_member: Annotated[
        str,
        typer.Option(
            "--as", help="The admin identity that publishes (its private key must be here)."
        ),
    ] = "admin",
) -> None:
    """Build version 0 of the model, store it encrypted, and publish the task on the ledger."""
    from pydantic import ValidationError

    from consortium.config import ConfigError, ConsortiumConfig, validation_text
    from consortium.federation.publish import TaskParams, publish_task
    from consortium.fhir.cohort import CohortError
    from consortium.ledger.base import ContractError, LedgerRejected

    try:
        params = TaskParams.model_validate_json(params_file.read_bytes())
        config = ConsortiumConfig.load(directory)
        require_key(config, as_member, role="admin")  # before version 0 is built
        published = publish_task(config, as_member, params)
    except FileNotFoundError as exc:
        fail(f"{exc.filename or exc}: not found (give the parameters file and --dir)")
    except IsADirectoryError:
        fail(f"{params_file} is a folder: give the task's JSON file (`consortium task template`)")
    except ValidationError as exc:
        fail(f"{params_file}: {validation_text(exc)} (fix the file and publish again)")
    except CohortError as exc:
        fail(f"{params_file}: cohort: {exc} (fix the file and publish again)")
    except ConfigError as exc:
        fail(str(exc))
    except LedgerRejected as exc:
        _refused(params_file, exc.result.code, exc.result.message)
    except ContractError as exc:  # a query on the way, e.g. this member's key share
        if exc.code in ("TASK_EXISTS", "MISSING_ROLE"):  # read before anything was stored
            _refused(params_file, exc.code, exc.message)
        advice = ""
        if exc.code == "SHARE_NOT_FOUND":
            advice = (" (the consortium's keys were never shared on this ledger: on Fabric, "
                      "`consortium fabric share-keys --as admin`)")  # fmt: skip
        fail(f"cannot publish the task: {exc}{advice}")
    task = published.task
    typer.echo(
        f"published task {task['task_id']!r} (tx {published.tx_id[:16]}): version 0 "
        f"{task['initial_model_digest'][:16]}, ε budget {task['epsilon_budget']} per member"
    )
    if published.quorum_unreachable:
        typer.echo(
            f"warning: quorum {task['quorum']} needs more verifiers besides a submitter than the "
            f"{published.verifiers} the consortium has: every update will be refused "
            "(NO_COMMITTEE) until verifiers join (`consortium member add NAME --role verifier`)",
            err=True,
        )


def _refused(params_file: Path, code: str, message: str) -> NoReturn:
    """The ledger refused the task (or holds its id already): why, and what to do."""
    advice = {
        "TASK_EXISTS": f"; give {params_file} another task_id (`consortium task list` shows "
        "those taken)",
        "MISSING_ROLE": "; publish as an admin of the consortium (--as NAME)",
    }.get(code, "")
    fail(f"the ledger refused the task: {code}: {message}{advice}")


@task_app.command("list")
def list_command(
    directory: DirOption = Path("."),
    as_member: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="The identity to read the ledger as [default: the first by name whose private "
            "key is here].",
        ),
    ] = None,
) -> None:
    """List the tasks on the ledger with their current version."""
    from consortium.config import ConfigError, ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    try:
        config = ConsortiumConfig.load(directory)
        if as_member is not None:
            require_key(config, as_member)
        reader = as_member or any_keyed_identity(config)
        ledger = open_ledger(config, reader)
    except ConfigError as exc:
        fail(str(exc))
    try:
        for task in ledger.evaluate("ListTasks", {}):
            head = ledger.evaluate("GetHead", {"task_id": task["task_id"]})
            typer.echo(f"{task['task_id']:<20} version {head['height']:>4}  {task['title']}")
    finally:
        ledger.close()
