"""A large `.json` Bundle that breaks mid-way (bad JSON, a byte that is not UTF-8, a truncated gzip)
gives the entries read before the break and then one quarantine item saying where it broke; the
rest of the file is not read. Read whole, such a file was one item and needed all of it in memory.
The break is reported as reading the whole file reports it (json's message, line, column, char)."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consortium.fhir import reader
from consortium.fhir.ingest import ingest
from consortium.fhir.reader import RawResource, iter_file

NEVER = 1 << 50
HEADER = '{"resourceType": "Bundle", "type": "collection", "entry": ['


def _entry(i: int, pad: int = 40) -> str:
    name = [{"text": "n" * pad}]
    resource = {"resourceType": "Patient", "id": f"p{i}", "gender": "male", "name": name}
    return json.dumps({"fullUrl": f"urn:uuid:p{i}", "resource": resource})


def _bundle(count: int, pad: int = 40) -> tuple[str, list[int]]:
    """A compact Bundle of ``count`` Patients and the offset where each entry's text ends."""
    text, ends = HEADER, []
    for i in range(count):
        text += ("" if i == 0 else ", ") + _entry(i, pad)
        ends.append(len(text))
    return text + "]}", ends


def _fields(item: RawResource) -> tuple[object, ...]:
    return (item.source, item.position, item.data, item.parse_error, item.full_url)


def _read(path: Path, *, streamed: bool) -> list[RawResource]:
    return list(iter_file(path, stream_above=0 if streamed else NEVER))


def test_a_bundle_broken_mid_way_keeps_the_entries_before_the_break(tmp_path: Path) -> None:
    text, ends = _bundle(30)
    path = tmp_path / "b.json"
    path.write_text(text[: ends[11]] + text[ends[11] + 1 :], encoding="utf-8")  # no comma
    good = tmp_path / "good.json"
    good.write_text(text, encoding="utf-8")

    whole, items = _read(path, streamed=False), _read(path, streamed=True)

    assert len(whole) == 1 and whole[0].parse_error is not None
    assert "Expecting ',' delimiter: line 1 column" in whole[0].parse_error
    expected = [_fields(i)[1:] for i in _read(good, streamed=False)[1:13]]  # entry[0] to [11]
    assert [_fields(i)[1:] for i in items[:-1]] == expected
    broken = items[-1]
    assert broken.position == "file" and broken.data is None
    assert broken.parse_error is not None
    assert broken.parse_error.startswith(whole[0].parse_error + "; ")
    assert "entry[0] to entry[11] were read before it" in broken.parse_error
    assert "nothing from line 1 column" in broken.parse_error
    assert broken.raw is not None and broken.raw in text[ends[11] - 200 :]
    assert 0 < len(broken.raw) < 2000


def test_a_line_and_column_in_a_pretty_printed_bundle(tmp_path: Path) -> None:
    data = json.loads(_bundle(5)[0])
    text = json.dumps(data, indent=2).replace('"p3"', '"p3" "x"')
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")

    whole, items = _read(path, streamed=False), _read(path, streamed=True)

    assert [i.position for i in items] == [*(f"file entry[{i}]" for i in range(3)), "file"]
    line = text[: text.index('"x"')].count("\n") + 1
    assert whole[0].parse_error is not None and f"line {line} column" in whole[0].parse_error
    assert items[-1].parse_error is not None
    assert items[-1].parse_error.startswith(whole[0].parse_error + "; ")


class _Counting:
    """A text handle that counts the characters read through it."""

    def __init__(self, handle: IO[str], counts: list[int]) -> None:
        self.handle, self.counts = handle, counts
        counts.append(0)

    def read(self, size: int = -1) -> str:
        text = self.handle.read(size)
        self.counts[-1] += len(text)
        return text

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def test_the_rest_of_a_broken_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, ends = _bundle(20_000)
    cut = ends[1000]
    path = tmp_path / "b.json"
    path.write_text(text[:cut] + " x" + text[cut:], encoding="utf-8")
    counts: list[int] = []
    opened = reader._open_text

    @contextmanager
    def counting(p: Path) -> Iterator[_Counting]:
        with opened(p) as handle:
            yield _Counting(handle, counts)

    monkeypatch.setattr(reader, "_open_text", counting)
    monkeypatch.setattr(reader, "CHUNK_CHARS", 4096)
    monkeypatch.setattr(reader, "HEAD_CHARS", 4096)

    items = list(iter_file(path, stream_above=0))

    assert len(items) == 1002 and items[-1].parse_error is not None
    assert "line 1 column" in items[-1].parse_error
    assert len(text) > 10 * cut and counts and max(counts) < cut + 3 * 4096


