"""A long run of JSON white space between the values of a Bundle read in chunks (before its `{`,
between `"entry"`, `:` and `[`, between entries, after the Bundle) is dropped as it is skipped:
the buffer held it whole, so memory grew with the run (hundreds of MB of newlines, hundreds of MB
held). Where the text breaks after such a run, the break is still reported as `json.loads` of the
whole text reports it (message, line, column, char), and its excerpt does not carry the run."""

from __future__ import annotations

import json
import sys
import tracemalloc
from io import StringIO, TextIOBase

import pytest

from consortium.fhir.jsonstream import EXCERPT, ArrayStart, Element, JSONBreak, Member, scan_object

MIB = 1 << 20
Run = tuple[str, int]  # white space: a unit repeated so many times


class _Generated(TextIOBase):
    """A text handle over pieces of text and runs of white space; a run is made as it is read, a
    chunk at a time, so that the handle itself never holds one."""

    def __init__(self, pieces: list[str | Run]) -> None:
        self.pieces, self.at = pieces, 0  # ``at``: characters of ``pieces[0]`` already read

    def read(self, size: int | None = -1) -> str:
        size = sys.maxsize if size is None or size < 0 else size
        while self.pieces:
            piece = self.pieces[0]
            length = len(piece) if isinstance(piece, str) else len(piece[0]) * piece[1]
            if self.at < length:
                count = min(size, length - self.at)
                text = (
                    piece[self.at : self.at + count]
                    if isinstance(piece, str)
                    else _run(piece[0], self.at, count)
                )
                self.at += count
                return text
            self.pieces, self.at = self.pieces[1:], 0
        return ""


def _run(unit: str, at: int, count: int) -> str:
    """``count`` characters of ``unit`` repeated, from its ``at``-th character on."""
    return (unit * (count // len(unit) + 2))[at % len(unit) :][:count]


def _entry(i: int, note: int) -> str:
    resource = {"resourceType": "Observation", "id": f"o{i}", "note": [{"text": "n" * note}]}
    return json.dumps({"fullUrl": f"urn:uuid:o{i}", "resource": resource})


def test_white_space_runs_between_values_are_not_held() -> None:
    chunk, run = 64 << 10, 4 * MIB
    entries = [_entry(i, note=100_000 if i == 2 else 100) for i in range(4)]
    largest = max(map(len, entries))
    newlines, spaces, mixed = ("\n", run), (" ", run), ("\r\n\t  ", run // 5)
    pieces: list[str | Run] = [
        newlines, '{"resourceType": "Bundle",', spaces, '"type": "collection", "entry"',
        mixed, ":", newlines, "[", spaces, entries[0], mixed, ",", newlines, entries[1], ",",
        spaces, entries[2], ",", entries[3], newlines, "]", mixed, "}", spaces,
    ]  # fmt: skip
    total = sum(len(p) if isinstance(p, str) else len(p[0]) * p[1] for p in pieces)
    assert total > 40 * MIB

    tracemalloc.start()
    try:
        events = list(scan_object(_Generated(pieces), streamed="entry", chunk=chunk))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    print(f"{total / MIB:.0f} MiB of text, chunk {chunk >> 10} KiB: peak {peak / MIB:.2f} MiB")
    assert events == [
        Member("resourceType", "Bundle"),
        Member("type", "collection"),
        ArrayStart("entry"),
        *(Element(i, json.loads(e)) for i, e in enumerate(entries)),
    ]
    assert peak < 8 * chunk + 4 * largest < run


def _broken(n: int) -> dict[str, str]:
    """Texts that break right after a run of about ``n`` white space characters."""
    run = "\n" * n + "  "  # the break is on its last line, at column 3
    every = ["\r\n\t " * n, "\t\r " * n, "\r\n" * n, " \n" * n, " \t" * n]
    return {
        "before the first member": "{" + run + "x",
        "before a member's colon": '{"resourceType": "Bundle", "entry"' + run + "x",
        "after a member's colon": '{"entry":' + run + "x",
        "after the entry array's bracket": '{"entry": [' + run + "}",
        "before a comma between entries": '{"entry": [{}' + run + "x",
        "after a comma between entries": '{"entry": [{},' + run + "}",
        "after a comma between members": '{"type": "batch",' + run + "1",
        "after the Bundle": run + '{"entry": []}' + run + "x",
        "in an entry after a run": '{"entry": [' + run + '{"resource": tru}]}',
        "at the end of a cut text": run + '{"entry": [{},' + run,
        "after spaces on one line": '{"entry": [{},' + " " * n + "x",
        "after runs of every kind of white space": "".join(
            [every[0], '{"entry"', every[1], ":", every[2], "[", every[3], "{}", every[4], "x"]
        ),
    }


CASES = [
    (chunk, name, text)
    for n, chunk in ((1_000_000, 4096), (3, 1))
    for name, text in _broken(n).items()
]


@pytest.mark.parametrize(
    ("chunk", "text"), [(c, t) for c, _, t in CASES], ids=[f"{n}, chunk {c}" for c, n, _ in CASES]
)
def test_a_break_after_a_long_run_is_where_json_loads_says(chunk: int, text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as whole:
        json.loads(text)

    with pytest.raises(JSONBreak) as streamed:
        for _ in scan_object(StringIO(text), streamed="entry", chunk=chunk):
            pass

    assert streamed.value.error == str(whole.value)
    assert streamed.value.where == f"line {whole.value.lineno} column {whole.value.colno}"
    excerpt = streamed.value.excerpt
    assert excerpt in text and len(excerpt) < 2 * chunk + EXCERPT  # a long run is not in it
    assert text[whole.value.pos : whole.value.pos + 1] in excerpt
