"""Fold BatchNormalization, and per-channel Mul/Add chains (conv+bn+scale), into the Conv or
ConvTranspose before them (in a quantized model one tensor fewer to quantize: a ConvTranspose
head's bias Add otherwise quantizes the raw logits before it, one code per unit of logit)."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .rewire import sole_consumer


def _per_channel(value: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """A constant that broadcasts per output channel (axis 1) of a rank-`rank` conv output,
    as a (C,) vector; None when it varies along any other axis or would grow the rank."""
    v = np.asarray(value, dtype=np.float32)
    if v.ndim > rank:
        return None
    shape = (1,) * (rank - v.ndim) + v.shape
    if shape[0] != 1 or any(d != 1 for d in shape[2:]) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(v.reshape(-1), (channels,)).astype(np.float32)


def _out_axis(conv: Node) -> int | None:
    """The weight axis of the output channels: 0 for Conv (M, C/g, k...), 1 for an ungrouped
    ConvTranspose (C, M, k...); None for a grouped ConvTranspose (its channels interleave)."""
    if conv.op_type == "Conv":
        return 0
    return 1 if conv.attrs.get("group", 1) == 1 else None


def _conv_params(graph: Graph, conv: Node) -> tuple[np.ndarray, np.ndarray] | None:
    if conv.post_ops or len(conv.inputs) < 2 or conv.inputs[1] not in graph.constants:
        return None
    if len(conv.inputs) > 2 and conv.inputs[2] and conv.inputs[2] not in graph.constants:
        return None
    w = graph.constants[conv.inputs[1]].astype(np.float32)
    b = (graph.constants[conv.inputs[2]].astype(np.float32) if len(conv.inputs) > 2 and conv.inputs[2]
         else np.zeros(w.shape[_out_axis(conv)], np.float32))
    return w, b


def _per_out(k: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """`k` (one factor per output channel) shaped to scale `w` along its output axis."""
    shape = [1] * w.ndim
    shape[axis] = -1
    return k.reshape(shape)


def _set_params(graph: Graph, conv: Node, w: np.ndarray, b: np.ndarray, merged: Node) -> None:
    wname, bname = f"{conv.name}.W_folded", f"{conv.name}.B_folded"
    graph.constants[wname], graph.constants[bname] = w, b
    conv.inputs = [conv.inputs[0], wname, bname]
    conv.outputs = list(merged.outputs[:1])
    # an activation already fused into the folded node now follows the conv (conv has none: checked)
    conv.post_ops = list(merged.post_ops)
    conv.source.extend(s for s in merged.source if s not in conv.source)
    graph.nodes.remove(merged)


def fold_batchnorm(graph: Graph) -> int:
    changed = 0
    for conv in list(graph.nodes):
        if conv.op_type not in ("Conv", "ConvTranspose") or conv not in graph.nodes or _out_axis(conv) is None:
            continue
        nxt = sole_consumer(graph, conv.outputs[0])
        params = _conv_params(graph, conv)
        if nxt is None or params is None:
            continue
        w, b = params
        axis = _out_axis(conv)
        c = w.shape[axis]
        if nxt.op_type == "BatchNormalization" and nxt.inputs[0] == conv.outputs[0] and \
                all(i in graph.constants for i in nxt.inputs[1:5]) and not any(nxt.outputs[1:]):
            scale, beta, mean, var = (graph.constants[i].astype(np.float32) for i in nxt.inputs[1:5])
            k = scale / np.sqrt(var + np.float32(nxt.attrs.get("epsilon", 1e-5)))
            _set_params(graph, conv, w * _per_out(k, w, axis), (b - mean) * k + beta, nxt)
            changed += 1
        elif nxt.op_type in ("Mul", "Add") and len(nxt.inputs) == 2:
            other = nxt.inputs[1] if nxt.inputs[0] == conv.outputs[0] else nxt.inputs[0]
            if other not in graph.constants:
                continue
            k = _per_channel(graph.constants[other], c, w.ndim)
            if k is None:
                continue
            if nxt.op_type == "Mul":
                _set_params(graph, conv, w * _per_out(k, w, axis), b * k, nxt)
            else:
                _set_params(graph, conv, w, b + k, nxt)
            changed += 1
    return changed
