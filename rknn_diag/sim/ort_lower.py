"""IR -> ONNX for the onnxruntime backend: the pieces both lowerings (float16, integer) share.

An IR node is already an ONNX node (same op type, ONNX-named attributes); what needs lowering
is what the IR adds: fused activations (`post_ops`, kept in their opset-13 form), numpy
constants, and the value types, which onnx's type inference supplies.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import RknnDiagError
from ..ir import Graph, Node

# onnxruntime reads models up to this IR version (onnx may write newer ones).
IR_VERSION = 8


class LoweringError(RknnDiagError):
    """The graph (or one node) has no exact onnxruntime form; the numpy kernels run it."""


def onnx_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, np.ndarray):
            v = numpy_helper.from_array(v)
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


class Emitter:
    """Collects ONNX nodes and initializers under fresh names."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self._ids = itertools.count()

    def fresh(self, hint: str) -> str:
        return f"{hint}__ort{next(self._ids)}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        name = self.fresh(hint)
        self.inits[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, outputs: list[str] | None = None,
           **attrs: Any) -> list[str]:
        outs = outputs if outputs is not None else [self.fresh(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **onnx_attrs(attrs)))
        return outs

    def one(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.op(op_type, inputs, **attrs)[0]

    def ir_node(self, node: Node, inputs: list[str], outputs: list[str], post_dtype=np.float32) -> None:
        """The node as its ONNX op, then its fused activations on the first output."""
        if not node.post_ops:
            self._op_compat(node, inputs, outputs)
            return
        first = self.fresh(outputs[0])
        self._op_compat(node, inputs, [first, *outputs[1:]])
        for k, post in enumerate(node.post_ops):
            dst = outputs[0] if k == len(node.post_ops) - 1 else self.fresh(outputs[0])
            ins, attrs = [first], dict(post.attrs)
            if post.op_type == "Clip" and self.opset < 11:   # Clip took attributes before opset 11
                lo, hi = (list(post.inputs) + [None, None])[:2]
                attrs.update({k2: float(v) for k2, v in (("min", lo), ("max", hi)) if v is not None})
            else:
                ins += [self.const(np.asarray(v, post_dtype)) if v is not None else "" for v in post.inputs]
            while ins and ins[-1] == "":
                ins.pop()
            if post.op_type == "HardSwish" and self.opset < 14:   # fused into a conv (passes.fuse_activation)
                self._hardswish(first, dst)
            elif post.op_type == "Swish" and self.opset < 24:
                self._swish(first, dst, float(post.attrs.get("alpha", 1.0)))
            else:
                self.op(post.op_type, ins, outputs=[dst], **attrs)
            first = dst

    def _op_compat(self, node: Node, inputs: list[str], outputs: list[str]) -> None:
        """An IR node whose op the model's opset lacks, in older ops: HardSwish (opset 14; the
        passes fuse decomposed ones in any model) as x * HardSigmoid(x, 1/6, 1/2)."""
        if node.op_type == "HardSwish" and self.opset < 14:
            self._hardswish(inputs[0], outputs[0])
            return
        if node.op_type == "Swish" and self.opset < 24:   # the passes fuse x * Sigmoid(x) in any model
            self._swish(inputs[0], outputs[0], float(node.attrs.get("alpha", 1.0)))
            return
        if node.op_type == "Gelu" and self.opset < 20:   # the passes fuse x · Φ(x) in any model
            if node.attrs.get("approximate", "none") != "none":
                raise LoweringError(f"Gelu '{node.name}' (approximate={node.attrs['approximate']!r}) before opset 20")
            f32 = lambda v: self.const(np.asarray(v, np.float32))   # noqa: E731
            phi2 = self.one("Add", [self.one("Erf", [self.one("Div", [inputs[0], f32(np.sqrt(2.0))])]), f32(1.0)])
            self.op("Mul", [self.one("Mul", [inputs[0], phi2]), f32(0.5)], outputs=outputs[:1])
            return
        if node.op_type == "LayerNormalization" and self.opset < 17:   # the passes fuse it in any model
            if node.attrs.get("axis", -1) != -1:
                raise LoweringError(f"LayerNormalization '{node.name}' over several axes before opset 17")
            x = inputs[0]
            eps = self.const(np.asarray(node.attrs.get("epsilon", 1e-5), np.float32))
            d = self.one("Sub", [x, self.one("ReduceMean", [x], axes=[-1])])
            var = self.one("ReduceMean", [self.one("Mul", [d, d])], axes=[-1])
            y = self.one("Mul", [self.one("Div", [d, self.one("Sqrt", [self.one("Add", [var, eps])])]), inputs[1]])
            if len(inputs) > 2 and inputs[2]:
                self.op("Add", [y, inputs[2]], outputs=outputs[:1])
            else:
                self.op("Identity", [y], outputs=outputs[:1])
            return
        self.op(node.op_type, inputs, outputs=outputs, **node.attrs)

    def _hardswish(self, x: str, out: str) -> None:
        """x * HardSigmoid(x, 1/6, 1/2), in the ops of opsets before HardSwish (14)."""
        self.op("Mul", [x, self.one("HardSigmoid", [x], alpha=1.0 / 6, beta=0.5)], outputs=[out])

    def _swish(self, x: str, out: str, alpha: float) -> None:
        """x * Sigmoid(alpha * x), in the ops of opsets before Swish (24)."""
        ax = x if alpha == 1.0 else self.one("Mul", [x, self.const(np.asarray(alpha, np.float32))])
        self.op("Mul", [x, self.one("Sigmoid", [ax])], outputs=[out])

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              name: str = "lowered") -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, name, inputs, outputs, list(self.inits.values()))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", max(self.opset, 7))],
                              producer_name="rknn_diag")
        m.ir_version = IR_VERSION
        return m


