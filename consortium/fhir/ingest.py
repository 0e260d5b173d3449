"""Ingest: FHIR R4 input -> validated, anonymized, k-anonymous cohort table.

``ingest(paths, site, cohort, out, k=5)`` is the Python API (the CLI `consortium ingest` and
`make demo` call it). It writes, in ``out``:

- ``cohort.parquet``: the cohort table (format: ``consortium.datasets.heart`` / docs/ingest.md);
- ``report.json``: an :class:`IngestReport` (integer totals, no floats, never the key; when the
  run was written as ``written_ms``; what the table lacks as ``warnings``,
  `consortium.fhir.coverage`);
- ``quarantine/NNNNNN.json``: each rejected resource verbatim (``raw``), with its source file,
  position and the reason;
- ``secrets/pseudonym.key`` (unless ``key_path`` says otherwise): the site's HMAC key, created
  with mode 0600 on first use, never to be shared.

Nothing is lost: every resource read is either accepted or quarantined (``read == accepted +
quarantined``, per type too). Accepted resources that the cohort does not use are simply not in
the table; they are counted.

A run writes its quarantine into ``out/.quarantine.partial`` and replaces the earlier run's
quarantine, table and report only once it has finished: an interrupted or failed run leaves the
earlier run's outputs as they were (the next run clears the partial folder). A run holds an
exclusive lock on ``out`` (``out/.ingest.lock``, naming its pid) from before it clears the partial
folder until it has replaced the outputs: a second run into the same folder is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from consortium.anonymize.cohort_table import build_cohort_table, rows_aged_at_latest
from consortium.anonymize.pseudonym import PseudonymKeyError, fingerprint, load_or_create_key
from consortium.cli._errors import UserError
from consortium.fhir.cohort import CohortDefinition, CohortError, load_cohort
from consortium.fhir.coverage import cohort_warnings
from consortium.fhir.extract import CohortFacts
from consortium.fhir.reader import RawResource, collect_files, iter_file
from consortium.fhir.validate import model_class, validate_resource

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["IngestReport", "OnItem", "Progress", "TypeTally", "ingest", "skipped_text"]

Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while input is read."""
OnItem = Callable[[RawResource, str | None], None]
"""Called for every resource read with None (accepted) or the quarantine reason."""

PROGRESS_EVERY = 2000
SITE_NAME = re.compile(r"[A-Za-z0-9_-]+")  # ASCII only: str.isalnum also takes "ñ" and "١"


class TypeTally(BaseModel):
    """Counts of one resource type."""

    model_config = ConfigDict(extra="forbid")
    read: int = 0
    accepted: int = 0
    quarantined: int = 0


class IngestReport(BaseModel):
    """What one ingest run did (``report.json``)."""

    model_config = ConfigDict(extra="forbid")
    site: str
    cohort: str
    cohort_version: int
    files: int
    read: int
    accepted: int
    quarantined: int
    by_type: dict[str, TypeTally]
    used: int
    patients: int
    unlinked_patients: int
    # files in the input folders that are not FHIR JSON/NDJSON (by suffix), so not read
    skipped_files: dict[str, int] = Field(default_factory=dict)
    # what the table lacks because the input did (every label 0, a feature without any value,
    # ages not taken at the patients' own index dates: `consortium.fhir.coverage`); the run
    # completed, but its table may not be worth training on
    warnings: list[str] = Field(default_factory=list)
    k: int
    suppressed: int
    rows: int
    key_fingerprint: str
    elapsed_ms: int
    # when the run was written: UTC milliseconds since 1970, as the ledger's *_ms fields. The
    # report is a record of one run, not a reproducible artefact (elapsed_ms differs too): nothing
    # hashes, signs or compares its bytes, so the date is kept in it (docs/ingest.md)
    written_ms: int


