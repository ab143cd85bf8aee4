"""The float16 simulator: weights and activations rounded to IEEE half precision
at every layer boundary; each kernel computes in float32 in between (guide §1.4.2)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir import Graph, Node
from ..ops import get as get_op, run_node

# Called after every node: (node, its outputs).
DumpHook = Callable[[Node, list[np.ndarray]], None]


_ABS = np.uint32(0x7FFFFFFF)
_HALF_ULP = np.uint32(0x0FFF)          # float32 has 13 more mantissa bits than float16
_KEEP = np.uint32(0xFFFFE000)
_SMALLEST_NORMAL = np.uint32(0x38800000)   # 2**-14: below it float16 is subnormal
_LARGEST = np.uint32(0x477FE000)           # 65504: above it float16 rounds to inf


def to_fp16(x: np.ndarray) -> np.ndarray:
    """Round floats to half precision (kept in float32 storage); other dtypes untouched.

    Same result as x.astype(float16).astype(float32) (round to nearest even), ~3x faster:
    the float32 mantissa is rounded to float16's 10 bits with integer arithmetic, and only
    the elements where that is not enough (float16 subnormals, overflow, NaN) go through
    numpy's cast. This is the simulator's hottest loop (every layer output passes here)."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        return x
    if x.dtype != np.float32:
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    u = np.ascontiguousarray(x).view(np.uint32)
    r = u + _HALF_ULP
    t = u >> np.uint32(13)                           # one scratch array, reused in place below
    t &= np.uint32(1)
    r += t                                           # ties to even
    r &= _KEEP
    mag = np.bitwise_and(u, _ABS, out=t)
    special = mag > _LARGEST
    mag -= np.uint32(1)
    special |= mag < (_SMALLEST_NORMAL - np.uint32(1))   # float16 subnormals (0 wraps round: exact)
    del t, mag
    out = r.view(np.float32)
    if special.any():   # a mask, not an int64 index: softmax outputs can be mostly subnormal
        with np.errstate(over="ignore"):
            out[special] = u.view(np.float32)[special].astype(np.float16).astype(np.float32)
    return out.reshape(x.shape)


def parameter_constants(graph: Graph) -> set[str]:
    """Constants read only through parameter inputs (Resize scales, ...): not tensors of the
    model, so they keep full precision (a scale of 1.6 rounded to fp16 changes output sizes)."""
    as_param, as_tensor = set(), set()
    for node in graph.nodes:
        spec = get_op(node.op_type)
        for pos, name in enumerate(node.inputs):
            if name in graph.constants:
                (as_param if pos in spec.params else as_tensor).add(name)
    return as_param - as_tensor


class FloatSimulator:
    backend = "numpy"   # the reference (see sim.backend)

    @property
    def reference(self):
        """The numpy oracle (this simulator itself; an ort simulator holds one)."""
        return self

    def __init__(self, graph: Graph):
        self.graph = graph
        params = parameter_constants(graph)
        self.constants = {k: np.asarray(v) if k in params else to_fp16(np.asarray(v))
                          for k, v in graph.constants.items()}

    def run(self, feeds: list[np.ndarray], dump: DumpHook | None = None) -> list[np.ndarray]:
        g = self.graph
        env: dict[str, np.ndarray] = dict(self.constants)
        for v, x in zip(g.inputs, feeds):
            env[v.name] = to_fp16(x)
        for node in g.nodes:
            ins = [env[i] if i else None for i in node.inputs]
            outs = [to_fp16(np.asarray(o)) for o in run_node(node, ins, g.opset)]
            for name, val in zip(node.outputs, outs):
                if name:
                    env[name] = val
            if dump is not None:
                dump(node, outs)
        return [env[v.name] for v in g.outputs]
