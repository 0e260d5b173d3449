"""`consortium train`: train a model on one cohort alone (a hospital's own model, and the baseline
that federated learning must beat), with DP-SGD by default. Several ``--cohort`` folders are pooled
(what centralizing the data would give: the upper reference for federated learning).

Reads ``DIR/cohort.parquet`` (the output of `consortium ingest`), holds out 20 % (stratified,
keyed on pids, see `consortium.learning.data`), trains, and writes ``OUT/model.safetensors`` and
``OUT/report.json`` (canonical JSON: metrics in basis points, ε as a decimal string). The privacy
accountant is persisted under ``--state-dir`` (default: the ``--cohort`` folder, i.e. with the
patients, not with the output): training twice on the same data composes whatever ``--out`` is,
and a run that would pass ``--epsilon`` is refused.

A hospital's node.toml may cap all training on its patients (``site_epsilon_budget``,
`consortium.privacy.site`). The node is the ``--member`` (found as `consortium node run` finds it),
or else the one whose folder holds the ``--cohort`` folder (``DIR/members/NAME/cohort``, where a
node reads its cohort). A DP run is then checked against the cap before its first step, and its
accountant must be kept where the node counts it. Without such a node there is no cap, and the
output says so.

A run without DP has no finite ε, so under a cap it is refused unless ``--outside-site-budget``
says it is a baseline kept on the site; it is then recorded beside the accountants
(`consortium.privacy.site`, ``non-private.json``) before its model is written, and the node's
site report counts it.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.learning.alone import AloneOptions, AloneReport
    from consortium.learning.evaluate import Metrics
    from consortium.privacy.accountant import AccountingChanged
    from consortium.privacy.site import SiteBudget

# Above this a DP guarantee says nothing (e^1000), and the PRV accountant's grid for a budget of
# 10⁹ or ∞ does not fit in memory; a run meant to be non-private is --no-dp.
MAX_EPSILON = 1000.0


def _read_cohorts(folders: list[Path], definition: str | None) -> tuple[Any, str]:
    """One cohort table, or several pooled (rows of all sites, keyed by (site, pid))."""
    import pandas as pd

    tables, names = zip(*(_read_cohort(f, definition) for f in folders), strict=True)
    if len(set(names)) > 1:
        fail(f"the cohorts use different definitions {sorted(set(names))}: pool only one kind")
    return pd.concat(tables, ignore_index=True), names[0]


def _read_cohort(cohort_dir: Path, definition: str | None) -> tuple[Any, str]:
    import pandas as pd

    table_path = cohort_dir / "cohort.parquet"
    if cohort_dir.is_file():
        fail(
            f"--cohort {cohort_dir} is a file: give the folder it is in, the --out folder of "
            f"`consortium ingest` (--cohort {cohort_dir.parent})"
        )
    if not table_path.is_file():
        fail(
            f"no cohort table at {table_path}: point --cohort at the --out folder of "
            "`consortium ingest`"
        )
    name = definition
    report = cohort_dir / "report.json"
    try:
        if name is None and report.is_file():
            name = json.loads(report.read_text(encoding="utf-8")).get("cohort")
        table = pd.read_parquet(table_path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid and JSON errors are ValueErrors
        fail(
            f"cannot read the cohort in {cohort_dir}: {exc}; point --cohort at an intact --out "
            "folder of `consortium ingest` (or ingest again)"
        )
    if table.empty:
        fail(
            f"the cohort table {table_path} has no rows: nothing to train on; point --cohort at "
            "the --out folder of a `consortium ingest` that kept rows (its report.json says how "
            "many were quarantined or suppressed)"
        )
    return table, name or "heart"


def _both_classes(table: Any, folders: list[Path]) -> None:
    """Refuse a training table whose labels are all one class: the model would learn to answer
    that class to everyone, its held-out AUROC is undefined, and the run would still spend ε. An
    ingest of Patient resources alone gives such a table (every label 0; docs/ingest.md)."""
    if "label" not in table or table.empty:
        return  # refused later, with its own reason (a column missing from the definition)
    labels = set(table["label"].dropna().unique().tolist())
    if len(labels) != 1:
        return
    value = labels.pop()
    where = ", ".join(map(str, folders))
    cohort = "cohort" if len(folders) == 1 else "pooled cohorts"
    fail(
        f"every row of the {cohort} in {where} has label {value} ({len(table)} rows): a model "
        "cannot learn from one class, and its held-out AUROC would be undefined. The label comes "
        "from the patients' Condition resources: ingest the export with them (e.g. "
        "Condition.ndjson beside Patient.ndjson) and read the warnings of `consortium ingest` "
        '(docs/ingest.md, "What the cohort lacks"); nothing was trained or spent'
    )


def _node_folder(member: str | None, directory: Path, cohort: list[Path]) -> Path | None:
    """The folder of the hospital node whose patients these are (see the module docstring)."""
    from consortium.node.settings import SETTINGS_NAME

    if member is not None:
        from consortium.config import ConfigError, ConsortiumConfig
        from consortium.node.open import member_dir

        try:
            return member_dir(ConsortiumConfig.load(directory), member)
        except ConfigError as exc:
            fail(f"--member {member}: {exc}")
    if len(cohort) == 1 and (cohort[0].parent / SETTINGS_NAME).is_file():
        return cohort[0].parent
    return None


def _site_budget(node: Path | None) -> tuple[SiteBudget, Path] | None:
    """The node's cap on all training on its patients, and its node.toml; says which, once."""
    from consortium.node.settings import SETTINGS_NAME, load_settings, site_budget_of

    if node is None:
        typer.echo("no site budget: no node.toml caps the ε spent on these patients (--member "
                   "NAME names the hospital's node)")  # fmt: skip
        return None
    toml = node / SETTINGS_NAME
    try:
        site = site_budget_of(node, load_settings(node))
    except ValueError as exc:
        fail(f"{exc}: fix it (its site budget would cap this run); nothing was trained or spent")
    if site is None:
        typer.echo(f"no site budget: {toml} sets no site_epsilon_budget")
        return None
    typer.echo(f"site budget: ε={site.epsilon:g} (δ={site.delta:g}) on all training on these "
               f"patients, from {toml}")  # fmt: skip
    return site, toml


