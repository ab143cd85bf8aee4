"""The float16 simulator: weights and activations rounded to IEEE half precision
at every layer boundary; each kernel computes in float32 in between (guide §1.4.2)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir import Graph, Node
from ..ops import run as run_op

# Called after every node: (node, its outputs).
DumpHook = Callable[[Node, list[np.ndarray]], None]


def to_fp16(x: np.ndarray) -> np.ndarray:
    """Round floats to half precision (kept in float32 storage); other dtypes untouched."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    return x


class FloatSimulator:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.constants = {k: to_fp16(np.asarray(v)) for k, v in graph.constants.items()}

    def run(self, feeds: list[np.ndarray], dump: DumpHook | None = None) -> list[np.ndarray]:
        g = self.graph
        env: dict[str, np.ndarray] = dict(self.constants)
        for v, x in zip(g.inputs, feeds):
            env[v.name] = to_fp16(x)
        for node in g.nodes:
            ins = [env[i] if i else None for i in node.inputs]
            outs = run_op(node.op_type, ins, node.attrs, g.opset, len(node.outputs))
            for post in node.post_ops:
                outs[0] = run_op(post.op_type, [outs[0], *post.inputs], post.attrs, 13)[0]
            outs = [to_fp16(np.asarray(o)) for o in outs]
            for name, val in zip(node.outputs, outs):
                if name:
                    env[name] = val
            if dump is not None:
                dump(node, outs)
        return [env[v.name] for v in g.outputs]
