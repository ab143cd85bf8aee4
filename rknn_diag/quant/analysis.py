"""accuracy_analysis (the fix path of guide §2.1): per-layer error of the quantized model.

Two layouts, chosen by the generation of the user's script (rknn_diag.dropin.generation).

Toolkit2 (`layout="toolkit2"`), what toolkit2's accuracy_analysis example reads:
    golden/<tensor>.txt     every layer's float32 output, flattened, one value a line
    simulator/<tensor>.txt  the quantized model's output of that layer, dequantized
    runtime/<tensor>.txt    with a board (`runtime=`, accuracy_analysis(target=...)): the same
                            layer's output from the quantized model run on the board, as float
    error_analysis.txt      the vendor's table: per layer `[op] tensor`, simulator_error entire and
                            single (`cos | euc`), and with a board runtime_error entire (runtime
                            against golden) and single_sim (runtime against simulator)

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
from typing import Any, Callable

import numpy as np

from ..compare import metrics
from ..model import BuiltModel
from ..sim.int_sim import IntegerSimulator
from .quantizer import run_float32


def _write_tensor(path: Path, a: np.ndarray) -> None:
    """A tensor as the toolkit2 snapshot's .txt: one value a line, flattened, 6 decimals."""
    np.savetxt(path, np.asarray(a, np.float64).reshape(-1), fmt="%.6f")


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)[:80]


LAYOUTS = ("toolkit1", "toolkit2")
_DIRS = {"toolkit1": ("fp32", "entire_qnt", "individual_qnt"), "toolkit2": ("golden", "simulator")}


# runtime(tensors) -> {tensor: the board's float output of it}; tensors maps each analysed
# tensor to the shape the simulator gave it
Runtime = Callable[[dict[str, tuple]], dict[str, np.ndarray]]


def analyse(model: BuiltModel, feeds: list[np.ndarray], output_dir: str | Path, layout: str = "toolkit1",
            runtime: Runtime | None = None):
    """The simulator's analysis, written first (a board lost afterwards loses nothing of it); with
    `runtime` (toolkit2 layout only) the board's outputs of the same layers are then compared too."""
    import pandas as pd

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    if runtime is not None and layout != "toolkit2":
        raise ValueError("a runtime comparison is written in the toolkit2 layout only")
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
    judged: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # tensor -> (golden as judged, simulator)
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
                _write_tensor(dirs["golden"] / fn, f)
                _write_tensor(dirs["simulator"] / fn, e)
            me, mi = metrics(e, fj), metrics(i, fj)
            judged[name] = (fj, e)
            own = _own_error(sim, node, name, fj, g.constants)
            rows.append({"index": idx, "layer": node.name, "op": node.op_type, "tensor": name,
                         "source": "+".join(node.source),
                         "entire_cosine": me["cosine"], "entire_euclidean": me["euclidean"],
                         "individual_cosine": mi["cosine"], "individual_euclidean": mi["euclidean"],
                         "output_qnt_cosine": own[0], "weight_qnt_cosine": own[1],
                         "own_cosine": min(own),
                         "runs_in": "float16" if sim.layers.get(node.name) == "float16" else
                         ("integer" if sim._integer(node) else "fallback")})
    if layout == "toolkit1":
        _write_toolkit1(out, rows)
    else:
        _write_toolkit2(out, rows)
    if runtime is not None:
        _compare_runtime(out, rows, judged, runtime({t: np.shape(e) for t, (_, e) in judged.items()}))
        _write_toolkit2(out, rows)
    df = pd.DataFrame(rows)
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


def _compare_runtime(out: Path, rows: list[dict[str, Any]], judged: dict[str, tuple[np.ndarray, np.ndarray]],
                     board: dict[str, np.ndarray]) -> None:
    """runtime/<tensor>.txt and the runtime_error columns: the board's output of each layer
    against golden (entire) and against the simulator's (single_sim), with the same metric."""
    folder = out / "runtime"
    folder.mkdir(parents=True, exist_ok=True)
    for r in rows:
        fj, e = judged[r["tensor"]]
        got = np.asarray(board[r["tensor"]])
        _write_tensor(folder / f"{_safe(r['tensor'])}.txt", got)
        me, ms = metrics(got, fj), metrics(got, e)
        r.update({"runtime_entire_cosine": me["cosine"], "runtime_entire_euclidean": me["euclidean"],
                  "runtime_single_sim_cosine": ms["cosine"], "runtime_single_sim_euclidean": ms["euclidean"]})


# The header names the columns as the vendor's table does (toolkit2 2.x error_analysis.txt).
_TOOLKIT2_HEADER = (
    "# simulator_error: each layer's output on the simulator, against 'golden' (float32).\n"
    "#              entire: the quantized model run whole: errors of earlier layers carry into later ones.\n"
    "#              single: each layer fed the 'golden' inputs: the error the layer adds by itself.\n")
_TOOLKIT2_RUNTIME_HEADER = (
    "# runtime_error: each layer's output of the quantized model run whole on the board ('runtime').\n"
    "#              entire: 'runtime' against 'golden': errors of earlier layers carry into later ones.\n"
    "#              single_sim: 'runtime' against 'simulator': where the board departs from the simulator.\n")
_CELL = 20   # one `cos | euc` pair


def _pair(cos: float, euc: float) -> str:
    return f"{cos:.5f} | {euc:.5f}".ljust(_CELL)


def _write_toolkit2(out: Path, rows: list[dict[str, Any]]) -> None:
    """The vendor's table: simulator_error entire/single, and runtime_error entire/single_sim
    when the rows carry a board's figures; cosine and Euclidean distance to 5 decimals."""
    board = bool(rows) and "runtime_entire_cosine" in rows[0]
    groups = [("simulator_error", "entire", "single")] + ([("runtime_error", "entire", "single_sim")] if board else [])
    width = max([len(f"[{r['op']}] {r['tensor']}") for r in rows] + [24]) + 3
    with open(out / "error_analysis.txt", "w", encoding="utf-8") as fh:
        fh.write(_TOOLKIT2_HEADER + (_TOOLKIT2_RUNTIME_HEADER if board else "") + "\n")
        fh.write("layer_name".ljust(width) + "".join(g[0].center(2 * _CELL) for g in groups).rstrip() + "\n")
        fh.write(" " * width + "".join(g[1].center(_CELL) + g[2].center(_CELL) for g in groups).rstrip() + "\n")
        fh.write(" " * width + ("  cos      euc".ljust(_CELL) * 2 * len(groups)).rstrip() + "\n")
        fh.write("-" * (width + 2 * _CELL * len(groups)) + "\n")
        for r in rows:
            line = f"[{r['op']}] {r['tensor']}".ljust(width) + _pair(r["entire_cosine"], r["entire_euclidean"]) + \
                _pair(r["individual_cosine"], r["individual_euclidean"])
            if board:
                line += _pair(r["runtime_entire_cosine"], r["runtime_entire_euclidean"]) + \
                    _pair(r["runtime_single_sim_cosine"], r["runtime_single_sim_euclidean"])
            fh.write(line.rstrip() + "\n")


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
