"""Emit an IR graph's nodes as ONNX (with their fused activations), for models that
onnxruntime runs beside ours: the QDQ twin (`quant.qdq`) and the independent oracle
(`rknn_diag.oracle`). Float ops only; no quantization rule lives here."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .ir import Graph


def _attr(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return numpy_helper.from_array(v)
    if isinstance(v, np.generic):
        return v.item()
    return v



class GraphEmitter:
    """Collects nodes and initializers; `emit` writes one IR node and its fused activations."""

    def __init__(self, graph: Graph, producer: str):
        self.g = graph
        self.opset = graph.opset
        self.producer = producer
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self.counter = 0

    def init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(arr), name)
        return name

    def node(self, op: str, ins: list[str], outs: list[str], **attrs) -> None:
        self.counter += 1
        self.nodes.append(helper.make_node(op, ins, outs, name=f"n{self.counter}_{op}",
                                           **{k: _attr(v) for k, v in attrs.items()}))

    def fp16(self, src: str) -> str:
        """float16 rounding of a float32 value (Cast there and back), as the simulator's
        float16 layers round their inputs and outputs."""
        out = f"{src}__h"
        if not any(out in nd.output for nd in self.nodes):
            self.node("Cast", [src], [f"{src}__f16"], to=TensorProto.FLOAT16)
            self.node("Cast", [f"{src}__f16"], [out], to=TensorProto.FLOAT)
        return out

    def fp16_const(self, name: str) -> str:
        c = np.asarray(self.g.constants[name])
        if c.dtype.kind == "f":
            return self.init(f"{name}__fp16", c.astype(np.float16).astype(np.float32))
        return self.init(name, c)

    def _round(self, src: str, dst: str) -> None:
        """Round half to even: the Round op, or before opset 11 (no Round) the same rule built
        from Floor: f = floor(x + 0.5), minus 1 where x was a tie and f is odd."""
        if self.opset >= 11:
            self.node("Round", [src], [dst])
            return
        half = self.init("__half", np.float32(0.5))
        two = self.init("__two", np.float32(2.0))
        self.node("Add", [src, half], [f"{dst}__p5"])
        self.node("Floor", [f"{dst}__p5"], [f"{dst}__fl"])
        self.node("Sub", [f"{dst}__fl", src], [f"{dst}__d"])
        # Equal takes floats only from opset 11: tie = not (d < 0.5 or d > 0.5)
        self.node("Less", [f"{dst}__d", half], [f"{dst}__lt"])
        self.node("Greater", [f"{dst}__d", half], [f"{dst}__gt"])
        self.node("Or", [f"{dst}__lt", f"{dst}__gt"], [f"{dst}__ne"])
        self.node("Not", [f"{dst}__ne"], [f"{dst}__tieb"])
        self.node("Cast", [f"{dst}__tieb"], [f"{dst}__tie"], to=TensorProto.FLOAT)
        self.node("Mul", [f"{dst}__fl", half], [f"{dst}__h"])
        self.node("Floor", [f"{dst}__h"], [f"{dst}__hf"])
        self.node("Mul", [f"{dst}__hf", two], [f"{dst}__even"])
        self.node("Sub", [f"{dst}__fl", f"{dst}__even"], [f"{dst}__odd"])
        self.node("Mul", [f"{dst}__tie", f"{dst}__odd"], [f"{dst}__corr"])
        self.node("Sub", [f"{dst}__fl", f"{dst}__corr"], [dst])

    def model(self, name: str, inputs: list, outputs: list) -> onnx.ModelProto:
        """The emitted nodes as a model, with only the initializers they read."""
        used = {i for nd in self.nodes for i in nd.input}
        graph = helper.make_graph(self.nodes, name, inputs, outputs, [t for k, t in self.inits.items() if k in used])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name=self.producer)
        model.ir_version = 8
        return model

    def emit(self, n, ins: list[str], outs: list[str], stem: str) -> None:
        """Node `n`, then its fused activations, so that the last one writes outs[0]
        (intermediate names derive from `stem`)."""
        first, outs = outs[0], list(outs)
        if n.post_ops:
            outs[0] = f"{stem}__pre"
        if n.op_type == "Swish" and self.opset < 24:   # fused by the passes in any model
            self._swish(ins[0], outs[0], float(n.attrs.get("alpha", 1.0)), stem)
        elif n.op_type == "HardSwish" and self.opset < 14:   # fused by the passes in any model
            self._hardswish(ins[0], outs[0], stem)
        elif n.op_type == "Gelu" and self.opset < 20:   # fused by the passes in any model
            self._gelu(ins[0], outs[0], n.attrs.get("approximate", "none"), stem)
        elif n.op_type == "LayerNormalization" and self.opset < 17 and n.attrs.get("axis", -1) == -1:
            eps = self.init(f"{stem}__eps", np.float32(n.attrs.get("epsilon", 1e-5)))
            self.node("ReduceMean", ins[:1], [f"{stem}__mu"], axes=[-1])
            self.node("Sub", [ins[0], f"{stem}__mu"], [f"{stem}__d"])
            self.node("Mul", [f"{stem}__d", f"{stem}__d"], [f"{stem}__d2"])
            self.node("ReduceMean", [f"{stem}__d2"], [f"{stem}__var"], axes=[-1])
            self.node("Add", [f"{stem}__var", eps], [f"{stem}__ve"])
            self.node("Sqrt", [f"{stem}__ve"], [f"{stem}__sd"])
            self.node("Div", [f"{stem}__d", f"{stem}__sd"], [f"{stem}__n"])
            last = outs[0] if len(ins) < 3 or not ins[2] else f"{stem}__ng"
            self.node("Mul", [f"{stem}__n", ins[1]], [last])
            if last != outs[0]:
                self.node("Add", [last, ins[2]], outs[:1])
        else:
            self.node(n.op_type, ins, outs, **n.attrs)
        src = outs[0]
        for k, p in enumerate(n.post_ops):
            dst = first if k == len(n.post_ops) - 1 else f"{stem}__post{k}"
            if p.op_type == "Clip":
                lo = p.inputs[0] if len(p.inputs) > 0 and p.inputs[0] is not None else None
                hi = p.inputs[1] if len(p.inputs) > 1 and p.inputs[1] is not None else None
                self._clip(src, dst, None if lo is None else float(lo), None if hi is None else float(hi))
            elif p.op_type == "Swish" and self.opset < 24:   # fused into a conv (passes.fuse_activation)
                self._swish(src, dst, float(p.attrs.get("alpha", 1.0)), f"{stem}__post{k}")
            elif p.op_type == "HardSwish" and self.opset < 14:   # fused into a conv (passes.fuse_activation)
                self._hardswish(src, dst, f"{stem}__post{k}")
            else:   # constant operands of a fused op (a scalar affine's factor) as initializers
                consts = [self.init(f"{stem}__post{k}_in{j}", np.asarray(v, np.float32)) for j, v in enumerate(p.inputs)]
                self.node(p.op_type, [src, *consts], [dst], **p.attrs)
            src = dst

    def _hardswish(self, src: str, dst: str, stem: str) -> None:
        """x * HardSigmoid(x, 1/6, 1/2), in the ops of opsets before HardSwish (14)."""
        self.node("HardSigmoid", [src], [f"{stem}__hsig"], alpha=1.0 / 6, beta=0.5)
        self.node("Mul", [src, f"{stem}__hsig"], [dst])

    def _gelu(self, src: str, dst: str, approximate: str, stem: str) -> None:
        """x · 0.5 · (1 + Erf(x / √2)), in the ops of opsets before Gelu (20)."""
        if approximate != "none":
            raise ValueError(f"Gelu(approximate={approximate!r}) before opset 20 has no emitted form here")
        self.node("Div", [src, self.init(f"{stem}__sqrt2", np.float32(np.sqrt(2.0)))], [f"{stem}__xs"])
        self.node("Erf", [f"{stem}__xs"], [f"{stem}__erf"])
        self.node("Add", [f"{stem}__erf", self.init(f"{stem}__one", np.float32(1.0))], [f"{stem}__phi2"])
        self.node("Mul", [src, f"{stem}__phi2"], [f"{stem}__xphi2"])
        self.node("Mul", [f"{stem}__xphi2", self.init(f"{stem}__half", np.float32(0.5))], [dst])

    def _swish(self, src: str, dst: str, alpha: float, stem: str) -> None:
        """x * Sigmoid(alpha * x), in the ops of opsets before Swish (24)."""
        x = src
        if alpha != 1.0:
            x = f"{stem}__ax"
            self.node("Mul", [src, self.init(f"{stem}__alpha", np.float32(alpha))], [x])
        self.node("Sigmoid", [x], [f"{stem}__sig"])
        self.node("Mul", [src, f"{stem}__sig"], [dst])

    def _clip(self, src: str, dst: str, lo: float | None, hi: float | None) -> None:
        if self.opset < 11:
            self.node("Clip", [src], [dst], **({"min": lo} if lo is not None else {}),
                      **({"max": hi} if hi is not None else {}))
            return
        ins = [src, self.init(f"__c{lo}", np.float32(lo)) if lo is not None else "",
               self.init(f"__c{hi}", np.float32(hi)) if hi is not None else ""]
        while ins and ins[-1] == "":
            ins.pop()
        self.node("Clip", ins, [dst])

    def finish(self, name: str, cur: dict[str, str], float_outputs) -> onnx.ModelProto:
        """The model: each graph output an Identity of the value `cur` maps it to (a constant
        output from its initializer); outputs in `float_outputs` typed float32 (dequantized)."""
        g = self.g
        outputs = []
        for v in g.outputs:
            src = cur.get(v.name, v.name)
            if src == v.name:   # a constant output (the graph folded to it)
                src = self.init(f"{v.name}__const", g.constants[v.name])
            self.node("Identity", [src], [v.name])
            et = TensorProto.FLOAT if v.name in float_outputs or v.dtype is None else \
                helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype))
            outputs.append(helper.make_tensor_value_info(v.name, et, None))
        inputs = [helper.make_tensor_value_info(v.name, helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype or np.float32)),
                                                list(v.shape) if v.shape else None) for v in g.inputs]
        return self.model(name, inputs, outputs)
