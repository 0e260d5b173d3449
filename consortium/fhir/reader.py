"""Read FHIR JSON input: single resources, Bundles of any type, bulk-export NDJSON, or folders.

Reading never drops anything: every resource found becomes one :class:`RawResource`, and text that
cannot even be parsed becomes one too (with ``parse_error`` set), so that ingest can quarantine it
verbatim with its source file and position. Bundles are containers *and* resources: the Bundle
itself (without its entries' resources) is one item, and each ``entry.resource`` is another
(nested Bundles are unpacked the same way).

A ``.json`` file whose text is longer than :data:`STREAM_ABOVE` bytes is read in chunks
(:mod:`consortium.fhir.jsonstream`): a Bundle's entries are decoded one at a time, so memory holds
a chunk, one entry, and what the Bundle's own item keeps of each entry (its fields but
``resource``), not the file. It gives the items reading it whole gives, except that the Bundle's
own item has no ``raw`` (its verbatim text is the Bundle without its entries' resources, as a
nested Bundle's is); a file that breaks gives the entries before the break and then one item for
the break. Any other large file (one resource, a List...) is still read whole.
"""

from __future__ import annotations

import codecs
import gzip
import json
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from consortium.fhir.jsonstream import ArrayStart, Element, JSONBreak, NotAnObject, scan_object

__all__ = ["NDJSON_SUFFIXES", "RawResource", "collect_files", "iter_file"]

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json",)
GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
BOM = "\ufeff"
ESCAPE = "surrogateescape"  # bytes that are not UTF-8 kept, to be written back as they were
STREAM_ABOVE = 64 << 20
"""A .json file whose text (uncompressed) is longer than this many bytes is read in chunks."""
CHUNK_CHARS = 1 << 20  # characters read at a time from a file read in chunks
HEAD_CHARS = 1 << 20  # characters looked at to tell a .json file of lines (NDJSON) from JSON
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)  # a corrupt gzip, bad UTF-16


@dataclass(slots=True)
class RawResource:
    """One resource as read, before validation.

    ``raw`` is the exact text it was read from (an NDJSON line, a whole file, the text around
    where a file read in chunks breaks); for a Bundle entry, and a Bundle read in chunks, it is
    None and :meth:`verbatim` re-serializes the data (the same JSON content; for a Bundle, without
    its entries' resources), which is only needed when it is quarantined. ``full_url`` is the
    Bundle entry's fullUrl and ``bundle_urls`` maps the enclosing Bundles' fullUrls, to resolve
    ``urn:uuid:`` references.
    """

    source: str
    position: str
    raw: str | None
    data: dict[str, Any] | None = None
    parse_error: str | None = None
    full_url: str | None = None
    bundle_urls: dict[str, str] = field(default_factory=dict)

    def verbatim(self) -> str:
        """The text of this resource as it was given."""
        if self.raw is not None:
            return self.raw
        return _json_text(self.data)

    @property
    def resource_type(self) -> str:
        """The resourceType, or ``"(unparsed)"`` / ``"(none)"`` when there is none."""
        if self.data is None:
            return "(unparsed)"
        rt = self.data.get("resourceType")
        return rt if isinstance(rt, str) and rt else "(none)"


def _json_text(value: Any) -> str:
    """``value`` as JSON text that can be written as UTF-8: characters as they are, unless the
    input escaped a lone surrogate (``"\\ud800"``), which has no UTF-8 form and stays escaped."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def collect_files(paths: list[Path], skipped: Counter[str] | None = None) -> list[Path]:
    """The input files named by ``paths`` (folders searched recursively for .json/.ndjson/.jsonl,
    also gzipped: .ndjson.gz), sorted within each folder so that runs are reproducible; a file
    named twice (a folder and a file in it) is listed once. The other files of the folders
    (hidden ones aside) are counted in ``skipped`` by suffix, e.g. FHIR XML exports."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = []
            for p in path.rglob("*"):
                if not p.is_file() or p.name.startswith("."):
                    continue
                if _format_suffix(p) in JSON_SUFFIXES + NDJSON_SUFFIXES:
                    found.append(p)
                elif skipped is not None:
                    skipped[_suffix_name(p)] += 1
            files.extend(sorted(found))
        else:
            files.append(path)
    unique: dict[Path, Path] = {}
    for found_file in files:
        unique.setdefault(found_file.resolve(), found_file)
    return list(unique.values())