@pytest.mark.parametrize(("where", "read"), [("in entry[6]", 6), ("after the Bundle", 10)])
def test_a_byte_that_is_not_utf8_breaks_the_file_there(
    tmp_path: Path, where: str, read: int
) -> None:
    data = _bundle(10)[0].encode("utf-8")
    bad = data.index(b'"p6"') + 2 if where == "in entry[6]" else len(data) + 1
    path = tmp_path / "b.json"
    path.write_bytes((data + b"  ")[:bad] + b"\xfc" + (data + b"  ")[bad + 1 :])

    whole, items = _read(path, streamed=False), _read(path, streamed=True)

    assert len(whole) == 1 and whole[0].parse_error == (
        f"not valid UTF-8 (character {bad} is not a UTF-8 byte)"
    )
    assert [i.position for i in items[:-1]] == [f"file entry[{i}]" for i in range(read)]
    assert items[-1].parse_error is not None
    assert items[-1].parse_error.startswith(whole[0].parse_error + "; ")
    assert items[-1].raw is not None and "\udcfc" in items[-1].raw  # the byte, written back


def test_a_truncated_gzip_bundle_keeps_what_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, _ = _bundle(3000, pad=2000)
    packed = gzip.compress(text.encode("utf-8"))
    path = tmp_path / "in" / "Bundle.json.gz"
    path.parent.mkdir()
    path.write_bytes(packed[: len(packed) // 2])
    monkeypatch.setattr(reader, "STREAM_ABOVE", 1 << 20, raising=False)

    report = ingest([path], "s1", "heart", tmp_path / "out", k=1)

    assert report.accepted > 100 and report.quarantined == 1
    assert report.read == report.accepted + report.quarantined
    record = json.loads(next((tmp_path / "out" / "quarantine").iterdir()).read_text())
    assert record["error"].startswith("unreadable:") and "ended before" in record["error"]


def test_a_file_that_breaks_between_the_two_passes_gives_one_break(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, ends = _bundle(10)
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")
    plan = reader._plan_bundle

    def then_break(p: Path, source: str) -> object:
        found = plan(p, source)
        p.write_text(text[: ends[3]] + "}" + text[ends[3] :], encoding="utf-8")  # being rewritten
        return found

    monkeypatch.setattr(reader, "_plan_bundle", then_break)

    items = list(iter_file(path, stream_above=0))

    assert [i.position for i in items] == ["file", *(f"file entry[{i}]" for i in range(4)), "file"]
    assert items[-1].parse_error is not None and "entry[0] to entry[3]" in items[-1].parse_error


SMALL = _bundle(4, pad=3)[0]
BASES = [SMALL, json.dumps(json.loads(SMALL), indent=1)]  # one line, and pretty-printed
MUTATIONS = st.tuples(
    st.sampled_from(BASES),
    st.sampled_from(["cut", "drop", "insert"]),
    st.integers(0, len(BASES[1])),
    st.sampled_from([*',:[]{}"\\ \nx0-.eE', "tru", "\u00e9", "\x01", "\ufeff"]),
)
SPACE, COMMA = re.compile(r"[ \t\n\r]*"), re.compile(r"[ \t\n\r]*,[ \t\n\r]*")


def _decoded_entries(text: str) -> list[tuple[Any, int]]:
    """Each element of the first `entry` array of ``text`` and where it ends, decoded one after
    the other with json's decoder until one fails (the test's own reading of a broken text)."""
    at = text.find('"entry": [') + len('"entry": [')
    found: list[tuple[Any, int]] = []
    if at < len('"entry": ['):
        return found
    at = SPACE.match(text, at).end()  # type: ignore[union-attr]  # "*" always matches
    while True:
        try:
            value, at = json.JSONDecoder().raw_decode(text, at)
        except (ValueError, RecursionError):
            return found
        found.append((value, at))
        comma = COMMA.match(text, at)
        if comma is None:
            return found
        at = comma.end()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS)
def test_any_break_is_reported_where_reading_the_whole_file_reports_it(
    mutation: tuple[str, str, int, str],
) -> None:
    base, kind, at, extra = mutation
    at %= len(base) + 1
    text = {
        "cut": base[:at],
        "drop": base[:at] + base[at + 1 :],
        "insert": base[:at] + extra + base[at:],
    }[kind]
    entries = [value for value, _ in _decoded_entries(text)]
    repaired = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as tmp:
        patch.setattr(reader, "CHUNK_CHARS", 7)
        path, good = Path(tmp) / "b.json", Path(tmp) / "good.json"
        path.write_text(text, encoding="utf-8")
        good.write_text(repaired, encoding="utf-8")
        whole, items = _read(path, streamed=False), _read(path, streamed=True)
        expected = [_fields(i)[1:] for i in _read(good, streamed=False)[1:]]  # not the source

    if len(whole) != 1 or whole[0].parse_error is None or whole[0].position != "file":
        assert [_fields(i) for i in items] == [_fields(i) for i in whole]
        return
    error = whole[0].parse_error
    assert items[-1].position == "file" and items[-1].parse_error is not None
    assert items[-1].parse_error == error or items[-1].parse_error.startswith(error + "; ")
    read = [_fields(i)[1:] for i in items[:-1]]
    assert read == expected[: len(read)]
    if at > base.index("["):  # the Bundle is known: every entry before the change was read
        assert len(read) >= sum(end <= at for _, end in _decoded_entries(base))