def _counted_by(site: SiteBudget, folder: Path, flag: str) -> None:
    """Refuse to keep a run's record where the site budget (and so the node) would not count it."""
    if not site.counts(folder):
        fail(
            f"{flag} {folder}: the site budget would not count a run kept there (it reads the "
            f"folders {', '.join(map(str, site.roots))}): train on the node's cohort folder or "
            f"give --state-dir {site.roots[-1]}; nothing was trained or spent"
        )


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        fail(f"--hidden {text!r}: give layer widths separated by commas, e.g. 32,16")
    if any(s < 1 for s in sizes):
        fail(f"--hidden {text!r}: widths must be positive")
    return sizes


@app.command("train")
def train_command(
    cohort: Annotated[
        list[Path],
        typer.Option(
            "--cohort",
            metavar="DIR",
            help="Folder of `consortium ingest` output; repeat --cohort to pool several.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for model.safetensors + report.json.")],
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="ε budget of this cohort and task (DP).")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", help="δ of the DP guarantee.")] = 1e-5,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training rows.")] = 20,
    no_dp: Annotated[
        bool, typer.Option("--no-dp", help="Train without differential privacy (baseline only).")
    ] = False,
    outside_site_budget: Annotated[
        bool,
        typer.Option(
            "--outside-site-budget",
            help="With --no-dp under a site budget: train anyway, recorded as non-private.",
        ),
    ] = False,
    definition: Annotated[
        str | None, typer.Option("--definition", help="Cohort definition name or JSON path.")
    ] = None,
    hidden: Annotated[str, typer.Option("--hidden", help="Hidden layer widths.")] = "16",
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate.")] = 0.05,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Expected batch size.")] = 64,
    max_grad_norm: Annotated[float, typer.Option("--max-grad-norm", help="DP clip norm.")] = 1.0,
    accountant: Annotated[str, typer.Option("--accountant", help="prv or rdp.")] = "prv",
    seed: Annotated[
        int | None, typer.Option("--seed", help="For reproducible runs (keep it private).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a model already in --out.")
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir", help="Where the accountant lives [default: the cohort folder]."
        ),
    ] = None,
    task_id: Annotated[
        str, typer.Option("--task-id", help="Task the budget belongs to.")
    ] = "local",
    eval_cohort: Annotated[
        list[Path] | None,
        typer.Option(
            "--eval-cohort",
            metavar="DIR",
            help="Also evaluate on this cohort's held-out rows; repeat for several.",
        ),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option("--member", help="The hospital whose node.toml site budget caps this run."),
    ] = None,
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            "--consortium",
            "-C",
            envvar="CONSORTIUM_DIR",
            help="Consortium directory (with --member).",
        ),
    ] = Path("."),
) -> None:
    """Train a model on one cohort alone; print held-out metrics and ε; write model and report."""
    if not no_dp and epsilon is None:
        fail("give --epsilon (the privacy budget) or --no-dp for a non-private baseline")
    if outside_site_budget and not no_dp:
        fail("--outside-site-budget is for --no-dp runs: a DP run is held to the site budget")
    if epsilon is not None and not (math.isfinite(epsilon) and 0 < epsilon <= MAX_EPSILON):
        fail(f"--epsilon {epsilon:g}: must be > 0 and at most {MAX_EPSILON:g} (a budget above "
             "it protects nobody); for a model without privacy, --no-dp")  # fmt: skip
    if not 0 < delta < 1:
        fail(f"--delta {delta}: must be between 0 and 1 (typically below 1/rows)")
    if accountant not in ("prv", "rdp"):
        fail(f"--accountant {accountant!r}: use prv or rdp")
    for flag, count, example in (("--epochs", epochs, 20), ("--batch-size", batch_size, 64)):
        if count < 1:
            fail(f"{flag} {count}: must be at least 1, e.g. {flag} {example} (nothing was "
                 "trained or spent)")  # fmt: skip
    _positive("--lr", lr, "the learning rate", "0.05")
    _positive("--max-grad-norm", max_grad_norm, "the clip norm of each example's gradient", "1.0")
    from consortium.learning.alone import AloneOptions, evaluate_elsewhere
    from consortium.privacy.accountant import spent_text

    # the inputs first: a missing cohort is the one thing to say, not after a line on the budget
    table, cohort_name = _read_cohorts(cohort, definition)
    _both_classes(table, cohort)
    other = _read_cohorts(eval_cohort, cohort_name)[0] if eval_cohort else None
    kept = "--cohort" if state_dir is None else "--state-dir"
    if state_dir is None and not no_dp:
        if len(cohort) > 1:
            fail("pooling cohorts under DP: give --state-dir (the pooled patients' accountant)")
        state_dir = cohort[0]  # the budget belongs to these patients, not to an output folder
    found = _site_budget(_node_folder(member, directory, cohort))
    record = state_dir or (cohort[0] if len(cohort) == 1 else None)  # the accountant, or the log
    if found is not None:
        if record is None:
            fail("pooling cohorts under a site budget: give --state-dir (where the run is kept)")
        _counted_by(found[0], record, kept)
        if no_dp and not outside_site_budget:
            fail(
                f"--no-dp: {found[1]} caps all training on these patients at "
                f"ε={found[0].epsilon:g} (site_epsilon_budget), and a model trained without DP "
                "has no finite ε. Give --epsilon to train within the cap, or add "
                "--outside-site-budget for a baseline that stays on this site: the run is then "
                f"recorded in {record / 'privacy'} and the node's site report counts it. Nothing "
                "was trained"
            )
    options = AloneOptions(
        cohort_name=cohort_name,
        dp=not no_dp,
        epsilon=epsilon,
        delta=delta,
        epochs=epochs,
        hidden=_hidden(hidden),
        lr=lr,
        batch_size=batch_size,
        max_grad_norm=max_grad_norm,
        accountant="rdp" if accountant == "rdp" else "prv",
        seed=seed,
        state_dir=state_dir or out,
        task_id=task_id,
    )
    made: list[Path] = []
    with _removed_if_refused(made):  # a refused run leaves no empty folder of its own behind
        for folder, flag in ((out, "--out"), (options.state_dir, "--state-dir")):
            _writable_folder(folder, flag, made)  # before any ε is spent on a model not kept
        if (out / "model.safetensors").exists() and not force:
            fail(f"--out {out} holds a model already: give another --out, or --force to replace "
                 "it (nothing was trained or spent)")  # fmt: skip
        report, data, metrics = _train_and_write(table, options, found, record, out, cohort)
    typer.echo(f"held-out {metrics.summary()}")
    if other is not None:
        elsewhere = evaluate_elsewhere(other, cohort_name, data)
        where = ", ".join(map(str, eval_cohort or []))
        typer.echo(f"held-out of {where}: {elsewhere.summary()}")
    if report.dp:
        typer.echo(
            f"ε spent {report.epsilon_spent} of {report.epsilon_budget} (δ={report.delta}, "
            f"{report.accountant}, σ={report.noise_multiplier}, {report.steps} steps)"
        )
        if found is not None:
            site = found[0]
            spent = spent_text(site.epsilon_spent())
            typer.echo(f"site budget: ε {spent} of {site.epsilon:g} spent on "
                       "these patients, over every task and local training")  # fmt: skip
    else:
        typer.echo("no differential privacy: this model is a baseline, do not release it")
    typer.echo(
        f"wrote {out / 'model.safetensors'} (sha256 {report.model_digest}) and "
        f"{out / 'report.json'}"
    )


