"""What the udev rules do to a Rockchip USB device (vendor 2207): a small evaluator of the
rules files, not a line grep. Rules are read as udev reads them — every file of the rule
folders in one lexical order (a name in /etc hides the same name in /lib), backslash line
continuations joined — and run against a device of vendor 2207 on subsystem usb, action
add: ENV{...} assignments feed later matches (Debian's 51-android.rules sets
ENV{adb_user}="yes" for 2207, then grants MODE="0660", GROUP="plugdev", TAG+="uaccess" on a
later line), GOTO/LABEL skip. Keys that depend on the exact device (idProduct, KERNEL, ...)
are taken as matching: some 2207 device will.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

VENDOR = "2207"
# key[{attr}] op "value"; values are quoted and udev does not escape quotes inside them.
_PAIR = re.compile(r'([A-Za-z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"')
_KNOWN = {("SUBSYSTEM", None): "usb", ("SUBSYSTEMS", None): "usb", ("ACTION", None): "add",
          ("ATTR", "idVendor"): VENDOR, ("ATTRS", "idVendor"): VENDOR, ("ENV", "ID_VENDOR_ID"): VENDOR,
          ("SYSFS", "idVendor"): VENDOR}


@dataclass
class Access:
    """The outcome for a 2207 device: what grants access, and the lines that decided it."""

    mode: int | None = None
    group: str | None = None
    uaccess: bool = False
    where: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)   # lines that match vendor 2207 at all

    @property
    def world(self) -> bool:
        return self.mode is not None and self.mode & 0o006 == 0o006

    @property
    def group_rw(self) -> bool:
        # udev's default mode is 0660 once a GROUP is set
        return self.group is not None and (self.mode is None or self.mode & 0o060 == 0o060)

    @property
    def granted(self) -> bool:
        return self.world or self.group_rw or self.uaccess


def _matches(pattern: str, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in pattern.split("|"))


def rule_files(dirs: list[Path]) -> list[Path]:
    """All *.rules in udev's order: by file name across folders, earlier folders hiding later."""
    chosen: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for f in d.glob("*.rules"):
                chosen.setdefault(f.name, f)
    return [chosen[n] for n in sorted(chosen)]


def _logical_lines(text: str):
    """(first line number, joined text) with backslash continuations joined, comments dropped."""
    buf, start = "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip() and not buf.lstrip().startswith("#"):
            yield start, buf
        buf = ""
    if buf.strip() and not buf.lstrip().startswith("#"):
        yield start, buf


def evaluate(files: list[tuple[str, str]]) -> Access:
    """`files`: (shown name, text) in udev order. Returns what a 2207 device ends up with."""
    acc, env, goto = Access(), {}, None
    for name, text in files:
        goto = None   # GOTO works within one file
        for n, line in _logical_lines(text):
            pairs = _PAIR.findall(line)
            if goto is not None:
                if any(k == "LABEL" and v == goto for k, _, _, v in pairs):
                    goto = None
                continue
            matched, vendor_named = True, False
            for key, attr, op, value in pairs:
                if op not in ("==", "!="):
                    continue
                known = _KNOWN.get((key, attr or None))
                if key == "ENV" and (key, attr) not in _KNOWN:
                    known = env.get(attr, "")
                elif known is None:
                    continue     # device-specific (idProduct, KERNEL, DRIVER...): assume it matches
                if (key, attr) in (("ATTR", "idVendor"), ("ATTRS", "idVendor"), ("SYSFS", "idVendor"),
                                   ("ENV", "ID_VENDOR_ID")) and op == "==" and _matches(value, VENDOR):
                    vendor_named = True
                if _matches(value, known) != (op == "=="):
                    matched = False
                    break
            if not matched:
                continue
            where = f"{name}:{n}"
            if vendor_named:
                acc.mentions.append(where)
            for key, attr, op, value in pairs:
                if op in ("==", "!="):
                    continue
                if key == "GOTO":
                    goto = value
                elif key == "ENV" and attr:
                    env[attr] = value
                elif key == "MODE" and re.fullmatch(r"0?[0-7]{3,4}", value):
                    acc.mode = int(value, 8)
                    acc.where.append(where)
                elif key == "GROUP":
                    acc.group = value
                    acc.where.append(where)
                elif key == "TAG" and op in ("+=", "=", ":=") and value == "uaccess":
                    acc.uaccess = True
                    acc.where.append(where)
    return acc