# Suffixes of the files an export folder commonly holds besides FHIR JSON: a skipped file is
# counted under its suffix only when the suffix is one of these. Anything after a file name's last
# dot counts as its suffix, and for "John.Smith" or "ecg 1945.03.12" that is part of a name or a
# date, which must not reach report.json or the summary line: such files count as "(other)".
KNOWN_SUFFIXES = frozenset(
    {
        ".xml", ".csv", ".tsv", ".txt", ".hl7", ".ccda", ".cda", ".dcm", ".pdf", ".html",
        ".htm", ".md", ".log", ".parquet", ".xls", ".xlsx", ".doc", ".docx", ".zip", ".gz",
        ".tgz", ".tar", ".bz2", ".xz", ".zst", ".7z", ".bak", ".tmp", ".sql", ".db", ".png",
        ".jpg", ".jpeg", ".tif", ".tiff", ".bin", ".dat", ".yaml", ".yml", ".ini", ".cfg",
    }
)  # fmt: skip


def _suffix_name(path: Path) -> str:
    """How a skipped file is counted: its suffix if it is a known file type, else "(other)"."""
    suffix = path.suffix.lower()
    if not suffix:
        return "(no suffix)"
    return suffix if suffix in KNOWN_SUFFIXES else "(other)"


def _format_suffix(path: Path) -> str:
    """The suffix that names the format: ``.ndjson`` for ``Patient.ndjson`` and ``.ndjson.gz``."""
    name = path.name.lower()
    return Path(name.removesuffix(".gz")).suffix


def iter_file(path: Path, *, stream_above: int | None = None) -> Iterator[RawResource]:
    """Every resource in one file (NDJSON by suffix .ndjson/.jsonl, JSON otherwise; a .json file
    that holds one JSON text a line is read as NDJSON, see `_holds_lines`). A gzip file (by its
    first bytes, whatever its suffix) is read uncompressed, as bulk-export NDJSON often comes. A
    .json file whose uncompressed text is longer than ``stream_above`` bytes (default
    :data:`STREAM_ABOVE`) is read in chunks when it is a Bundle (`_iter_large`).

    Bytes that are not UTF-8 are kept (``surrogateescape``) so the quarantine can write them back
    verbatim, and the resource holding them is refused: FHIR JSON is UTF-8. The one exception is
    UTF-16: a file that starts with a UTF-16 byte order mark (what Windows PowerShell's ``>``
    writes), or, without a mark, with an ASCII character and a zero byte (JSON text's first
    character in UTF-16; .NET's ``Encoding.Unicode`` writes no mark) is read as UTF-16 in that
    byte order; text that is not valid UTF-16 raises :class:`UnicodeDecodeError` (ingest
    quarantines the rest of the file).
    """
    source = str(path)
    if _format_suffix(path) in NDJSON_SUFFIXES:
        yield from _iter_lines(path, source)
    elif _longer_than(path, STREAM_ABOVE if stream_above is None else stream_above):
        yield from _iter_large(path, source)
    else:
        yield from _iter_whole(path, source)


def _iter_whole(path: Path, source: str) -> Iterator[RawResource]:
    with _open_text(path) as handle:
        text = handle.read()
    data, error = _load(text)
    if error is not None and _holds_lines(text, complete=True):  # all of it is here already
        yield from _iter_lines(path, source)
        return
    yield from _items(data, error, text, source, "file")


