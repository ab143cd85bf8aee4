"""The results file: one JSON line per finished case, appended and flushed at once.

Written by the conformance suite (pytest plugin), read by the report. A crash,
a lost board or a killed run loses nothing already written; a rerun can skip
what already passed (`passed_cases`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import outcome as _outcome

# status: how the case ended.
STATUSES = ("passed", "failed", "error", "xfail", "xpass", "skipped")
# category, for anything not passed: who is to blame (decided in rknn_diag.outcome).
CATEGORIES = _outcome.CATEGORIES
SCHEMA_VERSION = 1


@dataclass
class CaseResult:
    case: str                          # unique case id, e.g. "ops/Conv/k3_s2_p1"
    status: str                        # one of STATUSES
    target: str                        # simulator | toolkit2 | board
    op: str | None = None              # op under test, or None for zoo/model cases
    mode: str = "float16"              # float16 | w8a8 | asymmetric_quantized-u8 | ...
    model: str | None = None           # zoo model name, for model cases
    board: str | None = None           # board serial, for board cases
    category: str | None = None        # one of CATEGORIES when status is not passed
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)   # cosine, max_abs, sqnr_db, top1, ...
    versions: dict[str, str] = field(default_factory=dict)    # toolkit, rknn_server, driver, runtime ...
    duration: float = 0.0              # seconds for the whole case
    latency_ms: float | None = None    # inference time alone
    repro: str = ""                    # a command that reproduces this single case
    run_id: str = ""
    timestamp: float = field(default_factory=time.time)
    schema: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"category {self.category!r} not in {CATEGORIES}")


def append(path: str | os.PathLike, result: CaseResult) -> None:
    """Append one line and make it durable before returning (O_APPEND lines from
    several xdist workers do not interleave: each is one write() under PIPE_BUF-ish sizes,
    and we hold an exclusive lock to be sure)."""
    line = (json.dumps(asdict(result), sort_keys=True, default=_default) + "\n").encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _default(o: Any) -> Any:
    # numpy scalars in metrics
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def read(paths: Iterable[str | os.PathLike]) -> Iterator[CaseResult]:
    """Every result in the files, in order. A torn last line (a killed writer) is skipped;
    any other malformed line raises, naming file and line."""
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for lineno, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                if lineno == len(lines):
                    continue  # the writer died mid-line; everything before it stands
                raise ValueError(f"{path}:{lineno}: not a JSON line ({e})") from None
            known = {k: v for k, v in data.items() if k in CaseResult.__dataclass_fields__}
            try:
                yield CaseResult(**known)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}:{lineno}: not a result line ({e})") from None


def passed_cases(path: str | os.PathLike, target: str) -> set[str]:
    """Case ids that already passed on `target`: what a rerun may skip."""
    if not Path(path).exists():
        return set()
    return {r.case for r in read([path]) if r.status == "passed" and r.target == target}
