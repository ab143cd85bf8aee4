"""The doctor's machinery: findings, the check registry, the context, the runner.

A check is a small function `fn(ctx) -> iterable of Result` registered with
`@check(...)`. It reads one thing and says what it found; the runner stamps
each result with the check's id, category and guide section, turns an
exception into a `crash` finding (the other checks still run), and runs the
slow checks (boards) last, in parallel, under one deadline.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

STATUSES = ("ok", "warn", "error", "skip", "crash")
ISSUE_STATUSES = ("warn", "error", "crash")
# category id -> title, in the order the summary prints them.
CATEGORIES = {
    "python": "Python environment",
    "host": "Host and USB",
    "dataset": "Dataset",
    "models": "Models",
    "performance": "Performance advice",
    "boards": "Boards",
}


@dataclass
class Finding:
    id: str
    category: str
    status: str
    message: str
    fix: str = ""
    ref: str = ""
    detail: str = ""   # explanation or traceback, shown under -v

    def to_json(self) -> dict[str, str]:
        d = asdict(self)
        if not d["detail"]:
            del d["detail"]
        return d


@dataclass
class Result:
    """What a check returns; the runner turns it into a Finding."""

    status: str
    message: str
    fix: str = ""
    ref: str | None = None     # overrides the check's section when one finding needs another
    detail: str = ""


def ok(message: str, **kw: Any) -> Result:
    return Result("ok", message, **kw)


def warn(message: str, fix: str = "", **kw: Any) -> Result:
    return Result("warn", message, fix, **kw)


def error(message: str, fix: str = "", **kw: Any) -> Result:
    return Result("error", message, fix, **kw)


def skip(message: str, **kw: Any) -> Result:
    return Result("skip", message, **kw)


@dataclass(frozen=True)
class Check:
    id: str
    category: str
    ref: str
    title: str
    fn: Callable[["Context"], Iterable[Result] | Result]
    slow: bool = False


REGISTRY: dict[str, Check] = {}


def check(id: str, category: str, ref: str, title: str, *, slow: bool = False) -> Callable:
    """Decorator: register `fn(ctx)` as check `id`."""
    if category not in CATEGORIES:
        raise ValueError(f"check {id}: unknown category {category!r}")

    def deco(fn: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        REGISTRY[id] = Check(id, category, ref, title, fn, slow)
        return fn

    return deco


def all_checks() -> dict[str, Check]:
    from . import checks  # noqa: F401  (importing the package registers every check)
    return REGISTRY


@dataclass(frozen=True)
class Toolkit:
    name: str            # rknn-toolkit (1.x, RKNPU1) or rknn-toolkit2 (RKNPU2)
    version: str
    source: str          # "installed" or "--toolkit-version"

    @property
    def generation(self) -> int:
        return 2 if self.name == "rknn-toolkit2" else 1

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def parse_toolkit(spec: str) -> Toolkit:
    """`1.4.0` -> rknn-toolkit 1.4.0; `2.5.0` -> rknn-toolkit2; `rknn-toolkit2==1.6.0` names it."""
    m = re.fullmatch(r"\s*(?:(rknn[-_]toolkit2?)\s*==\s*)?([0-9][0-9A-Za-z.+-]*)\s*", spec)
    if not m:
        raise ValueError(f"--toolkit-version {spec!r}: expected a version like 1.4.0, 2.5.0 or rknn-toolkit2==1.6.0")
    name, version = m.group(1), m.group(2)
    if name:
        name = name.replace("_", "-")
    else:
        name = "rknn-toolkit2" if int(version.split(".")[0]) >= 2 else "rknn-toolkit"
    return Toolkit(name, version, "--toolkit-version")


@dataclass
class Dist:
    name: str
    version: str
    location: str   # the sys.path entry holding its metadata


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Context:
    """Everything a check may read. Tests build one pointing at fixtures."""

    root: Path = Path("/")
    dataset: Path | None = None
    models: list[Path] = field(default_factory=list)
    toolkit_version: str | None = None
    device_ids: list[str] = field(default_factory=list)
    adb_server: str | None = None
    target_platforms: list[str] = field(default_factory=list)
    batch_size: int | None = None
    epochs: int | None = None
    npu_conv_kernels: int | None = None
    timeout: float = 20.0
    sys_path: list[str] = field(default_factory=lambda: list(sys.path))
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    platform: str = sys.platform
    site_packages: str | None = field(default_factory=lambda: sysconfig.get_paths().get("purelib"))
    user_site_enabled: bool = field(default_factory=lambda: bool(site.ENABLE_USER_SITE))
    board_facts_provider: Callable[["Context"], list[dict]] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    def path(self, p: str) -> Path:
        """`/etc/udev` under --root."""
        return self.root / p.lstrip("/")

    def cached(self, key: str, fn: Callable[[], Any]) -> Any:
        # One lock per key: a board that hangs while its facts are read blocks only
        # the checks waiting for those facts, and cached values may nest.
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                try:
                    self._cache[key] = (True, fn())
                except Exception as e:  # remembered, re-raised to every caller
                    self._cache[key] = (False, e)
            good, value = self._cache[key]
        if not good:
            raise value
        return value

    def distributions(self) -> dict[str, list[Dist]]:
        """Installed distributions on sys_path, by canonical name; several entries = installed twice."""
        def scan() -> dict[str, list[Dist]]:
            from importlib import metadata
            out: dict[str, list[Dist]] = {}
            for entry in self.sys_path:
                if not entry or not os.path.isdir(entry):
                    continue
                for d in metadata.distributions(path=[entry]):
                    name = d.metadata["Name"] if d.metadata else None
                    if not name:
                        continue
                    key = canonical(name)
                    dists = out.setdefault(key, [])
                    if all(x.location != entry for x in dists):
                        dists.append(Dist(name, d.version or "", entry))
            return out
        return self.cached("distributions", scan)

    def installed(self, name: str) -> Dist | None:
        """The copy Python would import (first on sys_path)."""
        dists = self.distributions().get(canonical(name))
        return dists[0] if dists else None

    def toolkit(self) -> Toolkit | None:
        if self.toolkit_version:
            return parse_toolkit(self.toolkit_version)
        for name in ("rknn-toolkit2", "rknn-toolkit"):
            d = self.installed(name)
            if d:
                return Toolkit(name, d.version, "installed")
        return None

    def board_facts(self) -> list[dict]:
        from .board_facts import default_provider, normalize
        provider = self.board_facts_provider or default_provider
        return self.cached("board_facts", lambda: [normalize(f) for f in provider(self)])


NO_TOOLKIT = "no RKNN toolkit installed and no --toolkit-version given"


def _results(value: Iterable[Result] | Result | None) -> list[Result]:
    if value is None:
        return []
    if isinstance(value, Result):
        return [value]
    return list(value)


def _finding(c: Check, r: Result) -> Finding:
    if r.status not in STATUSES:
        raise ValueError(f"check {c.id} returned status {r.status!r}")
    return Finding(c.id, c.category, r.status, r.message, r.fix, r.ref or c.ref, r.detail)


def run_one(c: Check, ctx: Context) -> list[Finding]:
    try:
        found = [_finding(c, r) for r in _results(c.fn(ctx))]
        return found or [Finding(c.id, c.category, "ok", "nothing to report", "", c.ref)]
    except Exception as e:
        return [Finding(c.id, c.category, "crash", f"the check itself failed: {type(e).__name__}: {e}",
                        "this is a bug in rknn-doctor; please report it with the traceback (-v)", c.ref,
                        traceback.format_exc())]


def run_checks(ctx: Context, ids: Iterable[str] | None = None) -> list[Finding]:
    """Fast checks in registration order, then the slow ones in parallel under ctx.timeout."""
    registry = all_checks()
    if ids:
        unknown = [i for i in ids if i not in registry]
        if unknown:
            raise KeyError(f"unknown check id(s): {', '.join(unknown)} (see --list-checks)")
        selected = [registry[i] for i in registry if i in set(ids)]
    else:
        selected = list(registry.values())
    findings: list[Finding] = []
    for c in selected:
        if not c.slow:
            findings.extend(run_one(c, ctx))
    slow = [c for c in selected if c.slow]
    outs: dict[str, list[Finding]] = {}

    def work(c: Check) -> None:
        outs[c.id] = run_one(c, ctx)

    # Daemon threads: a board that never answers cannot keep the doctor alive.
    threads = [(c, threading.Thread(target=work, args=(c,), daemon=True)) for c in slow]
    start = time.monotonic()
    for _, t in threads:
        t.start()
    for c, t in threads:
        t.join(max(0.0, start + ctx.timeout - time.monotonic()))
        if c.id in outs:
            findings.extend(outs[c.id])
        else:
            findings.append(Finding(c.id, c.category, "error", f"timed out after {ctx.timeout:g} s",
                                    "check that the board answers `adb shell true`; raise --timeout for slow links",
                                    c.ref))
    return findings
