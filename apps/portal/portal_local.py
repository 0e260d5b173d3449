"""What the portal reads from this member's own folder: ingest runs, quarantine, privacy store.

Layouts read (written by other parts of consortium; found by searching the member folder, so a run
written anywhere under it shows up):

- an **ingest run** is a folder holding ``report.json`` (dated by its ``written_ms``, or by its
  modification time when it has none: `run_date`), optionally ``quarantine/`` (the resources
  that failed validation, each with a reason) and ``cohort.parquet`` (the anonymized cohort);
- the **privacy accountant store** is ``<state>/privacy/<task_id>/<member_id>.json``
  (`consortium.privacy.accountant.AccountantStore`).

Privacy: quarantined files are raw input and may carry direct identifiers (that is often *why*
they were quarantined), so only their name, size and reason are listed; their content is read
only by `quarantine_file`, which the Data page calls for a hospital of this member. The cohort is
summarized by row count and column names, never rows: even anonymized rows are not for a browser.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portal_data import IngestRun, QuarantineItem

from consortium.node.lock import LOCK_NAME

__all__ = [
    "accountant_files",
    "ingest_runs",
    "ingest_warnings",
    "node_process",
    "quarantine_file",
    "quarantine_items",
    "redact",
    "run_date",
    "run_labels",
    "site_budget",
]

_REASON_KEYS = ("reason", "reasons", "error", "errors", "message")
# Validation messages quote the offending input (pydantic: "input_value='Jane Doe'"), and that
# input may be a name, an address or a record number. Quoted literals and long digit runs are
# replaced before a reason reaches the browser; the field path and the rule broken stay readable.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_INPUT_VALUE = re.compile(r"input_value=[^,\]]*")
_DIGITS = re.compile(r"\d{5,}")
_HEX = re.compile(r"[0-9a-f]{8,128}")


def redact(text: str) -> str:
    """A reason with quoted values, pydantic's input values and long digit runs removed."""
    text = _INPUT_VALUE.sub("input_value=[redacted]", text)
    text = _QUOTED.sub("[redacted]", text)
    return _DIGITS.sub("[redacted]", text)[:500]


def _reason_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_reason_text(v) for v in value)
    if isinstance(value, dict):
        for key in _REASON_KEYS:
            if key in value:
                return _reason_text(value[key])
        return json.dumps(value, sort_keys=True)[:300]
    return str(value)


def _reasons_from_report(report: dict[str, Any]) -> dict[str, str]:
    """File name -> reason, from whatever list of quarantined entries the report holds."""
    out: dict[str, str] = {}
    entries = report.get("quarantine") or report.get("quarantined") or []
    if isinstance(entries, dict):
        entries = [{"file": k, "reason": v} for k, v in entries.items()]
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("file") or entry.get("path") or entry.get("name") or entry.get("id")
        if name:
            out[Path(str(name)).name] = _reason_text(entry)
    return out


def _quarantine_record(path: Path) -> dict[str, Any]:
    """The metadata of a quarantine record written by `consortium.fhir.ingest` (``error``,
    ``resourceType``, ``source``, ``position``); its ``raw`` resource is deliberately not kept."""
    if path.suffix != ".json":
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(record, dict) or "error" not in record:
        return {}
    return {
        "reason": _reason_text(record["error"]),
        "resource_type": str(record.get("resourceType") or ""),
        "source": Path(str(record.get("source") or "")).name,
        "position": str(record.get("position") or ""),
    }


def _sidecar_reason(path: Path) -> str:
    for sidecar in (path.parent / f"{path.name}.reason.json", path.with_suffix(".reason.json")):
        if sidecar.is_file():
            return _reason_text(json.loads(sidecar.read_text(encoding="utf-8")))
    txt = path.parent / f"{path.name}.reason.txt"
    return txt.read_text(encoding="utf-8").strip() if txt.is_file() else ""


