"""`rknn-diag conformance`: run the conformance suite on a target, keep every result
line, then write the report. The suite is the repository's `conformance/` folder, found
from the working folder (see `rknn_diag.resources`); every output goes under --out."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .errors import RknnDiagError
from .resources import default_gate, find_suite
from .targets import TARGETS


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="rknn-diag conformance", description=__doc__)
    p.add_argument("--target", default="simulator", choices=TARGETS,
                   help="where the cases run (default: simulator)")
    p.add_argument("--device-id", action="append", default=[], metavar="SERIAL",
                   help="board serial for --target board (repeatable)")
    p.add_argument("--adb-server", default=None, metavar="HOST:PORT", help="adb server for boards")
    p.add_argument("--converter", default="project", choices=("project", "toolkit2"),
                   help="board: build the .rknn with rknn_diag (default) or with the vendor's rknn-toolkit2 "
                        "(a real board running rknn-toolkit-lite2); with --target toolkit2, --device-id "
                        "runs the vendor's own init_runtime(target=CHIP, device_id=SERIAL) path")
    p.add_argument("--step-timeout", type=float, default=None, metavar="SECONDS",
                   help="board: limit for each adb step (default 30)")
    p.add_argument("--run-timeout", type=float, default=None, metavar="SECONDS",
                   help="board: one on-board run; toolkit2: one vendor case (default 300)")
    p.add_argument("--suite", default=None,
                   help="the conformance folder (default: conformance/ of the checkout holding the working folder)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder, relative to the working folder "
                        "(default: reports/out/<target>-<timestamp>)")
    p.add_argument("--results", default=None, metavar="PATH",
                   help="results file to append to (default: OUT/results.jsonl); reuse one with "
                        "--skip-passed to resume a run that was interrupted")
    p.add_argument("--skip-passed", action="store_true", help="skip cases already passed in --results")
    p.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers (default: auto; 0 for none)")
    p.add_argument("-k", dest="keyword", default=None, help="only cases matching this pytest -k expression")
    p.add_argument("--no-report", action="store_true", help="write results only, no report")
    p.add_argument("--baseline", nargs="*", default=None, help="baseline results for the report's diff")
    args, extra = p.parse_known_args(argv)

    try:
        suite = Path(args.suite).resolve() if args.suite else find_suite()
    except RknnDiagError as e:
        print(f"E {e}", file=sys.stderr)
        return 2
    if not suite.is_dir():
        print(f"E conformance suite not found at {suite}; pass --suite PATH (the repository's conformance/ "
              f"folder)", file=sys.stderr)
        return 2
    # Absolute before pytest runs from the suite's checkout: --out is the user's working folder's.
    out = Path(args.out or Path("reports") / "out" / f"{args.target}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = Path(args.results or out / "results.jsonl").resolve()
    cmd = [sys.executable, "-m", "pytest", str(suite), "--target", args.target, "--results", str(results),
           "-p", "no:cacheprovider", "-q", "-rfE"]
    if args.workers not in ("0", 0):
        cmd += ["-n", str(args.workers)]
    for d in args.device_id:
        cmd += ["--device-id", d]
    if args.adb_server:
        cmd += ["--adb-server", args.adb_server]
    if args.converter != "project":
        cmd += ["--converter", args.converter]
    for opt in ("step_timeout", "run_timeout"):
        if getattr(args, opt) is not None:
            cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    if args.skip_passed:
        cmd.append("--skip-passed")
    if args.keyword:
        cmd += ["-k", args.keyword]
    cmd += extra
    print(f"I running: {' '.join(cmd)}", file=sys.stderr)
    # pytest runs from the repository so fixtures/ imports; results survive a crash of any case.
    # A fresh session: xdist worker ids inherited from a caller's own pytest run (this CLI run by
    # a test, say) would make board picking (`_pick_board`) act as that worker.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    code = subprocess.call(cmd, cwd=str(suite.parent), env=env)
    print(f"I results: {results}", file=sys.stderr)
    if args.no_report:
        return code
    if not results.exists():
        print("E no results were written; nothing to report", file=sys.stderr)
        return code or 1
    from .report.cli import main as report_main
    report_args = [str(results), "-o", str(out / "report"), "--gate", str(default_gate())]
    if args.baseline:
        report_args += ["--baseline", *args.baseline]
    gate = report_main(report_args)
    print(f"I report: {out / 'report' / 'index.html'}", file=sys.stderr)
    # pytest's own failures decide first; a failed gate also fails the run.
    return code or gate
