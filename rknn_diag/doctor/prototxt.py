"""A reader for protobuf text format (Caffe .prototxt), with no Caffe and no .proto schema.

Without the schema a field's type is unknown, so values stay as the text gave them
(str for identifiers/numbers, unquoted str for strings, a Message for `{...}` blocks).
Every field keeps its line number so findings can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Union

from ..errors import ModelLoadError

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\n) |
    (?P<comment>\#[^\n]*) |
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*') |
    (?P<punct>[{}<>:;,\[\]]) |
    (?P<word>[A-Za-z0-9_.+\-]+)
""", re.VERBOSE)

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
    line, pos = 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PrototxtError(f"unexpected character {text[pos]!r}", where=f"{where}:{line}",
                                fix="the file is not protobuf text format; check quotes and braces")
        kind = m.lastgroup
        if kind == "ws":
            line += m.group().count("\n")
        elif kind == "string":
            body = m.group()[1:-1]
            yield "string", re.sub(r"\\(.)", r"\1", body), line
        elif kind != "comment":
            yield kind, m.group(), line
        pos = m.end()


def parse(text: str, where: str = "<prototxt>") -> Message:
    toks = list(_tokens(text, where))
    i = 0

    def peek() -> tuple[str, str, int] | None:
        return toks[i] if i < len(toks) else None

    def fail(msg: str, line: int) -> PrototxtError:
        return PrototxtError(msg, where=f"{where}:{line}", fix="fix the prototxt syntax (braces, colons, quotes)")

    def scalar() -> str:
        nonlocal i
        t = peek()
        if t is None or t[0] not in ("word", "string"):
            raise fail(f"expected a value, got {t[1] if t else 'end of file'!r}", t[2] if t else toks[-1][2])
        i += 1
        return t[1]

    def message(close: str | None, line: int) -> Message:
        nonlocal i
        msg = Message(line=line)
        while True:
            t = peek()
            if t is None:
                if close:
                    raise fail(f"missing '{close}' for the block opened on line {line}", line)
                return msg
            if t[0] == "punct" and t[1] == close:
                i += 1
                return msg
            if t[0] == "punct" and t[1] in ";,":
                i += 1
                continue
            if t[0] != "word":
                raise fail(f"expected a field name, got {t[1]!r}", t[2])
            name, fline = t[1], t[2]
            i += 1
            t = peek()
            colon = t is not None and t[1] == ":"
            if colon:
                i += 1
                t = peek()
            if t is not None and t[1] in ("{", "<"):
                i += 1
                msg.fields.append(Field(name, message("}" if t[1] == "{" else ">", t[2]), fline))
            elif colon and t is not None and t[1] == "[":
                i += 1
                while peek() is not None and peek()[1] != "]":
                    msg.fields.append(Field(name, scalar(), fline))
                    if peek() is not None and peek()[1] == ",":
                        i += 1
                if peek() is None:
                    raise fail("missing ']'", fline)
                i += 1
            elif colon:
                msg.fields.append(Field(name, scalar(), fline))
            else:
                raise fail(f"field '{name}' has neither ':' nor a block", fline)

    return message(None, 1)
