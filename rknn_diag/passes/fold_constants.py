"""Constant folding: any node whose inputs are all constants is computed once at
build time (real exported models carry hundreds of Constant/Shape/Gather nodes).
Shape/Size of a tensor whose shape is statically known fold too."""

from __future__ import annotations

import numpy as np

from ..graph_check import check_shape
from ..ir import Graph, Node
from ..ops import run_node

_NEVER = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}


def _static_shape(graph: Graph, name: str):
    shape = graph.meta.get("shapes", {}).get(name)
    if name in graph.constants:
        return graph.constants[name].shape
    if shape is not None and all(isinstance(d, int) and d > 0 for d in shape):
        return tuple(shape)
    return None


def _planned_shape(node: Node, ins: list) -> tuple | None:
    """The output shape of the ops that grow a tensor from a few bytes of constants, known
    before running them, so a bomb is refused before it allocates (`limits`)."""
    try:
        if node.op_type == "ConstantOfShape":
            return tuple(int(d) for d in np.asarray(ins[0]).reshape(-1))
        if node.op_type == "Expand":
            want = tuple(int(d) for d in np.asarray(ins[1]).reshape(-1))
            have = np.shape(ins[0])
            n = max(len(want), len(have))
            want, have = (1,) * (n - len(want)) + want, (1,) * (n - len(have)) + have
            return tuple(max(a, b) for a, b in zip(want, have))
        if node.op_type == "Tile":
            return tuple(int(a) * int(b) for a, b in zip(np.shape(ins[0]), np.asarray(ins[1]).reshape(-1)))
        if node.op_type == "Range":
            start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in ins[:3])
            return (max(int(np.ceil((limit - start) / delta)), 0),) if delta else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None   # the kernel will refuse the malformed input with its own error
    return None


def fold_constants(graph: Graph, keep: frozenset[str] = frozenset()) -> int:
    """`keep`: op types left as they are (the QDQ import folds around a model's own Q/DQ nodes)."""
    changed = 0
    for node in list(graph.nodes):
        if node.op_type in _NEVER or node.op_type in keep:
            continue
        outs: list[np.ndarray] | None = None
        if node.op_type in ("Shape", "Size") and node.inputs:
            shape = _static_shape(graph, node.inputs[0])
            if shape is not None:
                dummy = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, [0] * len(shape))
                outs = run_node(node, [dummy], graph.opset)
        elif all((not i) or i in graph.constants for i in node.inputs):
            ins = [graph.constants[i] if i else None for i in node.inputs]
            where = f"{graph.meta.get('source', graph.name)}, node '{node.name}' ({node.op_type})"
            planned = _planned_shape(node, ins)
            if planned is not None:
                check_shape(node.outputs[0], planned, where)
            outs = run_node(node, ins, graph.opset)
            for name, value in zip(node.outputs, outs):
                check_shape(name, np.shape(value), where)
        if outs is None:
            continue
        # A graph output may become a constant too (SSD prior boxes, guide §3.5): the
        # simulators read outputs from the constants like any other value.
        for name, value in zip(node.outputs, outs):
            if name:
                graph.constants[name] = np.asarray(value)
        graph.nodes.remove(node)
        changed += 1
    return changed
