"""Read FHIR JSON input: single resources, Bundles of any type, bulk-export NDJSON, or folders.

Reading never drops anything: every resource found becomes one :class:`RawResource`, and text that
cannot even be parsed becomes one too (with ``parse_error`` set), so that ingest can quarantine it
verbatim with its source file and position. Bundles are containers *and* resources: the Bundle
itself (without its entries' resources) is one item, and each ``entry.resource`` is another
(nested Bundles are unpacked the same way).
"""

from __future__ import annotations

import codecs
import gzip
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["NDJSON_SUFFIXES", "RawResource", "collect_files", "iter_file"]

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json",)
GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
BOM = "\ufeff"
ESCAPE = "surrogateescape"  # bytes that are not UTF-8 kept, to be written back as they were


@dataclass(slots=True)
class RawResource:
    """One resource as read, before validation.

    ``raw`` is the exact text it was read from (an NDJSON line, a whole file); for a Bundle entry
    it is None and :meth:`verbatim` re-serializes the entry's resource (the same JSON content),
    which is only needed when it is quarantined. ``full_url`` is the Bundle entry's fullUrl and
    ``bundle_urls`` maps the enclosing Bundles' fullUrls, to resolve ``urn:uuid:`` references.
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


def iter_file(path: Path) -> Iterator[RawResource]:
    """Every resource in one file (NDJSON by suffix .ndjson/.jsonl, JSON otherwise; a .json file
    that holds several JSON objects, one a line, is read as NDJSON). A gzip file (by its first
    bytes, whatever its suffix) is read uncompressed, as bulk-export NDJSON often comes.

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
        return
    with _open_text(path) as handle:
        text = handle.read()
    data, error = _load(text)
    if error is not None and _holds_lines(text, error):
        yield from _iter_lines(path, source)
        return
    yield from _items(data, error, text, source, "file")


def _holds_lines(text: str, error: str) -> bool:
    """Whether JSON ``text`` that does not parse as one JSON text is NDJSON: its first line is a
    whole JSON text followed by more, or most of its lines are JSON objects on their own (the
    first line may be the broken one). A broken pretty-printed file has few such lines."""
    if error.startswith("Extra data") and 0 < text.find("\n") < len(text) - 1:
        return True
    lines = [line for line in text.split("\n") if line.strip()]
    whole = sum(isinstance(_load(line.removeprefix(BOM))[0], dict) for line in lines)
    return len(lines) > 1 and 2 * whole > len(lines)


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
