"""Read a JSON object from a text handle in chunks: its members one at a time, and the elements of
one array member one at a time, so that memory holds a chunk and the value being read, not the
text. The reader uses it for large Bundles (``scan_object(handle, streamed="entry", ...)``).

Each value is decoded by ``json``'s own decoder (``raw_decode`` over a sliding buffer); the few
characters between values (``{``, ``,``, ``:``, ``[``, ``]``, ``}``) are checked here. Where the
text stops being JSON, :class:`JSONBreak` says so as ``json.loads`` of the whole text would: the
same message at the same line, column and character. A character that is not UTF-8 (a byte kept
by ``surrogateescape``) ends the text there, as a break. White space between values is dropped as
it is skipped, so that a long run of it (hundreds of MB of newlines) is not held either.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "ArrayStart", "Element", "Event", "JSONBreak", "Member", "NotAnObject", "scan_object",
]  # fmt: skip

_DECODER = json.JSONDecoder()
_NOT_SPACE = re.compile(r"[^ \t\n\r]")  # JSON's white space, not str.isspace's
# A decode that stops this close to the end of the buffer may have been cut short by it (a number,
# a literal such as "-Infinity", a \uXXXX escape pair): it is decoded again with more text.
MARGIN = 16
EXCERPT = 1000  # at most this many characters after a break are kept in its excerpt
# What comes before, as json.loads would see it (a structure error is worded by it)
OBJECT, MEMBER, ARRAY, ELEMENT, CLOSED = "{", '{"":0', "[", "[0", "{}"
NAME, COLON, MEMBER_COMMA, ELEMENT_COMMA = '{""', '{"":', '{"":0,', "[0,"


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the object, decoded whole."""

    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class ArrayStart:
    """The streamed member's value is an array: its elements follow."""

    key: str


@dataclass(frozen=True, slots=True)
class Element:
    """One element of the streamed array."""

    index: int
    value: Any


class NotAnObject(Exception):
    """The text does not start with ``{`` (nothing has been read past its first character)."""


class JSONBreak(Exception):
    """Where the text stops being JSON or UTF-8.

    ``error`` is worded as the reader words an error of a whole text (json's message with its
    line, column and char; ``not valid UTF-8 (character N ...)``; nesting, long numbers),
    ``where`` is ``line L column C`` of the break, ``excerpt`` the text from the end of the last
    value read (or of white space of a chunk or more skipped since) to a little past the break."""

    def __init__(self, error: str, where: str, excerpt: str) -> None:
        super().__init__(error)
        self.error, self.where, self.excerpt = error, where, excerpt


Event = Member | ArrayStart | Element


def scan_object(handle: IO[str], *, streamed: str, chunk: int) -> Iterator[Event]:
    """The members of the JSON object that ``handle`` holds, read ``chunk`` characters at a time;
    a member named ``streamed`` whose value is an array comes as :class:`ArrayStart` and its
    :class:`Element` s. Raises :class:`NotAnObject` or :class:`JSONBreak`; read errors pass."""
    text = _Buffer(handle, chunk)
    if text.skip() != "{":
        raise NotAnObject
    text.step(OBJECT)
    if text.skip() == "}":
        text.step(CLOSED)
    else:
        yield from _members(text, streamed)
    if text.skip():
        raise text.structure_error()  # "Extra data"
    if text.bad is not None:  # after the object, where the text was cut
        raise text.bad_break()


def _members(text: _Buffer, streamed: str) -> Iterator[Event]:
    while True:
        if text.skip() != '"':
            raise text.structure_error()
        key = text.value()
        text.follows(NAME)
        if text.skip() != ":":
            raise text.structure_error()
        text.at += 1
        text.follows(COLON)
        if key == streamed and text.skip() == "[":
            yield ArrayStart(key)
            text.step(ARRAY)
            yield from _elements(text)
        else:
            yield Member(key, text.value())
        text.mark(MEMBER)
        if text.skip() == "}":
            text.step(CLOSED)
            return
        if text.skip() != ",":
            raise text.structure_error()
        text.at += 1
        text.follows(MEMBER_COMMA)


def _elements(text: _Buffer) -> Iterator[Element]:
    if text.skip() == "]":
        text.step(MEMBER)
        return
    index = 0
    while True:
        yield Element(index, text.value())
        index += 1
        text.mark(ELEMENT)
        if text.skip() == "]":
            text.step(MEMBER)
            return
        if text.skip() != ",":
            raise text.structure_error()
        text.at += 1
        text.follows(ELEMENT_COMMA)