class _Run:
    """Mutable state of one run: tallies, quarantine writer, cohort facts."""

    def __init__(self, out: Path, cohort: CohortDefinition, on_item: OnItem | None) -> None:
        self.quarantine_dir = out / PARTIAL
        self.on_item = on_item
        self.by_type: dict[str, TypeTally] = {}
        self.facts = CohortFacts(cohort)
        self.quarantined = 0

    def handle(self, item: RawResource) -> None:
        tally = self.by_type.setdefault(_type_name(item.resource_type), TypeTally())
        tally.read += 1
        reason = item.parse_error
        if reason is None and item.data is not None:
            reason = validate_resource(item.data)
            if reason is None:
                where = f"{item.source} {item.position}"
                reason = self.facts.add(item.data, item.full_url, item.bundle_urls, where)
        if reason is None:
            tally.accepted += 1
        else:
            tally.quarantined += 1
            self._quarantine(item, reason)
        if self.on_item is not None:
            self.on_item(item, reason)

    def _quarantine(self, item: RawResource, reason: str) -> None:
        self.quarantined += 1
        record = {
            "source": item.source,
            "position": item.position,
            # a lone surrogate escaped in the input has no UTF-8 form: write it as its escape
            "resourceType": item.resource_type.encode("utf-8", "backslashreplace").decode(),
            "error": reason,
            "raw": item.verbatim(),
        }
        path = self.quarantine_dir / f"{self.quarantined:06d}.json"
        text = json.dumps(record, ensure_ascii=False, indent=1)
        path.write_text(text, encoding="utf-8", errors="surrogateescape")  # bytes as given


def _type_name(resource_type: str) -> str:
    """The report's name of a resource type: a FHIR type (R4B, R5, STU3) as given; any other
    string is free input text (it may hold a name or a record number) and becomes "(unknown)"."""
    if resource_type.startswith("(") or any(
        model_class(release, resource_type) is not None for release in ("R4B", "R5", "STU3")
    ):
        return resource_type
    return "(unknown)"


def ingest(
    paths: Sequence[Path | str],
    site: str,
    cohort: str | Path,
    out: Path | str,
    k: int = 5,
    *,
    key_path: Path | None = None,
    progress: Progress | None = None,
    on_item: OnItem | None = None,
) -> IngestReport:
    """Ingest FHIR files/folders ``paths`` of ``site`` into ``out`` for ``cohort`` with k-anonymity.

    Raises :class:`UserError` (one line: what is wrong, what to do) when it cannot run.
    """
    started = time.monotonic()
    definition, files, skipped, out_dir = _prepare(paths, site, cohort, Path(out), k)
    with _exclusive(out_dir):
        _check_same_site(out_dir, site)  # again: a run that just ended may have written its report
        _clear_partial(out_dir)
        key = _site_key(out_dir, key_path)
        run = _Run(out_dir, definition, on_item)
        try:
            _read_all(files, run, progress)
            if not run.by_type:  # empty files only: do not replace an earlier run with nothing
                shutil.rmtree(out_dir / PARTIAL, ignore_errors=True)
                raise UserError(
                    f"read no FHIR resource from the {len(files)} input file(s): they are empty; "
                    f"nothing was changed in {out_dir}"
                )
            table, suppressed = build_cohort_table(run.facts, site=site, key=key, k=k)
            report = _report(
                run, definition, site, len(files), k, suppressed, len(table), key, started
            )
            report.skipped_files = dict(sorted(skipped.items()))
            report.warnings = _warnings(run, definition, table, site, key)
            table.to_parquet(out_dir / ".cohort.parquet.partial", index=False)
            text = report.model_dump_json(indent=2) + "\n"
            (out_dir / ".report.json.partial").write_text(text, encoding="utf-8")
            _commit(out_dir)
        except OSError as exc:  # disk full, permissions changed mid-run: the input is untouched
            where = f" ({exc.filename})" if exc.filename else ""
            raise UserError(
                f"ingest stopped writing to {out_dir}{where}: {exc.strerror or exc}"
            ) from exc
    return report


def _warnings(
    run: _Run, definition: CohortDefinition, table: pd.DataFrame, site: str, key: bytes
) -> list[str]:
    """What the released ``table`` lacks because the input did (`consortium.fhir.coverage`)."""
    accepted = {name: tally.accepted for name, tally in run.by_type.items()}
    return cohort_warnings(
        definition,
        table,
        accepted,
        dated=run.facts.latest is not None,
        aged_at_latest=rows_aged_at_latest(run.facts, table, site=site, key=key),
    )