def value_info(name: str, dtype, shape=None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)


def infer_types(graph: Graph, constants: dict[str, np.ndarray] | None = None) -> dict[str, np.dtype]:
    """Every value's dtype in float semantics (the graph lowered as it is, onnx type inference)."""
    return infer_values(graph, constants)[0]


def infer_values(graph: Graph, constants: dict[str, np.ndarray] | None = None, fold: bool = False):
    """({value: dtype}, {value: static shape tuple}) in float semantics (onnx shape inference).
    `fold=True`: shape arithmetic onnx does not follow (Shape -> Cast -> Slice -> Concat ->
    Reshape, as exporters write it) is folded from the static shapes (`_fold_shapes`) and
    inferred again, so more values have a static shape."""
    consts = dict(graph.constants if constants is None else constants)
    types, shapes = _infer(graph, consts)
    for _ in range(SHAPE_FOLD_ROUNDS if fold else 0):
        folded = _fold_shapes(graph, consts, shapes)
        if not folded:
            break
        consts.update(folded)
        types, shapes = _infer(graph, consts)
    return types, shapes


# Shape arithmetic folded from static shapes: integer ops on small integer tensors.
SHAPE_OPS = ("Cast", "Slice", "Concat", "Gather", "Unsqueeze", "Squeeze", "Reshape", "Mul", "Add", "Sub", "Div",
             "Identity", "Range", "Equal", "Where", "Max", "Min", "ReduceProd")
SHAPE_FOLD_ROUNDS = 4
SHAPE_VALUE_SIZE = 64