def _holds_lines(head: str, *, complete: bool) -> bool:
    """Whether a .json file whose text starts with ``head`` (all of it when ``complete``) holds
    one JSON text a line (NDJSON): its first line starts with a whole JSON text and more lines
    follow, or most of its lines are JSON objects on their own (the first may be the broken one).
    A file read whole is looked at whole; of a large one only the head (:data:`HEAD_CHARS`) is,
    so that it is not read to decide, and a line cut at the head's end does not count. A broken
    pretty-printed file has few such lines, and JSON text that parses never has most: in it, each
    line that is an object is followed by a line that starts with ``,``, ``]`` or ``}``, and its
    first line is no object."""
    lines = head.split("\n")
    cut = "" if complete else lines.pop()
    lines = [line for line in lines if line.strip()]
    if not lines:
        return False
    first = _load(lines[0].removeprefix(BOM))[1]
    if (first is None or first.startswith("Extra data")) and (len(lines) > 1 or cut.strip()):
        return True
    whole = sum(isinstance(_load(line.removeprefix(BOM))[0], dict) for line in lines)
    return len(lines) > 1 and 2 * whole > len(lines)


def _longer_than(path: Path, limit: int) -> bool:
    """Whether the text of ``path`` (uncompressed) is longer than ``limit`` bytes."""
    with path.open("rb") as probe:
        if probe.read(2) != GZIP_MAGIC:
            return path.stat().st_size > limit
    seen = 0
    with gzip.open(path, "rb") as unpacked:
        while seen <= limit:
            block = unpacked.read(CHUNK_CHARS)
            if not block:
                return False
            seen += len(block)
    return True


def _iter_large(path: Path, source: str) -> Iterator[RawResource]:
    """A large .json file: NDJSON by its head, a Bundle in two passes over its text (the first
    finds the Bundle's own fields, its entries' fullUrls and where it breaks; the second yields
    the Bundle, then each entry as it is decoded), anything else read whole."""
    with _open_text(path) as handle:
        head = handle.read(HEAD_CHARS + 1)
    if _holds_lines(head[:HEAD_CHARS], complete=len(head) <= HEAD_CHARS):
        yield from _iter_lines(path, source)
        return
    del head
    plan = _plan_bundle(path, source)
    if plan is None:
        yield from _iter_whole(path, source)
        return
    if plan.stop is None and plan.failure is None:
        yield RawResource(source, "file", None, data=plan.shell, bundle_urls=plan.urls)
        plan.shell = {}  # the consumer has it: not kept while the entries are read
    yield from _bundle_entries(path, source, plan)


@dataclass(slots=True)
class _BundlePlan:
    """What the first pass over a large Bundle found: the Bundle's own item (``shell``: its
    fields, each entry without its resource) and fullUrls, which of its ``entry`` arrays counts
    (the last, as in json.loads), how many of its entries to yield, and the break (``stop``) or
    read error (``failure``) to give after them."""

    shell: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    array: int = -1
    count: int = 0
    stop: RawResource | None = None
    failure: Exception | None = None


def _plan_bundle(path: Path, source: str) -> _BundlePlan | None:
    """The first pass over a large file; None when it is not a Bundle with an ``entry`` list
    (it is read whole then, as a file that does not start with ``{``)."""
    plan, entries = _BundlePlan(), list[Any]()
    try:
        with _open_text(path) as handle:
            for event in scan_object(handle, streamed="entry", chunk=CHUNK_CHARS):
                if isinstance(event, ArrayStart):
                    plan.array, plan.urls, entries = plan.array + 1, {}, []
                    plan.shell["entry"] = entries
                elif isinstance(event, Element):
                    entries.append(_without_resource(event.value))
                    plan.urls.update(_entry_url(event.value))
                elif event.key == "resourceType" and event.value != "Bundle":
                    return None
                else:
                    plan.shell[event.key] = event.value
    except NotAnObject:
        return None
    except JSONBreak as exc:
        plan.stop = _break_item(source, exc, len(entries) if _is_bundle(plan.shell) else 0)
    except READ_ERRORS as exc:
        if not _is_bundle(plan.shell):
            raise
        plan.failure = exc
    if plan.stop is None and plan.failure is None and not _is_bundle(plan.shell):
        return None
    plan.count = len(entries) if _is_bundle(plan.shell) else 0
    return plan


