"""accuracy_analysis (the fix path of guide §2.1): per-layer error of the quantized model.

Two layouts, chosen by the generation of the user's script (rknn_diag.dropin.generation).

Toolkit2 (`layout="toolkit2"`), what toolkit2's accuracy_analysis example reads:
    golden/<tensor>.txt     every layer's float32 output, flattened, one value a line
    simulator/<tensor>.txt  the quantized model's output of that layer, dequantized
    error_analysis.txt      per layer: [op] tensor, entire and single cosine / Euclidean distance

Toolkit 1.x (`layout="toolkit1"`):
    fp32/           every layer's float32 output            (NNNN_<tensor>.npy)
    entire_qnt/     the quantized model's outputs, dequantized — errors accumulate
    individual_qnt/ each layer alone, fed the float32 inputs — its own error only
    order.txt       layer order: index, layer, op, output tensor, merged source layers
    entire_qnt_error_analysis.txt, individual_qnt_error_analysis.txt
                    per layer: cosine and Euclidean distance against fp32
A pandas DataFrame of the same comes back, worst layers first (`df.attrs["worst"]` lists
their names). Worst means the error a layer introduces itself — the quantization of its
weights and of its output tensor, each as the mean cosine over channels so one large
channel cannot hide the others (`own_cosine`) — because that is what moving the layer to
int16/float16 by hybrid quantization fixes. A layer fed a badly quantized tensor shows a
poor individual cosine too, but the fix belongs to the layer producing that tensor.
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


LAYOUTS = ("toolkit1", "toolkit2")
_DIRS = {"toolkit1": ("fp32", "entire_qnt", "individual_qnt"), "toolkit2": ("golden", "simulator")}


def analyse(model: BuiltModel, feeds: list[np.ndarray], output_dir: str | Path, layout: str = "toolkit1"):
    import pandas as pd

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    out = Path(output_dir)
    dirs = {k: out / k for k in _DIRS[layout]}
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
    saturated = model.quant.get("saturated", {})
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
            # judged against float clamped where its readers saturate: they cannot tell those apart
            fj = np.clip(f, *saturated[name]).astype(f.dtype) if name in saturated else f
            if layout == "toolkit1":
                fn = f"{idx:04d}_{_safe(name)}.npy"
                np.save(dirs["fp32"] / fn, f, allow_pickle=False)
                np.save(dirs["entire_qnt"] / fn, e, allow_pickle=False)
                np.save(dirs["individual_qnt"] / fn, i, allow_pickle=False)
            else:
                fn = f"{_safe(name)}.txt"
                np.savetxt(dirs["golden"] / fn, f.astype(np.float64).reshape(-1), fmt="%.6f")
                np.savetxt(dirs["simulator"] / fn, e.astype(np.float64).reshape(-1), fmt="%.6f")
            me, mi = metrics(e, fj), metrics(i, fj)
            own = _own_error(sim, node, name, fj, g.constants)
            rows.append({"index": idx, "layer": node.name, "op": node.op_type, "tensor": name,
                         "source": "+".join(node.source),
                         "entire_cosine": me["cosine"], "entire_euclidean": me["euclidean"],
                         "individual_cosine": mi["cosine"], "individual_euclidean": mi["euclidean"],
                         "output_qnt_cosine": own[0], "weight_qnt_cosine": own[1],
                         "own_cosine": min(own),
                         "runs_in": "float16" if sim.layers.get(node.name) == "float16" else
                         ("integer" if sim._integer(node) else "fallback")})
    df = pd.DataFrame(rows)
    if layout == "toolkit1":
        _write_toolkit1(out, rows)
    else:
        _write_toolkit2(out, rows)
    if len(df):
        df = df.sort_values(["own_cosine", "individual_cosine", "index"], kind="stable").reset_index(drop=True)
        df.attrs["worst"] = list(dict.fromkeys(df["layer"].head(5)))
    else:
        df.attrs["worst"] = []
    return df


def _write_toolkit1(out: Path, rows: list[dict[str, Any]]) -> None:
    with open(out / "order.txt", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(f"{r['index']:04d} {r['layer']} {r['op']} {r['tensor']} {r['source']}\n")
    for kind in ("entire", "individual"):
        with open(out / f"{kind}_qnt_error_analysis.txt", "w", encoding="utf-8") as fh:
            fh.write(f"# layer  tensor  cosine  euclidean   ({kind}: "
                     f"{'errors accumulate' if kind == 'entire' else 'each layer fed the float32 input'})\n")
            for r in rows:
                fh.write(f"{r['layer']} {r['tensor']} {r[kind + '_cosine']:.6f} {r[kind + '_euclidean']:.6f}\n")


def _write_toolkit2(out: Path, rows: list[dict[str, Any]]) -> None:
    """One table: entire (errors accumulate) and single (each layer fed float32 inputs)."""
    width = max([len(f"[{r['op']}] {r['tensor']}") for r in rows] + [20]) + 2
    with open(out / "error_analysis.txt", "w", encoding="utf-8") as fh:
        fh.write("# golden: float32; simulator: the quantized model, dequantized.\n"
                 "# entire: errors accumulate layer by layer; single: each layer fed the golden inputs.\n\n")
        fh.write(f"{'layer_name':<{width}}{'entire cos':>12}{'entire euc':>14}{'single cos':>12}{'single euc':>14}\n")
        fh.write("-" * (width + 52) + "\n")
        for r in rows:
            fh.write(f"{'[' + r['op'] + '] ' + r['tensor']:<{width}}{r['entire_cosine']:>12.5f}"
                     f"{r['entire_euclidean']:>14.5f}{r['individual_cosine']:>12.5f}{r['individual_euclidean']:>14.5f}\n")


def _channel_cosine(a: np.ndarray, b: np.ndarray, axis: int) -> float:
    """Mean over channels (on `axis`) of the cosine between a and b; all-zero channels skipped."""
    a = np.moveaxis(np.asarray(a, np.float64), axis, 0).reshape(np.shape(a)[axis], -1)
    b = np.moveaxis(np.asarray(b, np.float64), axis, 0).reshape(np.shape(b)[axis], -1)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    live = (na > 0) | (nb > 0)
    if not live.any():
        return 1.0
    cos = np.where((na > 0) & (nb > 0), (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300), 0.0)
    return float(cos[live].mean())


def _own_error(sim: IntegerSimulator, node, tensor: str, f: np.ndarray, constants: dict) -> tuple[float, float]:
    """(output quantization, weight quantization) per-channel cosines of one layer."""
    from ..qrules.schemes import dequantize, quantize

    out_cos = 1.0
    qp = sim.tensors.get(tensor)
    if qp is not None and sim.layers.get(node.name) != "float16":
        dq = dequantize(quantize(f, qp), qp)
        # channels of feature maps (N, C, ...); vectors (logits, probabilities) as a whole
        out_cos = _channel_cosine(dq, f, 1) if f.ndim >= 3 else _channel_cosine(dq.reshape(1, -1), f.reshape(1, -1), 0)
    w_cos = 1.0
    for name in node.inputs[1:2]:
        if name in sim.weights:
            wqp = sim.weights[name]
            w = np.asarray(constants[name], np.float32)
            axis = wqp.axis if wqp.axis is not None else 0
            w_cos = _channel_cosine(dequantize(sim.qweights[name], wqp), w, axis)
    return out_cos, w_cos
