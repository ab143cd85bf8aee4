"""`rknn-diag compare A.rknn B.rknn --dataset dataset.txt [-n 4] [-o DIR]`: two builds of one
model (two modes, two calibrations, a hybrid cfg against none) layer by layer.

Every layer output the two builds share (by tensor name) is compared with the float32 run of
A's graph and with each other on the first `n` dataset samples (mean cosine over samples).
The table lists the layers in A's order; the layers where the builds differ most come first
in `compare.json` / `compare.md` under -o."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .. import modelfile
from ..compare import metrics
from ..errors import RknnDiagError
from ..fileio import atomic_write
from ..quant.dataset import load_sample, read_lines
from ..sim.backend import simulator
from ..sim.reference import run_float32


def layer_outputs(model, feeds) -> dict[str, np.ndarray]:
    """Every layer's output of a built model, as floats (the numpy reference simulator's dump)."""
    got: dict[str, np.ndarray] = {}

    def keep(node, outs):
        for name, val in zip(node.outputs, outs):
            if name:
                got[name] = np.asarray(val)

    simulator(model.graph, model.mode, model.quant, backend="numpy").run(feeds, keep)
    return got


def compare(a_path: Path, b_path: Path, dataset: Path, n: int) -> dict:
    a, b = modelfile.load(str(a_path)), modelfile.load(str(b_path))
    lines = read_lines(dataset, len(a.graph.inputs))[:n]
    sums: dict[str, dict[str, list[float]]] = {}
    for ln in lines:
        fa = load_sample(ln, a.graph.inputs, a.config, None, str(dataset))
        fb = load_sample(ln, b.graph.inputs, b.config, None, str(dataset))
        ref = run_float32(a.graph, fa)
        la, lb = layer_outputs(a, fa), layer_outputs(b, fb)
        for name in la:
            if name not in lb or name not in ref or np.shape(la[name]) != np.shape(lb[name]):
                continue
            r = np.asarray(ref[name])
            if r.dtype.kind != "f":
                continue
            s = sums.setdefault(name, {"a": [], "b": [], "ab": []})
            s["a"].append(metrics(la[name], r)["cosine"])
            s["b"].append(metrics(lb[name], r)["cosine"])
            s["ab"].append(metrics(la[name], lb[name])["cosine"])
    producer = {o: nd for nd in a.graph.nodes for o in nd.outputs}
    rows = []
    for name, s in sums.items():
        nd = producer.get(name)
        rows.append({"tensor": name, "layer": nd.name if nd else name, "op": nd.op_type if nd else "",
                     "source": "+".join(nd.source) if nd else "",
                     "cosine_a": float(np.mean(s["a"])), "cosine_b": float(np.mean(s["b"])),
                     "cosine_a_b": float(np.mean(s["ab"]))})
    return {"a": {"path": str(a_path), "mode": a.mode}, "b": {"path": str(b_path), "mode": b.mode},
            "samples": len(lines), "layers": rows,
            "most_different": sorted(rows, key=lambda r: -abs(r["cosine_a"] - r["cosine_b"]))[:10]}


def render(res: dict) -> str:
    lines = [f"A: {res['a']['path']} ({res['a']['mode']})", f"B: {res['b']['path']} ({res['b']['mode']})",
             f"{res['samples']} sample(s); cosine against float32 and between the builds, per layer", "",
             "| layer | op | source layers | cosine A | cosine B | A vs B |", "|---|---|---|---|---|---|"]
    for r in res["layers"]:
        lines.append(f"| {r['layer']} | {r['op']} | {r['source']} | {r['cosine_a']:.5f} | {r['cosine_b']:.5f} | "
                     f"{r['cosine_a_b']:.5f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rknn-diag compare", description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--dataset", type=Path, required=True, help="dataset.txt; its first -n samples are run")
    p.add_argument("-n", type=int, default=4, help="samples (default 4)")
    p.add_argument("-o", "--out", type=Path, help="write compare.json and compare.md here")
    args = p.parse_args(argv)
    try:
        res = compare(args.a, args.b, args.dataset, max(1, args.n))
    except RknnDiagError as e:
        print(f"rknn-diag compare: {e}", file=sys.stderr)
        return 2
    text = render(res)
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write(args.out / "compare.json", json.dumps(res, indent=1))
        atomic_write(args.out / "compare.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