def _is_bundle(shell: dict[str, Any]) -> bool:
    return shell.get("resourceType") == "Bundle" and isinstance(shell.get("entry"), list)


def _bundle_entries(path: Path, source: str, plan: _BundlePlan) -> Iterator[RawResource]:
    """The second pass: the items of the first ``plan.count`` entries of the Bundle's array, then
    the break or read error that the first pass met."""
    array, done = -1, 0
    with _open_text(path) as handle:
        events = scan_object(handle, streamed="entry", chunk=CHUNK_CHARS)
        try:
            for event in events if plan.count else ():
                if isinstance(event, ArrayStart):
                    array += 1
                elif isinstance(event, Element) and array == plan.array:
                    yield from _entry_items(event.value, event.index, source, "file", plan.urls)
                    done += 1
                    if done == plan.count:
                        break
        except JSONBreak as exc:  # the file changed since the first pass
            yield _break_item(source, exc, done)
            return
    if plan.stop is not None:
        yield plan.stop
    if plan.failure is not None:
        raise plan.failure


def _break_item(source: str, exc: JSONBreak, read: int) -> RawResource:
    """The item of a large file where it stops being JSON, after ``read`` entries."""
    if read == 0:
        before = "no entry was read before it"
    elif read == 1:
        before = "entry[0] was read before it"
    else:
        before = f"entry[0] to entry[{read - 1}] were read before it"
    reason = (
        f"{exc.error}; the file was read in chunks: {before}, and nothing from {exc.where} on; "
        "fix the file and ingest it again"
    )
    if not exc.error.startswith("not valid UTF-8"):
        reason = f"not valid JSON: {reason}"
    return RawResource(source, "file", exc.excerpt, parse_error=reason)


def _iter_lines(path: Path, source: str) -> Iterator[RawResource]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            # files that each start with a BOM, joined with `cat`, hold one at a line's start
            text = line.rstrip("\r\n").removeprefix(BOM)
            if text.strip():
                data, error = _load(text)
                yield from _items(data, error, text, source, f"line {number}")


def _open_text(path: Path) -> IO[str]:
    """``path`` as text, through gzip when it starts with gzip's magic bytes; UTF-16 when it
    starts with a UTF-16 byte order mark, or without one when its first bytes are an ASCII
    character and a zero byte in UTF-16's order (`_bomless_utf16`); else UTF-8 (a leading UTF-8
    BOM is dropped)."""
    with path.open("rb") as probe:
        head = probe.read(4)
    compressed = head[:2] == GZIP_MAGIC
    if compressed:
        with gzip.open(path, "rb") as unpacked:
            head = unpacked.read(4)
    if head[:2] in UTF16_BOMS:
        # "utf-16" reads the BOM, decodes in its byte order and drops the BOM
        encoding, errors = "utf-16", "strict"
    elif (bomless := _bomless_utf16(head)) is not None:
        encoding, errors = bomless, "strict"
    else:
        encoding, errors = "utf-8-sig", ESCAPE
    if compressed:
        return gzip.open(path, "rt", encoding=encoding, errors=errors)
    return path.open(encoding=encoding, errors=errors)


def _bomless_utf16(head: bytes) -> str | None:
    """The UTF-16 byte order of JSON text written without a byte order mark, None for any other.

    JSON text starts with an ASCII character (``{``, ``[`` or white space), which UTF-16 writes as
    that byte and a zero byte, in the file's byte order (RFC 8259 requires UTF-8 between systems,
    but .NET's ``Encoding.Unicode`` writes no mark). UTF-8 JSON holds no zero byte there. Four
    bytes are looked at so that UTF-32 (three zero bytes) is not taken for UTF-16: it is left to
    fail as UTF-8, with the re-export hint."""
    if len(head) < 4 or head.count(0) > 2:
        return None
    if head[0] and not head[1] and head[2] and not head[3] and head[0] < 0x80:
        return "utf-16-le"
    if not head[0] and head[1] and not head[2] and head[3] and head[1] < 0x80:
        return "utf-16-be"
    return None