def _train_and_write(
    table: Any,
    options: AloneOptions,
    found: tuple[SiteBudget, Path] | None,
    record: Path | None,
    out: Path,
    cohort: list[Path],
) -> tuple[AloneReport, bytes, Metrics]:
    """Train (refusals first: nothing spent), record a run without DP under a site budget, then
    write the model and its report into ``out``."""
    from consortium.fhir.cohort import CohortError
    from consortium.learning.alone import train_alone
    from consortium.privacy.accountant import (
        AccountingChanged,
        BudgetExceeded,
        SiteBudgetExceeded,
    )

    task_id = options.task_id
    try:
        report, data, metrics = train_alone(table, options, site=found[0] if found else None)
    except SiteBudgetExceeded as exc:
        assert found is not None
        fail(f"{exc} For this run, a smaller --epsilon spends less (more noise per step; "
             f"under a new --task-id if {options.state_dir}/privacy/{task_id} already holds "
             f"another --epsilon); the site's budget is site_epsilon_budget in "
             f"{found[1]}.")  # fmt: skip
    except BudgetExceeded as exc:
        fail(f"{exc} (accountant under {options.state_dir}/privacy/{task_id})")
    except AccountingChanged as exc:
        fail(_changed(exc, task_id))
    except (CohortError, ValueError) as exc:
        fail(f"cannot train on {', '.join(map(str, cohort))}: {exc}")
    if found is not None and not report.dp:
        assert record is not None
        _record_non_private(found[0], record, out, report)  # before the model exists
    _write(out, report, data)
    return report, data, metrics


