"""accuracy_analysis (the fix path of guide §2.1): per-layer error of the quantized model.

Layout written to `output_dir` (toolkit 1.x style):
    fp32/           every layer's float32 output            (NNNN_<tensor>.npy)
    entire_qnt/     the quantized model's outputs, dequantized — errors accumulate
    individual_qnt/ each layer alone, fed the float32 inputs — its own error only
    order.txt       layer order: index, layer, op, output tensor, merged source layers
    entire_qnt_error_analysis.txt, individual_qnt_error_analysis.txt
                    per layer: cosine and Euclidean distance against fp32
A pandas DataFrame of the same comes back, worst layers first by the individual cosine
(`df.attrs["worst"]` lists their names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..compare import metrics
from ..model import BuiltModel
from ..sim.int_sim import IntegerSimulator
from .quantizer import run_float32


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)[:80]


def analyse(model: BuiltModel, feeds: list[np.ndarray], output_dir: str | Path):
    import pandas as pd

    out = Path(output_dir)
    dirs = {k: out / k for k in ("fp32", "entire_qnt", "individual_qnt")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    g = model.graph
    sim = IntegerSimulator(g, model.quant)
    fenv = run_float32(g, feeds)

    entire: dict[str, np.ndarray] = {}

    def keep(node, outs):
        for name, val in zip(node.outputs, outs):
            if name:
                entire[name] = val

    sim.run(feeds, keep)
    rows: list[dict[str, Any]] = []
    for idx, node in enumerate(g.nodes):
        env = dict(sim.base)
        for name in node.inputs:
            if name and name not in g.constants:
                env[name] = (fenv[name], None)
        indiv = [IntegerSimulator._float(v) for v in sim.run_node(node, env)]
        for k, name in enumerate(node.outputs):
            if not name or np.asarray(fenv[name]).dtype.kind != "f":
                continue
            f, e, i = np.asarray(fenv[name]), np.asarray(entire[name]), np.asarray(indiv[k])
            fn = f"{idx:04d}_{_safe(name)}.npy"
            np.save(dirs["fp32"] / fn, f, allow_pickle=False)
            np.save(dirs["entire_qnt"] / fn, e, allow_pickle=False)
            np.save(dirs["individual_qnt"] / fn, i, allow_pickle=False)
            me, mi = metrics(e, f), metrics(i, f)
            rows.append({"index": idx, "layer": node.name, "op": node.op_type, "tensor": name,
                         "source": "+".join(node.source),
                         "entire_cosine": me["cosine"], "entire_euclidean": me["euclidean"],
                         "individual_cosine": mi["cosine"], "individual_euclidean": mi["euclidean"],
                         "runs_in": "float16" if sim.layers.get(node.name) == "float16" else
                         ("integer" if sim._integer(node) else "fallback")})
    df = pd.DataFrame(rows)
    with open(out / "order.txt", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(f"{r['index']:04d} {r['layer']} {r['op']} {r['tensor']} {r['source']}\n")
    for kind in ("entire", "individual"):
        with open(out / f"{kind}_qnt_error_analysis.txt", "w", encoding="utf-8") as fh:
            fh.write(f"# layer  tensor  cosine  euclidean   ({kind}: "
                     f"{'errors accumulate' if kind == 'entire' else 'each layer fed the float32 input'})\n")
            for r in rows:
                fh.write(f"{r['layer']} {r['tensor']} {r[kind + '_cosine']:.6f} {r[kind + '_euclidean']:.6f}\n")
    if len(df):
        df = df.sort_values(["individual_cosine", "index"], kind="stable").reset_index(drop=True)
        df.attrs["worst"] = list(dict.fromkeys(df["layer"].head(5)))
    else:
        df.attrs["worst"] = []
    return df