def _load(text: str) -> tuple[Any, str | None]:
    """(parsed JSON, None) or (None, why it could not be parsed)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return None, f"not valid UTF-8 (character {exc.start} is not a UTF-8 byte)"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg}: line {exc.lineno} column {exc.colno} (char {exc.pos})"
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError:  # a number longer than Python's int conversion allows
        return None, f"a number has more than {sys.get_int_max_str_digits()} digits"


def _items(
    data: Any, error: str | None, text: str, source: str, position: str
) -> Iterator[RawResource]:
    if error is not None:
        reason = error if error.startswith("not valid UTF-8") else f"not valid JSON: {error}"
        yield RawResource(source, position, text, parse_error=reason)
    elif not isinstance(data, dict):
        reason = f"not a JSON object but {_kind(data)}"
        yield RawResource(source, position, text, parse_error=reason)
    else:
        yield from _unpack(data, text, source, position, None, {})


def _unpack(
    data: dict[str, Any],
    raw: str | None,
    source: str,
    position: str,
    full_url: str | None,
    outer_urls: dict[str, str],
) -> Iterator[RawResource]:
    if data.get("resourceType") != "Bundle" or not isinstance(data.get("entry"), list):
        yield RawResource(source, position, raw, data, None, full_url, outer_urls)
        return
    entries: list[Any] = data["entry"]
    urls = {**outer_urls, **_bundle_urls(entries)}
    shell = dict(data)
    shell["entry"] = [_without_resource(e) for e in entries]
    yield RawResource(source, position, raw, data=shell, full_url=full_url, bundle_urls=urls)
    for index, entry in enumerate(entries):
        yield from _entry_items(entry, index, source, position, urls)


def _entry_items(
    entry: Any, index: int, source: str, position: str, urls: dict[str, str]
) -> Iterator[RawResource]:
    """The items of one entry of the Bundle read at ``position``: its resource (unpacked when it
    is a Bundle), none when it has none (the entry is kept in the Bundle itself)."""
    if not isinstance(entry, dict) or "resource" not in entry:
        return
    resource = entry["resource"]
    where = f"{position} entry[{index}]"
    if not isinstance(resource, dict):
        text = _json_text(resource)
        reason = f"entry.resource is not a JSON object but {_kind(resource)}"
        yield RawResource(source, where, text, parse_error=reason)
        return
    url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
    yield from _unpack(resource, None, source, where, url, urls)


def _kind(value: Any) -> str:
    """What a JSON value is, for a reason: "a list", "a string", "null"."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "a list", int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _without_resource(entry: Any) -> Any:
    if isinstance(entry, dict) and "resource" in entry:
        return {k: v for k, v in entry.items() if k != "resource"}
    return entry


def _bundle_urls(entries: list[Any]) -> dict[str, str]:
    """fullUrl -> "Type/id" for the entries that have both (to resolve urn:uuid references)."""
    urls: dict[str, str] = {}
    for entry in entries:
        urls.update(_entry_url(entry))
    return urls


def _entry_url(entry: Any) -> dict[str, str]:
    """{fullUrl: "Type/id"} of one entry, {} when it has no fullUrl or no resource."""
    if not isinstance(entry, dict):
        return {}
    url, resource = entry.get("fullUrl"), entry.get("resource")
    if isinstance(url, str) and isinstance(resource, dict):
        rt, rid = resource.get("resourceType"), resource.get("id")
        return {url: f"{rt}/{rid}" if rid else url}
    return {}