@contextmanager
def _removed_if_refused(made: list[Path]) -> Iterator[None]:
    """On a refusal (or any error, or Ctrl-C) inside, remove the folders in ``made``, those this
    run created, deepest first and only while empty: ``rmdir`` never removes a folder that holds
    anything, and a folder the user had is never in ``made``."""
    try:
        yield
    except BaseException:
        for folder in sorted(made, key=lambda path: len(path.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _positive(flag: str, value: float, what: str, example: str) -> None:
    """Refuse a float option that is not a finite number above 0, before anything is spent: a
    NaN or infinite step size or clip norm reached DP-SGD, spent ε and left no model."""
    if not (math.isfinite(value) and value > 0):
        fail(f"{flag} {repr(value).removesuffix('.0')}: {what} must be a finite number greater "
             f"than 0, e.g. {flag} {example} (nothing was trained or spent)")  # fmt: skip


def _changed(exc: AccountingChanged, task_id: str) -> str:
    """A run that asks a started accountant for another budget, δ or accountant: what to give."""
    flag = {"epsilon_budget": "--epsilon", "delta": "--delta", "accountant": "--accountant"}
    name = flag.get(exc.field, exc.field)
    return (
        f"the accountant {exc.path} of task {task_id!r} was started with {name} {exc.stored} "
        f"(this run: {exc.given}), and a task's accounting cannot change midway: give {name} "
        f"{exc.stored} to spend what is left of it, or another --task-id for a separate budget "
        "(its ε adds to what these patients have spent: docs/training.md). Nothing was trained "
        "or spent"
    )


def _writable_folder(folder: Path, flag: str, made: list[Path]) -> None:
    """Create ``folder`` (and its missing parents) now, so that a folder that cannot be written is
    refused before any ε is spent; add to ``made`` the folders this created."""
    if folder.exists() and not folder.is_dir():
        fail(f"{flag} {folder} is a file: give a folder (nothing was trained or spent)")
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot write to {flag} {folder}: {exc.strerror or exc} (nothing was spent)")
    finally:
        made.extend(path for path in missing if path.is_dir())


def _record_non_private(site: SiteBudget, folder: Path, out: Path, report: Any) -> None:
    from datetime import UTC, datetime

    from consortium.privacy.site import NonPrivateRun

    run = NonPrivateRun(
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        model_digest=report.model_digest,
        out=str(out.resolve()),
        sites=report.sites,
        train_rows=report.train_rows,
    )
    try:
        site.record_non_private(folder, run)
    except (OSError, ValueError) as exc:
        fail(f"cannot record this run without DP in {folder}: {exc}; no model was written")
    typer.echo(f"recorded as a run without DP, outside the site budget, in {folder / 'privacy'}")


def _write(out: Path, report: Any, data: bytes) -> None:
    from consortium.canonical import canonical_json

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.safetensors").write_bytes(data)
        (out / "report.json").write_bytes(canonical_json(report) + b"\n")
    except OSError as exc:
        fail(f"cannot write to --out {out}: {exc.strerror or exc}")