def quarantine_items(run_dir: Path, report: dict[str, Any]) -> list[QuarantineItem]:
    """Quarantined resources of a run with their (redacted) reasons and origin."""
    folder = run_dir / "quarantine"
    if not folder.is_dir():
        return []
    reasons = _reasons_from_report(report)
    items = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if ".reason" in path.name:
            continue
        meta = _quarantine_record(path)
        reason = meta.pop("reason", "") or reasons.get(path.name, "") or _sidecar_reason(path)
        meta = {k: redact(v) for k, v in meta.items()}
        items.append(
            QuarantineItem(
                name=str(path.relative_to(folder)),
                size_bytes=path.stat().st_size,
                reason=redact(reason) or "no reason recorded",
                **meta,
            )
        )
    return items


def _cohort_shape(path: Path) -> tuple[int | None, list[str]]:
    if not path.is_file():
        return None, []
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path)
    return meta.metadata.num_rows, list(meta.schema_arrow.names)


def ingest_runs(member_dir: Path) -> list[IngestRun]:
    """Every ingest run under ``member_dir`` (a member's folder or an ingest output folder),
    newest report first."""
    reports = [p for p in member_dir.rglob("report.json") if "msp" not in p.parts]
    runs = []
    for report_path in reports:
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except ValueError:
            report = {"error": "report.json is not valid JSON"}
        run_dir = report_path.parent
        rows, columns = _cohort_shape(run_dir / "cohort.parquet")
        runs.append(
            IngestRun(
                root=str(member_dir),
                name=str(run_dir.relative_to(member_dir)),
                path=str(run_dir),
                report=report if isinstance(report, dict) else {"report": report},
                cohort_rows=rows,
                cohort_columns=columns,
                quarantine=quarantine_items(run_dir, report if isinstance(report, dict) else {}),
            )
        )
    return sorted(runs, key=lambda run: run_date(run)[0], reverse=True)


def ingest_warnings(report: dict[str, Any]) -> list[str] | None:
    """The warnings of an ingest run (``report.json``'s ``warnings``: what its cohort table lacks),
    or None for a report that records none (written before ingest recorded them, or not a list).

    Shown as written, not redacted as quarantine reasons are: `consortium.fhir.coverage` composes
    them from the cohort definition (feature names, codes) and counts, never from a resource's
    values, and tests/fhir/test_fhir_phi_scan.py finds no identifier of the input in report.json.
    Redacting would blank the label codes a warning names (SNOMED CT 53741008 is a digit run)."""
    warnings = report.get("warnings")
    if not isinstance(warnings, list):
        return None
    return [str(warning)[:1000] for warning in warnings]


def run_labels(runs: list[IngestRun]) -> list[str]:
    """One label per run for the run picker: ``folder/run``, or the runs' full paths when two
    ``--ingest`` folders share a name (the picker could not tell them apart and always opened
    the first)."""
    short = [Path(r.root).name if r.name == "." else f"{Path(r.root).name}/{r.name}" for r in runs]
    return short if len(set(short)) == len(short) else [r.path for r in runs]


def run_date(run: IngestRun) -> tuple[datetime, str]:
    """When an ingest run was written (UTC), and where that date comes from: the report's
    ``written_ms``, which `consortium ingest` records, or for a report written before it did (or
    one whose ``written_ms`` is not a time) the report's modification time, which copying the
    folder without keeping times moves."""
    recorded = _recorded_time(run.report.get("written_ms"))
    if recorded is not None:
        source = "report.json's written_ms (recorded by consortium ingest when it wrote the run)"
        return recorded, source
    mtime = (Path(run.path) / "report.json").stat().st_mtime
    why = (
        "its written_ms is not a whole number of milliseconds since 1970"
        if "written_ms" in run.report
        else "the report records no date"
    )
    return datetime.fromtimestamp(int(mtime), tz=UTC), f"report.json's modification time ({why})"


def _recorded_time(ms: Any) -> datetime | None:
    """``written_ms`` as a UTC datetime, exact to the millisecond; None unless it is a
    non-negative integer a datetime can hold (a hand-edited report may hold anything)."""
    if type(ms) is not int or ms < 0:  # bool is an int, but True is no time
        return None
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def quarantine_file(member_dir: Path, run_name: str, item_name: str) -> bytes:
    """The raw bytes of one quarantined file (may contain identifiers: hospital admins only).

    Both names are checked to resolve inside the member's folder, so a crafted name cannot read
    anything else on the node.
    """
    base = member_dir.resolve()
    folder = (base / run_name / "quarantine").resolve()
    path = (folder / item_name).resolve()
    if not folder.is_relative_to(base) or not path.is_relative_to(folder) or not path.is_file():
        raise FileNotFoundError(f"no quarantined file {item_name!r} in run {run_name!r}")
    return path.read_bytes()


