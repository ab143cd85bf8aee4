"""eval_memory(): weights, peak live activations (by liveness over the node order), total."""

from __future__ import annotations

import numpy as np

from ..model import BuiltModel
from .float_sim import FloatSimulator


# Storage bits of a quantized tensor's dtype (int4 weights pack two to a byte).
_BITS = {"uint8": 8, "int8": 8, "int16": 16, "int4": 4, "int32": 32}


def _nbytes(name: str, a: np.ndarray, model: BuiltModel) -> int:
    """Bytes on the NPU: float tensors are float16 unless the quantizer gave them a dtype
    (activations in quant["tensors"], weights in quant["weights"]; biases are int32)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a.nbytes
    qdtype = None
    if model.mode != "float16":
        q = model.quant
        qdtype = (q.get("weights", {}).get(name) or q.get("tensors", {}).get(name) or {}).get("dtype")
        if qdtype is None and name in _biases(model):
            qdtype = "int32"
    return (a.size * _BITS[qdtype] + 7) // 8 if qdtype in _BITS else a.size * 2


def _biases(model: BuiltModel) -> set[str]:
    return {n.inputs[2] for n in model.graph.nodes
            if n.op_type in ("Conv", "ConvTranspose", "Gemm") and len(n.inputs) > 2 and n.inputs[2]}


def estimate(model: BuiltModel) -> dict[str, int]:
    g = model.graph
    weights = sum(_nbytes(k, v, model) for k, v in g.constants.items())
    sizes: dict[str, int] = {}
    order: list[list[str]] = []

    def hook(node, outs):
        order.append([o for o in node.outputs if o])
        for name, val in zip(node.outputs, outs):
            if name:
                sizes[name] = _nbytes(name, val, model)

    feeds = [np.zeros((v.shape[0] * model.rknn_batch_size, *v.shape[1:]), v.dtype or np.float32) for v in g.inputs]
    FloatSimulator(g).run(feeds, hook)
    last_use = {}
    for idx, n in enumerate(g.nodes):
        for i in n.inputs:
            last_use[i] = idx
    for v in g.outputs:
        last_use[v.name] = len(g.nodes)
    live = {v.name: _nbytes(v.name, f, model) for v, f in zip(g.inputs, feeds)}
    peak = sum(live.values())
    for idx, outs in enumerate(order):
        for o in outs:
            live[o] = sizes[o]
        peak = max(peak, sum(live.values()))
        live = {k: s for k, s in live.items() if last_use.get(k, -1) > idx}
    return {"weight_memory": int(weights), "internal_memory": int(peak), "total_memory": int(weights + peak)}
