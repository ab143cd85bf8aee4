"""A reader for protobuf text format (Caffe .prototxt), with no Caffe and no .proto schema.

Without the schema a field's type is unknown, so values stay as the text gave them
(str for identifiers/numbers, unquoted str for strings, a Message for `{...}` blocks).
Every field keeps its line number so findings can point at it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Union

from ..errors import ModelLoadError

# Bounds on one input (the doctor reads files from anyone). A Caffe deploy prototxt is
# kilobytes (ResNet-152's is ~200 KB); these keep any file under ~10 s and ~512 MB.
MAX_BYTES = 32 << 20
MAX_FIELDS = 250_000     # the largest zoo nets: ~1 000 layers x ~30 fields
MAX_SECONDS = 10.0
MAX_DEPTH = 100          # Caffe nets nest 3-4 deep; Python's own limit is 1000 frames

# Each pattern is one character class repeated: no alternation inside a repeat, so a match
# is linear in its length and never backtracks (an unterminated string is scanned once).
_WS = re.compile(r"[ \t\r\f\v]+")
_WORD = re.compile(r"[A-Za-z0-9_.+\-]+")
_STRING_STOP = {'"': re.compile(r'["\\\n]'), "'": re.compile(r"['\\\n]")}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PUNCT = frozenset("{}<>:;,[]")

Value = Union[str, "Message"]


@dataclass
class Field:
    name: str
    value: Value
    line: int


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)
    line: int = 1

    def all(self, name: str) -> list[Value]:
        return [f.value for f in self.fields if f.name == name]

    def get(self, name: str, default: Value | None = None) -> Value | None:
        vals = self.all(name)
        return vals[-1] if vals else default

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def messages(self, name: str) -> list["Message"]:
        return [v for v in self.all(name) if isinstance(v, Message)]


class PrototxtError(ModelLoadError):
    pass


def _tokens(text: str, where: str) -> Iterator[tuple[str, str, int]]:
    """Linear-time scanner; yields (kind, text, line) lazily, never a list of the whole file."""
    line, pos, n = 1, 0, len(text)
    while pos < n:
        c = text[pos]
        if c == "\n":
            line += 1
            pos += 1
        elif c in " \t\r\f\v":
            pos = _WS.match(text, pos).end()
        elif c == "#":
            end = text.find("\n", pos)
            pos = n if end < 0 else end
        elif c in _PUNCT:
            yield "punct", c, line
            pos += 1
        elif c in "\"'":
            stop, i = _STRING_STOP[c], pos + 1
            while True:
                m = stop.search(text, i)
                if m is None or m.group() == "\n":
                    raise PrototxtError("unterminated string", where=f"{where}:{line}",
                                        fix="close the quote on the same line")
                if m.group() == "\\":
                    if m.end() >= n or text[m.end()] == "\n":
                        raise PrototxtError("unterminated string", where=f"{where}:{line}",
                                            fix="close the quote on the same line")
                    i = m.end() + 1     # skip the escaped character
                    continue
                break
            yield "string", _ESCAPE.sub(r"\1", text[pos + 1:m.start()]), line
            pos = m.end()
        else:
            m = _WORD.match(text, pos)
            if m is None:
                raise PrototxtError(f"unexpected character {c!r}", where=f"{where}:{line}",
                                    fix="the file is not protobuf text format; check quotes and braces")
            yield "word", m.group(), line
            pos = m.end()


def read(path: str | Path) -> Message:
    """Parse a prototxt file, refusing one over MAX_BYTES before reading it whole."""
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PrototxtError(f"the file is over {MAX_BYTES >> 20} MiB: not a network description",
                            where=str(path), fix="pass the deploy .prototxt (the weights go in the .caffemodel)")
    return parse(data.decode("utf-8", errors="replace"), str(path))


class _Stream:
    """One token of lookahead over the scanner, with the field and time budget."""

    def __init__(self, text: str, where: str):
        self._it = _tokens(text, where)
        self.where = where
        self.count = 0
        self.line = 1
        self.deadline = time.monotonic() + MAX_SECONDS
        self.head = self._next()

    def _next(self) -> tuple[str, str, int] | None:
        tok = next(self._it, None)
        if tok is not None:
            self.count += 1
            self.line = tok[2]
            if self.count % 4096 == 0 and time.monotonic() > self.deadline:
                raise PrototxtError(f"reading took over {MAX_SECONDS:.0f} s; stopped", where=f"{self.where}:{self.line}",
                                    fix="pass the deploy .prototxt, not a generated or corrupted file")
        return tok

    def advance(self) -> None:
        self.head = self._next()


def parse(text: str, where: str = "<prototxt>") -> Message:
    if len(text) > MAX_BYTES:
        raise PrototxtError(f"the text is over {MAX_BYTES >> 20} MiB: not a network description", where=where,
                            fix="pass the deploy .prototxt (the weights go in the .caffemodel)")
    stream = _Stream(text, where)
    fields = [0]

    def peek() -> tuple[str, str, int] | None:
        return stream.head

    def take() -> None:
        stream.advance()

    def add(msg: Message, f: Field) -> None:
        fields[0] += 1
        if fields[0] > MAX_FIELDS:
            raise PrototxtError(f"over {MAX_FIELDS} fields: not a network description", where=f"{where}:{f.line}",
                                fix="pass the deploy .prototxt")
        msg.fields.append(f)

    def fail(msg: str, line: int) -> PrototxtError:
        return PrototxtError(msg, where=f"{where}:{line}", fix="fix the prototxt syntax (braces, colons, quotes)")

    def scalar() -> str:
        t = peek()
        if t is None or t[0] not in ("word", "string"):
            raise fail(f"expected a value, got {t[1] if t else 'end of file'!r}", t[2] if t else stream.line)
        take()
        return t[1]

    def message(close: str | None, line: int, depth: int = 0) -> Message:
        if depth > MAX_DEPTH:
            raise fail(f"blocks nested over {MAX_DEPTH} deep", line)
        msg = Message(line=line)
        while True:
            t = peek()
            if t is None:
                if close:
                    raise fail(f"missing '{close}' for the block opened on line {line}", line)
                return msg
            if t[0] == "punct" and t[1] == close:
                take()
                return msg
            if t[0] == "punct" and t[1] in ";,":
                take()
                continue
            if t[0] != "word":
                raise fail(f"expected a field name, got {t[1]!r}", t[2])
            name, fline = t[1], t[2]
            take()
            t = peek()
            colon = t is not None and t[1] == ":"
            if colon:
                take()
                t = peek()
            if t is not None and t[1] in ("{", "<"):
                take()
                add(msg, Field(name, message("}" if t[1] == "{" else ">", t[2], depth + 1), fline))
            elif colon and t is not None and t[1] == "[":
                take()
                while peek() is not None and peek()[1] != "]":
                    add(msg, Field(name, scalar(), fline))
                    if peek() is not None and peek()[1] == ",":
                        take()
                if peek() is None:
                    raise fail("missing ']'", fline)
                take()
            elif colon:
                add(msg, Field(name, scalar(), fline))
            else:
                raise fail(f"field '{name}' has neither ':' nor a block", fline)

    return message(None, 1)