def accountant_files(member_dir: Path, member_id: str) -> dict[str, Path]:
    """The privacy accountant store file of this member per task id."""
    found = {}
    for path in member_dir.rglob(f"privacy/*/{member_id}.json"):
        found[path.parent.name] = path
    return found


def report_facts(report: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The report flattened to ``a.b.c -> value``: numbers and flags as they are, short strings
    redacted, lists by their length. Quarantine entries are left out (listed separately)."""
    out: dict[str, Any] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if key in ("quarantine", "quarantined") and not prefix and isinstance(value, list | dict):
            continue
        if isinstance(value, dict):
            out.update(report_facts(value, f"{name}."))
        elif isinstance(value, list):
            out[f"{name} (count)"] = len(value)
        elif isinstance(value, bool | int | float) or value is None:
            out[name] = value
        elif _HEX.fullmatch(str(value)):  # digests and key fingerprints identify no patient
            out[name] = str(value)
        else:
            out[name] = redact(str(value))[:120]
    return out


def privacy_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The k-anonymity and suppression figures among a report's facts."""
    words = ("k_anon", "kanon", "k-anon", "suppress", "quasi", "min_k", ".k", "safe_harbor")
    return {k: v for k, v in facts.items() if k == "k" or any(w in k.lower() for w in words)}


def node_status(member_dir: Path) -> dict[str, Any] | None:
    """What the member's node left on disk: its settings (``node.toml``), the ledger block it has
    followed to (``state/events.json``) and when it last wrote its state. None without a node."""
    import tomllib

    settings_path, events_path = member_dir / "node.toml", member_dir / "state" / "events.json"
    if not settings_path.is_file() and not events_path.is_file():
        return None
    out: dict[str, Any] = {}
    if settings_path.is_file():
        try:
            out["settings"] = tomllib.loads(settings_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            out["settings"] = {}
    if events_path.is_file():
        try:
            out["next_block"] = int(
                json.loads(events_path.read_text(encoding="utf-8"))["next_block"]
            )
        except (ValueError, KeyError, TypeError):
            out["next_block"] = None
        out["state_mtime"] = events_path.stat().st_mtime
    return out


def node_process(member_dir: Path) -> dict[str, Any]:
    """Whether the member's node is running: ``{"running": bool, "pid": int | None}``.

    A running node holds an exclusive ``flock`` on ``state/node.lock`` and has written its pid
    there (`consortium.node.lock`); the kernel drops the lock when the node exits, ``kill -9``
    included, so a pid left in the file proves nothing. The portal reads the kernel's table of
    held locks (``/proc/locks``) instead of trying the lock itself: even a lock tried and dropped
    at once could make a node starting at that instant refuse to start ("another node is
    running"). It opens the file read-only, never creates it and never locks it. Where there is no
    ``/proc/locks`` (not Linux), ``running`` is None: the page cannot tell."""
    path = member_dir / "state" / LOCK_NAME
    try:
        stat = path.stat()
        written = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return {"running": False, "pid": None}
    pid = int(written) if written.isdigit() else None
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return {"running": None, "pid": pid}
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue  # "->": a process waiting for a lock, not holding it
        holder, where = fields[4], fields[5]
        # overlay file systems may report another device than stat: then the pid must agree
        same_file = where == device or (where.endswith(f":{stat.st_ino}") and holder == written)
        if same_file:
            return {"running": True, "pid": pid or (int(holder) if holder.isdigit() else None)}
    return {"running": False, "pid": None}


def site_budget(member_dir: Path) -> Any:
    """The node's site budget (`consortium.privacy.site.SiteBudget`) as its node.toml sets it,
    over the folders the node counts (`consortium.node.settings.site_budget_of`); None when
    node.toml sets none. A node.toml that does not load raises ValueError with its message."""
    from consortium.node.settings import load_settings, site_budget_of

    return site_budget_of(member_dir, load_settings(member_dir))
