"""Constant folding: any node whose inputs are all constants is computed once at
build time (real exported models carry hundreds of Constant/Shape/Gather nodes).
Shape/Size of a tensor whose shape is statically known fold too."""

from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops import run_node

_NEVER = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}


def _static_shape(graph: Graph, name: str):
    shape = graph.meta.get("shapes", {}).get(name)
    if name in graph.constants:
        return graph.constants[name].shape
    if shape is not None and all(isinstance(d, int) and d > 0 for d in shape):
        return tuple(shape)
    return None


def fold_constants(graph: Graph) -> int:
    changed = 0
    for node in list(graph.nodes):
        if node.op_type in _NEVER:
            continue
        outs: list[np.ndarray] | None = None
        if node.op_type in ("Shape", "Size") and node.inputs:
            shape = _static_shape(graph, node.inputs[0])
            if shape is not None:
                dummy = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, [0] * len(shape))
                outs = run_node(node, [dummy], graph.opset)
        elif all((not i) or i in graph.constants for i in node.inputs):
            ins = [graph.constants[i] if i else None for i in node.inputs]
            outs = run_node(node, ins, graph.opset)
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
