"""eval_memory(): weights, peak live activations (by liveness over the node order), total."""

from __future__ import annotations

import numpy as np

from ..model import BuiltModel
from .float_sim import FloatSimulator


def _nbytes(a: np.ndarray, mode: str) -> int:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a.size * (2 if mode == "float16" else 1)
    return a.nbytes


def estimate(model: BuiltModel) -> dict[str, int]:
    g = model.graph
    weights = sum(_nbytes(v, model.mode) for v in g.constants.values())
    sizes: dict[str, int] = {}
    order: list[list[str]] = []

    def hook(node, outs):
        order.append([o for o in node.outputs if o])
        for name, val in zip(node.outputs, outs):
            if name:
                sizes[name] = _nbytes(val, model.mode)

    feeds = [np.zeros((v.shape[0] * model.rknn_batch_size, *v.shape[1:]), v.dtype or np.float32) for v in g.inputs]
    FloatSimulator(g).run(feeds, hook)
    last_use = {}
    for idx, n in enumerate(g.nodes):
        for i in n.inputs:
            last_use[i] = idx
    for v in g.outputs:
        last_use[v.name] = len(g.nodes)
    live = {v.name: _nbytes(f, model.mode) for v, f in zip(g.inputs, feeds)}
    peak = sum(live.values())
    for idx, outs in enumerate(order):
        for o in outs:
            live[o] = sizes[o]
        peak = max(peak, sum(live.values()))
        live = {k: s for k, s in live.items() if last_use.get(k, -1) > idx}
    return {"weight_memory": int(weights), "internal_memory": int(peak), "total_memory": int(weights + peak)}