def _fold_shapes(graph: Graph, consts: dict, shapes: dict) -> dict[str, np.ndarray]:
    """Integer values that follow from static shapes alone: Shape of a value whose shape is known,
    then SHAPE_OPS on such values and constants (the float kernels of rknn_diag.ops, exact on
    small integers). Only values not yet known; nothing is folded into the lowered graph itself."""
    from .reference import run_node_float

    known: dict[str, np.ndarray] = {}
    for n in graph.nodes:
        if n.post_ops or not n.outputs or n.outputs[0] in consts:
            continue
        if n.op_type == "Shape" and shapes.get(n.inputs[0]) is not None:
            shp = np.asarray(shapes[n.inputs[0]], np.int64)
            start, end = n.attrs.get("start", 0), n.attrs.get("end")
            known[n.outputs[0]] = shp[start:end] if end is not None else shp[start:]
            continue
        if n.op_type not in SHAPE_OPS or not any(i in known for i in n.inputs):
            continue
        if not all(not i or i in known or i in consts for i in n.inputs):
            continue
        ins = [None if not i else known[i] if i in known else np.asarray(consts[i]) for i in n.inputs]
        if any(x is not None and (x.dtype.kind not in "iub" or x.size > SHAPE_VALUE_SIZE) for x in ins):
            continue
        try:
            outs = run_node_float(n, ins, graph.opset)
        except Exception:   # noqa: BLE001 - not foldable here: onnx's own inference stands
            continue
        for o, v in zip(n.outputs, outs):
            if o and v.dtype.kind in "iub" and v.size <= SHAPE_VALUE_SIZE:
                known[o] = v
    return {k: v for k, v in known.items() if k not in consts}


def _infer(graph: Graph, consts: dict):
    e = Emitter(graph.opset)
    for k, v in consts.items():
        e.init(k, np.asarray(v))
    for n in graph.nodes:
        outs = [o if o not in consts else e.fresh(o) for o in n.outputs]   # a folded value is an initializer
        e.ir_node(n, list(n.inputs), outs)
    ins = [value_info(v.name, v.dtype or np.float32, v.shape if v.is_static() else None) for v in graph.inputs]
    outs = [value_info(v.name, v.dtype or np.float32) for v in graph.outputs]
    m = e.model(ins, outs)
    try:
        m = onnx.shape_inference.infer_shapes(m, strict_mode=False)
    except Exception as err:   # onnx's InferenceError and friends
        raise LoweringError(f"onnx type inference failed on the lowered graph: {err}") from None
    types: dict[str, np.dtype] = {k: np.asarray(v).dtype for k, v in consts.items()}
    shapes: dict[str, tuple] = {k: np.shape(v) for k, v in consts.items()}
    for vi in [*m.graph.input, *m.graph.value_info, *m.graph.output]:
        tt = vi.type.tensor_type
        if tt.elem_type != TensorProto.UNDEFINED:
            types[vi.name] = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    return types, shapes


def session(model: onnx.ModelProto, threads: int):
    import onnxruntime as ort

    try:
        return ort.InferenceSession(model.SerializeToString(), session_options(threads),
                                    providers=["CPUExecutionProvider"])
    except Exception as err:   # onnxruntime raises its own exception types for unsupported ops
        raise LoweringError(f"onnxruntime refused the lowered model: {str(err)[:400]}") from None


def session_options(threads: int):
    """The backend's onnxruntime settings: `threads` intra-op threads, sequential, quiet."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    # no arena: freed tensors go back at once, so the peak is the live set (about half the
    # arena's peak on the corpus models, same speed)
    so.enable_cpu_mem_arena = False
    return so


def is_ort_refusal(e: BaseException) -> bool:
    """An error raised by onnxruntime itself (an op form or shape it does not run): the model
    then runs on the numpy reference, which is the semantics anyway."""
    return type(e).__module__.startswith("onnxruntime")


def check_ort_semantics(graph) -> None:
    """Raise LoweringError when an op of the graph has a form whose onnxruntime kernel departs
    from the ONNX spec that our kernels follow (the model then runs on the numpy reference):
    Resize with align_corners and scales (onnxruntime divides by the rounded output size, the
    spec by size x scale; onnx/onnx#2462)."""
    for n in graph.nodes:
        if n.op_type == "Resize":
            mode = n.attrs.get("coordinate_transformation_mode", "half_pixel")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            scales = n.inputs[2] if len(n.inputs) > 2 else ""
            sizes = n.inputs[3] if len(n.inputs) > 3 else ""
            if mode == "align_corners" and scales and not sizes:
                raise LoweringError(f"Resize '{n.name}': align_corners with scales differs in onnxruntime")
