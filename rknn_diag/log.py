"""Vendor-style log lines: 'E ...', 'W ...', 'I ...', 'D ...' (D only when verbose)."""

from __future__ import annotations

import sys
from typing import TextIO


class Logger:
    def __init__(self, verbose: bool = False, verbose_file: str | None = None, stream: TextIO | None = None):
        self.verbose = verbose
        self.stream = stream
        self._file = open(verbose_file, "a", encoding="utf-8") if verbose_file else None

    def _emit(self, level: str, msg: str) -> None:
        for line in str(msg).splitlines() or [""]:
            text = f"{level} {line}"
            if level != "D" or self.verbose:
                print(text, file=self.stream or sys.stdout, flush=True)
            if self._file:
                self._file.write(text + "\n")
                self._file.flush()

    def e(self, msg: str) -> None:
        self._emit("E", msg)

    def w(self, msg: str) -> None:
        self._emit("W", msg)

    def i(self, msg: str) -> None:
        self._emit("I", msg)

    def d(self, msg: str) -> None:
        self._emit("D", msg)

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