def _prepare(
    paths: Sequence[Path | str], site: str, cohort: str | Path, out: Path, k: int
) -> tuple[CohortDefinition, list[Path], Counter[str], Path]:
    if k < 1:
        raise UserError(f"--k must be at least 1 (got {k})")
    if not SITE_NAME.fullmatch(site):
        raise UserError(f"--site {site!r}: use a short name of ASCII letters, digits, - or _")
    try:
        definition = load_cohort(cohort)
    except CohortError as exc:
        raise UserError(str(exc)) from exc
    inputs = [Path(p) for p in paths]
    missing = [p for p in inputs if not p.exists()]
    if missing:
        raise UserError(
            f"input {missing[0]} does not exist; give FHIR JSON/NDJSON files or folders"
        )
    skipped: Counter[str] = Counter()
    files = collect_files(inputs, skipped)
    if not files:
        raise UserError(
            "no readable input: no .json, .ndjson or .jsonl files (or .gz of them) in the given "
            f"paths{skipped_text(skipped)}"
        )
    _check_same_site(out, site)  # before anything is written in another site's folder
    _check_out(out.resolve(), inputs)
    return definition, files, skipped, out


def skipped_text(skipped: Mapping[str, int]) -> str:
    """``; skipped …`` naming the files of the input folders that are not read, or nothing."""
    if not skipped:
        return ""
    each = ", ".join(f"{n} {suffix}" for suffix, n in sorted(skipped.items()))
    xml = " (FHIR XML is not read: export JSON or NDJSON)" if ".xml" in skipped else ""
    n = sum(skipped.values())
    files = "file that is" if n == 1 else "files that are"
    return f"; skipped {n} {files} not FHIR JSON/NDJSON: {each}{xml}"


def _earlier(out: Path, field: str) -> object:
    """``field`` of the report an earlier run left in ``out``, or None."""
    try:
        return json.loads((out / "report.json").read_text(encoding="utf-8")).get(field)
    except (OSError, ValueError, AttributeError):
        return None  # no earlier report that says whose folder it is


def _check_same_site(out: Path, site: str) -> None:
    """An output folder holds one site's cohort and pseudonym key: refuse another site's."""
    earlier = _earlier(out, "site")
    if earlier and earlier != site:
        raise UserError(
            f"--out {out} holds the cohort and pseudonym key of site {earlier!r}; ingest "
            f"{site!r} into its own folder (nothing was changed)"
        )


