"""`rknn-diag model` on the real-model corpus: for each model, w8a8 (or --modes) on our
simulator, and where a mode is below the floor the verified hybrid proposal.

    python bench/bench_model_advisor.py [--models a,b] [--platform rk3588] [--modes float16,w8a8]
                                        [--images 20] [--floor 0.99] [--out DIR] [--json out.json]

Each model gets a user's dataset.txt of `--images` raw-pixel jpg/png/npy images
(`fixtures.realmodels.write_dataset`, the same as bench_realmodels.py); the command holds
back the last fifth (4 of 20) for evaluation and calibrates on the rest. Prints per model and
mode: cosine, and for a proposal: cosine before → after (measured on the rebuild from the
written cfg), layers kept of the built layers (and of the source layers), wall time.
Exit status 1 when a mode below the floor has no proposal reaching it within the budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from fixtures import realmodels
    from rknn_diag import cli

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated corpus names (default: all)")
    p.add_argument("--platform", default="rk3588")
    p.add_argument("--modes", default="w8a8")
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--floor", type=float, default=0.99)
    p.add_argument("--out", type=Path, help="keep every card here (default: a temporary folder)")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    out = a.out or Path(tempfile.mkdtemp(prefix="bench_model_"))
    rows, ok = [], True
    for name in (a.models.split(",") if a.models else realmodels.names()):
        m = realmodels.get(name)
        ds = realmodels.write_dataset(m, out / name / "images", a.images, seed=0)
        argv_ = ["model", str(m.onnx_path), "--platform", a.platform, "--dataset", str(ds), "--modes", a.modes,
                 "--mean", ",".join(map(str, m.mean)), "--std", ",".join(map(str, m.std)),
                 "--floor", str(a.floor), "-o", str(out / name / "card")]
        print("rknn-diag " + " ".join(argv_), flush=True)
        start = time.perf_counter()
        code = cli.main(argv_)
        wall = time.perf_counter() - start
        d = json.loads((out / name / "card" / "model.json").read_text())
        for r in d["results"]:
            h = next((h for h in d["hybrids"] if h["mode"] == r["mode"]), None)
            row = {"model": name, "mode": r["mode"], "cosine": r["cosine"], "wall_s": wall, "exit": code}
            if h:
                row.update(after=h["cosine_after"], reached=h["reached"], kept=len(h["layers_kept"]),
                           total=h["layers_total"], src_kept=h["source_layers_kept"],
                           src_total=h["source_layers_total"], cfg=h["cfg"])
                ok &= bool(h["reached"])
            rows.append(row)
            extra = (f"  -> {row['after']:.5f} with {row['kept']}/{row['total']} layers "
                     f"({row['src_kept']}/{row['src_total']} source layers) in 16-bit, "
                     f"{'REACHED' if row['reached'] else 'NOT REACHED'}") if h and row["after"] is not None else \
                ("  no proposal lifted it" if h else "")
            print(f"{name:24} {r['mode']:10} {r['cosine']:.5f}{extra}   ({wall:.0f} s)", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
