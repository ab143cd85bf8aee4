"""Float32 execution of an IR graph with the numpy kernels of `rknn_diag.ops`: the reference that
calibration (quant/) and accuracy analysis compare against, and the float kernels the integer
simulator's fallback runs. It lives in sim/ so that quant/ calls down into sim/, never the reverse."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir import Graph, Node
from ..ops import run_node


def run_node_float(node: Node, ins: list, opset: int) -> list[np.ndarray]:
    """An IR node's float kernel and its fused activations (`rknn_diag.ops.run_node`)."""
    return [np.asarray(o) for o in run_node(node, ins, opset)]


def run_float32(graph: Graph, feeds: list[np.ndarray],
                hook: Callable[[Node, list[np.ndarray]], None] | None = None) -> dict[str, np.ndarray]:
    """Run the graph in float32 (the calibration and accuracy-analysis reference); every value."""
    env: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in graph.constants.items()}
    for v, x in zip(graph.inputs, feeds):
        env[v.name] = np.asarray(x)
    for node in graph.nodes:
        outs = run_node_float(node, [env[i] if i else None for i in node.inputs], graph.opset)
        for name, val in zip(node.outputs, outs):
            if name:
                env[name] = val
        if hook is not None:
            hook(node, outs)
    return env