class _Buffer:
    """The text of a handle from the end of the last value read (``start``) on, read in chunks;
    ``at`` is the next character to look at; ``before`` stands for the text up to ``after`` and
    only white space lies between ``after`` and ``at``. Positions reported are those of the whole
    text."""

    def __init__(self, handle: IO[str], chunk: int) -> None:
        self.handle, self.chunk = handle, max(1, chunk)
        self.text = ""
        self.at = self.start = self.after = 0
        self.before = OBJECT  # what a structure error's json.loads sees before text[after:]
        self.offset, self.line, self.column = 0, 1, 1  # of text[0] in the whole text
        self.ended = False
        self.bad: int | None = None  # whole-text offset of a character that is not UTF-8
        self.after_bad = ""  # the text from there on that was read (for the excerpt)

    def skip(self) -> str:
        """The next character that is not white space ("" at the end of the text). Once a chunk
        or more of white space is skipped it is dropped, and what was held before it with it (a
        break's excerpt starts after it then), so that a run of it is not held whole."""
        while True:
            found = _NOT_SPACE.search(self.text, self.at)
            if found is not None:
                self.at = found.start()
                return self.text[self.at]
            self.at = len(self.text)
            if self.at - self.after >= self.chunk:
                self.start = self.after = self.at
            if not self.read():
                return ""

    def step(self, before: str) -> None:
        """Go past the character at ``at``, which ends what ``before`` says."""
        self.at += 1
        self.mark(before)

    def mark(self, before: str) -> None:
        """A value (or bracket) ends at ``at``: what follows starts from here."""
        self.start = self.after = self.at
        self.before = before

    def follows(self, before: str) -> None:
        """What comes from ``at`` on follows what ``before`` stands for (a member's name, a
        comma, a colon), so that the white space that comes next may be dropped."""
        self.after, self.before = self.at, before

    def read(self, *, grow: bool = False) -> bool:
        """Read a chunk (with ``grow``, as much as is held, so that a value decoded again and
        again costs twice its length at most); False at the end of the text."""
        if self.ended:
            return False
        new = self.handle.read(max(self.chunk, len(self.text) - self.start) if grow else self.chunk)
        if not new:
            self.ended = True
            return False
        if not new.isascii():
            try:
                new.encode("utf-8")
            except UnicodeEncodeError as exc:
                self.bad = self.offset + len(self.text) + exc.start
                new, self.after_bad, self.ended = new[: exc.start], new[exc.start :], True
        self._drop(self.start)
        self.text += new
        return True

    def _drop(self, count: int) -> None:
        newlines = self.text.count("\n", 0, count)
        if newlines:
            self.line += newlines
            self.column = count - self.text.rfind("\n", 0, count)
        else:
            self.column += count
        self.offset += count
        self.text = self.text[count:]
        self.at, self.start, self.after = self.at - count, self.start - count, self.after - count

    def value(self) -> Any:
        """Decode the JSON value that comes next and go past it."""
        self.skip()
        begin = self.at
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, begin)
            except json.JSONDecodeError as exc:
                if self._cut_short(exc.msg, exc.pos) and self.read(grow=True):
                    begin = self.at
                    continue
                if exc.pos == begin:  # no value starts here: json words it by what came before
                    raise self.structure_error() from None
                raise self.json_break(exc.msg, exc.pos) from None
            except RecursionError:
                raise self._break("JSON nested too deeply", begin) from None
            except ValueError:  # a number longer than Python's int conversion allows
                digits = sys.get_int_max_str_digits()
                raise self._break(f"a number has more than {digits} digits", begin) from None
            if end < len(self.text) - MARGIN or not self.read(grow=True):
                self.at = end
                return value
            begin = self.at

    def _cut_short(self, message: str, index: int) -> bool:
        """Whether an error may be due to the buffer's end rather than the text."""
        return message.startswith("Unterminated string") or index >= len(self.text) - MARGIN

    def structure_error(self) -> JSONBreak:
        """The break at ``at`` between values: json's own error for what came before (as a
        short stand-in) and the white space from ``after`` to the character at ``at``. json
        reports it at that character (or at the end of the text), so the white space dropped
        before it moves nothing. (Python 3.13's json reports a trailing comma at the comma, in
        ``before``; the project runs on 3.11, whose json does not.)"""
        stand_in = self.before + self.text[self.after : self.at + 1]
        try:
            json.loads(stand_in)
        except json.JSONDecodeError as exc:
            return self.json_break(exc.msg, self.after + exc.pos - len(self.before))
        return self.json_break("Expecting value", self.at)  # not reached: stand_in is cut short

    def json_break(self, message: str, index: int) -> JSONBreak:
        if self.bad is not None and self._cut_short(message, index):
            return self.bad_break()
        line, column = self._where(index)
        error = f"{message}: line {line} column {column} (char {self.offset + index})"
        return JSONBreak(error, f"line {line} column {column}", self._excerpt(index))

    def _break(self, error: str, index: int) -> JSONBreak:
        line, column = self._where(index)
        return JSONBreak(error, f"line {line} column {column}", self._excerpt(index))

    def bad_break(self) -> JSONBreak:
        line, column = self._where(len(self.text))
        error = f"not valid UTF-8 (character {self.bad} is not a UTF-8 byte)"
        excerpt = self.text[self.start :] + self.after_bad[:EXCERPT].split("\n", 1)[0]
        return JSONBreak(error, f"line {line} column {column}", excerpt)

    def _where(self, index: int) -> tuple[int, int]:
        """Line and column (from 1, as json counts them) of ``text[index]`` in the whole text."""
        newline = self.text.rfind("\n", 0, index)
        column = index - newline if newline >= 0 else self.column + index
        return self.line + self.text.count("\n", 0, index), column

    def _excerpt(self, index: int) -> str:
        end = min(len(self.text), max(index, self.start) + EXCERPT)
        newline = self.text.find("\n", index + 1, end)
        return self.text[self.start : newline if newline >= 0 else end]
