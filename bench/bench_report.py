"""Time `rknn-diag report` on a full run (7 000+ cases, fixtures.results.write_full_run)
and print what it writes: seconds per stage (median of --repeat) and file sizes.

    python -m bench.bench_report [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fixtures.results import write_full_run
from rknn_diag.report import cli, data, gate, html_page, junit, markdown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        n = len(write_full_run(results, seed=args.seed))
        g = gate.load_gate()
        times: dict[str, list[float]] = {k: [] for k in ("load", "gate", "index.html", "summary.md", "junit.xml",
                                                        "whole command")}
        for _ in range(args.repeat):
            t = time.perf_counter()
            df = data.load([results])
            times["load"].append(time.perf_counter() - t)
            t = time.perf_counter()
            rules = gate.evaluate(g, df)
            times["gate"].append(time.perf_counter() - t)
            page = html_page.Page(df=df, gate=g, rules=rules, passed=gate.verdict(rules), inputs=[str(results)],
                                  baseline_inputs=[])
            for name, fn in (("index.html", html_page.render), ("summary.md", markdown.render)):
                t = time.perf_counter()
                fn(page)
                times[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            junit.render(df)
            times["junit.xml"].append(time.perf_counter() - t)
            out = Path(tmp) / "out"
            t = time.perf_counter()
            cli.main([str(results), "-o", str(out)])
            times["whole command"].append(time.perf_counter() - t)
        print(f"\n{n} cases, median of {args.repeat}:")
        for k, v in times.items():
            print(f"  {k:14s} {statistics.median(v):7.2f} s")
        for f in sorted(out.iterdir()):
            print(f"  {f.name:14s} {f.stat().st_size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