def _check_out(out: Path, inputs: list[Path]) -> None:
    for path in inputs:
        folder = path.resolve()
        if path.is_dir() and (out == folder or folder in out.parents):
            raise UserError(
                f"--out {out} is inside the input folder {folder}; choose an output folder "
                "outside the input, so that outputs are never read back as input"
            )
    if out.exists() and not out.is_dir():
        raise UserError(
            f"--out {out} is a file: give a folder (ingest writes cohort.parquet, report.json and "
            "quarantine/ in it)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` while a run writes there (`consortium.pidlock`): a second
    run would clear this one's quarantine while it is written."""
    from consortium.pidlock import LockHeld, pid_lock

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(pid_lock(out / LOCK))
        except LockHeld as busy:
            raise UserError(f"another ingest is writing to {out}{busy.by}; wait for it") from None
        except OSError as exc:  # creating the lock file (it names the file) or locking it
            what = "write to" if exc.filename else "lock"
            raise UserError(f"cannot {what} --out {out}: {exc.strerror or exc}") from exc
        yield


def _clear_partial(out: Path) -> None:
    try:
        shutil.rmtree(out / PARTIAL, ignore_errors=True)  # left by an interrupted run
        (out / PARTIAL).mkdir(mode=0o700)  # holds identifiable input
        (out / PARTIAL).chmod(0o700)  # whatever the umask
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc


PARTIAL = ".quarantine.partial"
LOCK = ".ingest.lock"


def _commit(out: Path) -> None:
    """Put the finished run in place of the earlier one: quarantine, then table, then report."""
    earlier = out / ".quarantine.earlier"
    shutil.rmtree(earlier, ignore_errors=True)
    if (out / "quarantine").exists():
        (out / "quarantine").rename(earlier)
    (out / PARTIAL).rename(out / "quarantine")
    shutil.rmtree(earlier, ignore_errors=True)
    (out / ".cohort.parquet.partial").replace(out / "cohort.parquet")
    (out / ".report.json.partial").replace(out / "report.json")


def _site_key(out: Path, key_path: Path | None) -> bytes:
    """The pseudonym key for a run into ``out``: the one its earlier cohort was made with.

    The pids decide the held-out split (`learning.data.holdout_split`) and link a patient across
    exports: a new key, from a mistyped ``--key`` or a deleted default key file, would move rows
    between training and held-out. Refused before a key is created or anything is replaced."""
    default = out / "secrets" / "pseudonym.key"
    path = key_path or default
    earlier = _earlier(out, "key_fingerprint")
    if not earlier:  # a first run (or a report without a key): any key, created if absent
        return _key(path)
    why = (
        f"{out} holds a cohort made with the key {earlier}, and another key gives every patient "
        "another pid (moving rows between training and held-out)"
    )
    what = (
        f"give the key file it was made with (--key FILE, or restore {default} from its "
        "backup), or ingest into a new --out folder; nothing was changed"
    )
    if not path.exists():
        raise UserError(f"the pseudonym key {path} does not exist, but {why}: {what}")
    key = _key(path)
    if fingerprint(key) != earlier:
        found = fingerprint(key)
        raise UserError(f"the pseudonym key {path} is the key {found}, but {why}: {what}")
    return key


def _key(path: Path) -> bytes:
    try:
        return load_or_create_key(path)
    except PseudonymKeyError as exc:
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"cannot create the pseudonym key {path}: {exc.strerror or exc}") from exc


def _read_all(files: list[Path], run: _Run, progress: Progress | None) -> None:
    total = sum(_size(f) for f in files)
    done = 0
    for path in files:
        for count, item in enumerate(_read_file(path), start=1):
            run.handle(item)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(done + min(_size(path), count * 400), total)
        done += _size(path)
        if progress is not None:
            progress(done, total)


def _read_file(path: Path) -> Iterator[RawResource]:
    """The resources of ``path``; a read error (also a truncated or corrupt gzip, or a UTF-16 file
    that is not valid UTF-16) becomes one more item to quarantine (an OSError raised while
    *writing* is not caught here: it stops the run)."""
    items = iter_file(path)
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except (OSError, EOFError, zlib.error) as exc:
            yield RawResource(str(path), "file", "", parse_error=f"unreadable: {exc}")
            return
        except UnicodeDecodeError as exc:  # only UTF-16 decodes strictly (see iter_file)
            reason = f"unreadable: not valid UTF-16 ({exc.reason}); re-export it as UTF-8"
            yield RawResource(str(path), "file", "", parse_error=reason)
            return
        yield item


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _report(
    run: _Run,
    definition: CohortDefinition,
    site: str,
    files: int,
    k: int,
    suppressed: int,
    rows: int,
    key: bytes,
    started: float,
) -> IngestReport:
    tallies = dict(sorted(run.by_type.items()))
    return IngestReport(
        site=site,
        cohort=definition.cohort,
        cohort_version=definition.version,
        files=files,
        read=sum(t.read for t in tallies.values()),
        accepted=sum(t.accepted for t in tallies.values()),
        quarantined=sum(t.quarantined for t in tallies.values()),
        by_type=tallies,
        used=run.facts.used,
        patients=len(run.facts.patients),
        unlinked_patients=run.facts.unlinked(),
        k=k,
        suppressed=suppressed,
        rows=rows,
        key_fingerprint=fingerprint(key),
        elapsed_ms=int((time.monotonic() - started) * 1000),
        written_ms=time.time_ns() // 1_000_000,
    )
