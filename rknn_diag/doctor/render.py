"""How findings are shown: the summary, -v, --json, --list-checks and --report."""

from __future__ import annotations

import json
import platform
import sys
import threading
from pathlib import Path
from typing import Iterable

from .core import CATEGORIES, ISSUE_STATUSES, Check, Context, Finding

MARK = {"ok": "✓", "warn": "!", "error": "✗", "crash": "☠", "skip": "-"}
# For terminals that cannot show the marks above (LANG=C, a latin-1 console): "[?]" otherwise.
ASCII_MARK = {"ok": "+", "warn": "!", "error": "x", "crash": "X", "skip": "-"}


def marks_for(stream=None) -> dict[str, str]:
    """MARK when `stream` (default stdout) can encode it, else ASCII_MARK."""
    enc = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(MARK.values()).encode(enc)
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARK
    return MARK
# Packages worth naming in a bug report: the toolkits, their frameworks and our own stack.
REPORT_PACKAGES = ("rknn-toolkit", "rknn-toolkit2", "rknn-toolkit-lite2", "numpy", "onnx", "onnxruntime",
                   "protobuf", "tensorflow", "tensorflow-cpu", "tflite", "torch", "torchvision", "mxnet",
                   "opencv-python", "opencv-python-headless", "pillow", "scipy", "psutil", "ruamel-yaml",
                   "adbutils", "packaging", "jsonschema")


def _category_mark(fs: list[Finding], mark: dict[str, str] = MARK) -> str:
    st = {f.status for f in fs}
    if st & {"error", "crash"}:
        return mark["error"]
    if "warn" in st:
        return mark["warn"]
    if st == {"skip"}:
        return mark["skip"]
    return mark["ok"]


def _skips(fs: list[Finding], mark: dict[str, str]) -> list[str]:
    """Checks that could not run, grouped by why (so the plain output says why, briefly)."""
    why: dict[str, list[str]] = {}
    for f in fs:
        if f.status == "skip":
            why.setdefault(f.message or "no reason given", []).append(f.id)
    return [f"    {mark['skip']} skipped: {reason} ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})"
            for reason, ids in why.items()]


def summary(findings: list[Finding], verbose: bool = False, mark: dict[str, str] | None = None) -> str:
    MARK = mark or marks_for()   # noqa: N806 - the marks this output can show
    lines = []
    for cat, title in CATEGORIES.items():
        fs = [f for f in findings if f.category == cat]
        if not fs:
            continue
        counts = {s: sum(f.status == s for f in fs) for s in MARK}
        tail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines.append(f"[{_category_mark(fs, MARK)}] {title} ({tail})")
        if not verbose:
            lines.extend(_skips(fs, MARK))
        for f in fs:
            if not verbose and f.status not in ISSUE_STATUSES:
                continue
            lines.append(f"    {MARK[f.status]} {f.id}: {f.message}")
            if verbose or f.status in ("error", "crash"):
                if f.fix:
                    lines.append(f"      fix: {f.fix}")
            if verbose:
                lines.append(f"      ref: {_ref(f.ref)}")
                if f.detail:
                    lines.extend("      | " + d for d in f.detail.rstrip().splitlines())
    issues = [f for f in findings if f.status in ISSUE_STATUSES]
    cats = {f.category for f in issues}
    lines.append("")
    lines.append("No issues found." if not issues else
                 f"{len(issues)} issue{'s' if len(issues) != 1 else ''} in {len(cats)} "
                 f"categor{'ies' if len(cats) != 1 else 'y'}.")
    if not verbose and issues:
        lines.append("Run with -v for every finding, its fix and its guide section.")
    return "\n".join(lines)


def _ref(ref: str) -> str:
    return f"guide §{ref}" if ref and ref[0].isdigit() else ref


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"checks": [f.to_json() for f in findings]}, indent=2, ensure_ascii=False)


def list_checks(checks: Iterable[Check]) -> str:
    rows = [(c.id, c.category, _ref(c.ref), c.title + (" [slow]" if c.slow else "")) for c in checks]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{i:<{w}}  {cat:<11}  {ref:<22}  {t}" for i, cat, ref, t in rows)


def report(ctx: Context) -> str:
    """A collect_env-style block to paste into a bug report."""
    from .. import __version__
    from .board_facts import BoardLayerMissing
    lines = [f"rknn-doctor report (rknn_diag {__version__})", ""]
    lines.append(f"OS: {platform.platform()} ({platform.machine()})")
    lines.append(f"Python: {sys.version.split()[0]} ({platform.python_implementation()}) at {sys.executable}")
    lines.append(f"rknn_diag: {__version__} at {Path(__file__).resolve().parents[1]}")
    tk = ctx.toolkit()
    lines.append(f"Toolkit: {tk} ({tk.source})" if tk else "Toolkit: none installed")
    lines.append(f"Root: {ctx.root}")
    lines.append("")
    lines.append("Packages:")
    dists = ctx.distributions()
    for name in REPORT_PACKAGES:
        for d in dists.get(name, []):
            lines.append(f"  {d.name:<24} {d.version:<16} {d.location}")
    lines.append("")
    lines.append("Boards:")
    box: dict = {}

    def get() -> None:
        try:
            box["facts"] = ctx.board_facts()
        except Exception as e:  # reported in the block, never raised
            box["error"] = e

    t = threading.Thread(target=get, daemon=True)
    t.start()
    t.join(ctx.timeout)
    if "error" in box:
        e = box["error"]
        lines.append(f"  {e}" if isinstance(e, BoardLayerMissing) else f"  error: {type(e).__name__}: {e}")
    elif "facts" not in box:
        lines.append(f"  (no answer within {ctx.timeout:g} s)")
    elif not box["facts"]:
        lines.append("  none found")
    for f in box.get("facts", []):
        if f.get("error"):
            lines.append(f"  {f['serial']}: error: {f['error']}")
        else:
            lines.append(f"  {f['serial']}: chip {f.get('chip')} ({f.get('generation')}), rknn_server "
                         f"{f.get('rknn_server')}, NPU driver {f.get('npu_driver')}, runtime {f.get('runtime')}, "
                         f"mini driver {f.get('mini_driver')}")
    return "\n".join(lines)
