"""`rknn-diag report RESULTS... [--baseline OLD...] [--gate GATE.toml] [--environment FILE] -o DIR`

Reads results files (JSON lines), applies the quality gate and writes DIR/index.html
(one self-contained page), DIR/summary.md, DIR/junit.xml and DIR/results.csv
(and DIR/results.parquet when pyarrow is installed).

Exit status: 0 the gate passed, 1 the gate failed (index.html says which rule),
2 the input could not be used (missing/malformed results or gate file; nothing written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from pathlib import Path

from rknn_diag.errors import RknnDiagError

from . import baseline as baseline_mod
from . import charts, data, gate as gate_mod, html_page, junit, markdown

EXIT_PASS, EXIT_GATE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def log(msg: str) -> None:
    print(f"rknn-diag report: {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rknn-diag report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results files (JSON lines) of this run")
    parser.add_argument("--baseline", nargs="+", metavar="OLD_RESULTS", default=[],
                        help="results files of the run to compare against")
    parser.add_argument("--gate", metavar="GATE.toml", help="quality gate rules (default: reports/gate.toml)")
    parser.add_argument("--environment", metavar="FILE",
                        help="environment text to include (e.g. the output of `rknn-doctor --report`)")
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="directory to write the report into")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RknnDiagError as e:
        log(f"error: {e}")
        return EXIT_BAD_INPUT


def run(args) -> int:
    # Read and check everything before writing anything.
    gate = gate_mod.load_gate(args.gate)
    log(f"gate: {gate.source}")
    df = data.load(args.results)
    log(f"read {len(df)} cases from {len(args.results)} file(s)")
    diff = None
    if args.baseline:
        old = data.load(args.baseline)
        b = gate.baseline
        diff = baseline_mod.diff(df, old, cosine_drop=b["cosine_drop"], latency_increase_pct=b["latency_increase_pct"],
                                 latency_min_increase_ms=b["latency_min_increase_ms"])
        log(f"baseline: {len(old)} cases, {diff.matched} matched; {len(diff.new_failures)} new failure(s), "
            f"{len(diff.fixed)} fixed, {len(diff.accuracy_moved)} accuracy moved, "
            f"{len(diff.latency_regressions)} latency regression(s)")
    env_text = None
    if args.environment:
        p = Path(args.environment)
        try:
            # colour codes from a terminal capture would show up as junk in the page
            env_text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", p.read_text(encoding="utf-8", errors="replace"))
        except OSError as e:
            raise RknnDiagError(f"cannot read the environment file ({e.strerror})", where=str(p),
                                fix="pass the text file written by `rknn-doctor --report`") from None
    rules = gate_mod.evaluate(gate, df, diff)
    passed = gate_mod.verdict(rules)
    if not charts.available():
        log("matplotlib is not installed: charts are replaced by tables (pip install matplotlib)")
    page = html_page.Page(df=df, gate=gate, rules=rules, passed=passed, inputs=[str(p) for p in args.results],
                     baseline_inputs=[str(p) for p in args.baseline], diff=diff, environment_text=env_text,
                     environment_source=args.environment,
                     generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "index.html", html_page.render(page).encode("utf-8"))
    _write(out / "summary.md", markdown.render(page).encode("utf-8"))
    _write(out / "junit.xml", junit.render(df))
    flat = df.drop(columns=["source"])
    _write(out / "results.csv", flat.to_csv(index=False).encode("utf-8"))
    written = "index.html, summary.md, junit.xml, results.csv"
    try:
        import pyarrow  # noqa: F401  (optional: parquet only when it is there)
    except ImportError:
        pass
    else:
        try:
            flat.to_parquet(out / "results.parquet")
            written += ", results.parquet"
        except (ValueError, TypeError, pyarrow.ArrowException) as e:  # a mixed-type column; the CSV has it all
            log(f"results.parquet not written ({e})")
    log(f"wrote {out}/: {written}")
    for r in rules:
        if r.passed is False:
            log(f"gate rule not met: {r.rule}: {r.title} — {r.detail}")
    log("quality gate: " + ("PASS" if passed else "FAIL"))
    return EXIT_PASS if passed else EXIT_GATE_FAILED


def _write(path: Path, payload: bytes) -> None:
    """Write whole or not at all: a crash never leaves half a report behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
