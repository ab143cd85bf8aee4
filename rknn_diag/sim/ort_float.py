"""The float16 simulator on onnxruntime: the numpy float16 simulator's semantics, lowered.

`FloatSimulator` (float_sim.py) rounds to half precision exactly here: the graph inputs, every
constant except parameter inputs (Resize scales ...), and every float output of every node after
its fused activations; each kernel computes in float32 in between. The lowering does the same:
constants are the simulator's own (already rounded), inputs and node outputs pass through a
Cast(float16) -> Cast(float) pair (onnxruntime's Cast rounds to nearest even, like numpy's),
and the node with its fused activations runs as onnxruntime's float32 ops, which may fuse
them. What can differ is the float32 arithmetic inside a layer (accumulation order of a
convolution, exp/tanh implementations), so a layer's output may land on the neighbouring
float16 value: at most one float16 ULP per layer output for the same inputs (the suite's
cross-check holds it to that).

Two things keep the roundings cheap: a node that only moves or selects values (Transpose,
Reshape, Gather, MaxPool, Concat ...: `keeps_half_values`) gets no Cast pair, its inputs being
float16 values already; and on a CPU where onnxruntime runs convolutions in its blocked layout,
the Cast pairs run inside that layout (ort_blocked.py) instead of forcing a reorder around each.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..errors import UnsupportedOpError
from ..ir import Graph
from ..ops import get as get_op
from ..ops.registry import DIRECT
from .float_sim import DumpHook, FloatSimulator, to_fp16
from .ort_blocked import blocked_session
from .ort_lower import Emitter, LoweringError, check_ort_semantics, infer_values, is_ort_refusal, value_info


# Ops that only pick their outputs among their inputs' float values in float arithmetic, though
# not on integers (their inputs may have different scales there, so the registry's DIRECT path
# does not have them): all of their inputs carry data.
SELECTS_IN_FLOAT = frozenset({"Concat", "Max", "Min", "Relu", "Neg", "Abs"})


def keeps_half_values(node) -> bool:
    """The node's float outputs are float16 values whenever its float inputs are: it only moves
    or selects values (the registry's DIRECT ops, whose float attributes, like Pad's fill value,
    are float16 values, and SELECTS_IN_FLOAT) and has no fused activation. Every float value in
    the lowered graph is a float16 value (inputs and node outputs rounded, constants the rounded
    ones, parameters like Resize scales are never data), so such a node needs no rounding."""
    if node.post_ops:
        return False
    if node.op_type in SELECTS_IN_FLOAT:
        return True
    try:
        q = get_op(node.op_type).quant
    except UnsupportedOpError:   # an op the registry does not know: round its outputs
        return False
    if q.path != DIRECT or (q.direct_if is not None and not q.direct_if(node.attrs)):
        return False
    for v in node.attrs.values():
        a = np.asarray(v) if isinstance(v, (float, np.floating, np.ndarray)) else None
        if a is not None and a.dtype.kind == "f" and not np.array_equal(to_fp16(a.astype(np.float32)), a,
                                                                        equal_nan=True):
            return False
    return True


def lower_float16(graph: Graph, constants: dict[str, np.ndarray], *, isolate: bool = False,
                  shapes: dict | None = None):
    """(model, input dtypes). `constants` are the float16 simulator's (rounded) constants.
    `isolate=True` (layer-by-layer checks): every node reads its inputs from model inputs named
    `<value>::in` instead of from the node before it, and every node output is a model output.
    `shapes`, when given, receives the static shapes of the graph's values (onnx inference)."""
    check_ort_semantics(graph)
    types, inferred = infer_values(graph, constants)
    if shapes is not None:
        shapes.update(inferred)
    e = Emitter(graph.opset)
    for k, v in constants.items():
        e.init(k, np.asarray(v))

    def rounded(src: str, dst: str, dtype: np.dtype) -> None:
        if dtype != np.float32:
            raise LoweringError(f"value '{dst}' is {dtype}; the float16 lowering handles float32 values")
        half = e.one("Cast", [src], to=TensorProto.FLOAT16)
        e.op("Cast", [half], outputs=[dst], to=TensorProto.FLOAT)

    in_dtypes = []
    ins = []
    if isolate:
        feeds = [i for n in graph.nodes for i in n.inputs if i and i not in constants]
        for name in dict.fromkeys(feeds):
            if name not in types:
                raise LoweringError(f"no type inferred for '{name}'")
            if types[name].kind == "f" and types[name] != np.float32:   # as for the whole model below
                raise LoweringError(f"value '{name}' is {types[name]}; the float16 lowering handles float32 values")
            ins.append(value_info(name + "::in", types[name]))
    for v in ([] if isolate else graph.inputs):
        dt = np.dtype(v.dtype or np.float32)
        in_dtypes.append(dt)
        if dt.kind == "f":
            raw = e.fresh(v.name)
            ins.append(value_info(raw, dt))
            rounded(raw, v.name, dt)
        else:
            ins.append(value_info(v.name, dt))
    exposed = []
    for n in graph.nodes:
        outs = []
        exact = keeps_half_values(n)
        for o in n.outputs:
            if o and o not in types:
                raise LoweringError(f"no type inferred for '{o}' (node '{n.name}', {n.op_type})")
            if o and types[o].kind == "f" and types[o] != np.float32:
                raise LoweringError(f"value '{o}' is {types[o]}; the float16 lowering handles float32 values")
            outs.append(e.fresh(o) if o and types[o].kind == "f" and not exact else o)
        e.ir_node(n, [i + "::in" if isolate and i and i not in constants else i for i in n.inputs], outs)
        for o, tmp in zip(n.outputs, outs):
            if tmp != o:
                rounded(tmp, o, types[o])
            if o:
                exposed.append(o)
    names = [] if isolate else [v.name for v in graph.outputs]
    if isolate:
        names += [o for o in exposed if o not in names]
    outputs = [value_info(o, types.get(o, np.float32)) for o in names]
    return e.model(ins, outputs, graph.name), in_dtypes


class OrtFloatSimulator:
    """Same interface and results as `FloatSimulator` (within one float16 ULP per layer)."""

    backend = "ort"

    def __init__(self, graph: Graph, threads: int = 1):
        self.graph = graph
        self.reference = FloatSimulator(graph)     # the rounded constants; dumps run on it
        shapes: dict = {}
        model, self.in_dtypes = lower_float16(graph, self.reference.constants, shapes=shapes)
        # convolutions in onnxruntime's blocked layout with the roundings inside it, when it has one
        self.session = blocked_session(model, threads, shapes)
        self.in_names = [i.name for i in self.session.get_inputs()]
        self.out_names = [v.name for v in graph.outputs]

    def run(self, feeds: list[np.ndarray], dump: DumpHook | None = None) -> list[np.ndarray]:
        if dump is not None:   # per-layer values: the numpy reference walks the layers
            return self.reference.run(feeds, dump)
        if self.session is None:   # onnxruntime refused this model at run time once: the reference
            return self.reference.run(feeds)
        fd = dict(zip(self.in_names, (x if type(x) is np.ndarray and x.dtype == dt else np.asarray(x, dt)
                                      for x, dt in zip(feeds, self.in_dtypes))))
        try:
            return self.session.run(self.out_names, fd)
        except Exception as e:  # noqa: BLE001 - only onnxruntime's own refusals fall back
            if not is_ort_refusal(e):
                raise
            self.session = None   # an op form onnxruntime lacks (e.g. an Attention mask it rejects)
            return self.reference.run(feeds)
