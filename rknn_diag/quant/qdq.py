"""Export a quantized BuiltModel as its ONNX QDQ twin, and run it in onnxruntime.

The twin is the original float ops of the built graph with QuantizeLinear/DequantizeLinear
at exactly the parameters the integer simulator uses: every quantized tensor goes through
Q -> DQ after its producer (fused activations run, as float ops, before the Q), weights
are integer initializers behind a DequantizeLinear (per channel on their axis), biases int32
at input scale × weight scale. onnxruntime runs it with graph optimizations off, so no QDQ
fusion changes what is computed: it is the quantized reference the integer simulator must
match within `tolerances.QUANT_LSB` of each output's scale.

Where standard ONNX (opset < 21, which is what the models we load use) cannot express a
parameter exactly, the twin does this, with the same numbers:
* int16 activations (dynamic_fixed_point-i16, w8a16, w16a16i_dfp, w4a16), and every
  activation of a model below opset 10 (no QuantizeLinear): Q/DQ is written out as
  Div -> Round -> Add(zp) -> Clip -> Sub(zp) -> Mul, the same formula and tie rule (Round is
  half-to-even like QuantizeLinear); below opset 11 (no Round) the same tie rule is built
  from Floor, Equal and Cast.
* int16 and int4 weights, per-group (w4a16) weights, and any weight/bias of a model below
  opset 13 (no per-axis DequantizeLinear): the initializer holds the dequantized float32
  values scale·(q − zero_point), which is exactly what DequantizeLinear would produce.
* layers moved to float16 by hybrid quantization: their float inputs, constants and outputs
  are rounded to float16 (Cast there and back), the op itself runs in float32 — as the
  simulator's float16 layers do.
"""

from __future__ import annotations


import numpy as np
import onnx
from onnx import TensorProto, helper

from ..ir import Graph
from ..onnx_emit import GraphEmitter
from ..qrules.roles import bias_qparams
from ..qrules.schemes import QParams, dequantize, quantize

_ONNX_Q = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}


class _Builder(GraphEmitter):
    def __init__(self, graph: Graph, quant: dict):
        super().__init__(graph, producer="rknn_diag.quant.qdq")
        self.tensors = {k: QParams.from_dict(v) for k, v in quant.get("tensors", {}).items()}
        self.weights = {k: QParams.from_dict(v) for k, v in quant.get("weights", {}).items()}
        self.layers = dict(quant.get("layers", {}))
        self.dq: dict[str, str] = {}        # quantized tensor -> its DQ output name
        self.cur: dict[str, str] = {}       # value -> the twin name holding what the simulator holds

    def qdq(self, tensor: str, src: str) -> str:
        """Q -> DQ of float value `src` at `tensor`'s parameters; the DQ output name."""
        if tensor in self.dq:
            return self.dq[tensor]
        qp = self.tensors[tensor]
        out = f"{tensor}__dq"
        s = self.init(f"{tensor}__scale", np.asarray(qp.scale, np.float32).reshape(()))
        if qp.dtype in _ONNX_Q and self.opset >= 10:
            z = self.init(f"{tensor}__zp", np.asarray(qp.zero_point).astype(qp.dtype).reshape(()))
            self.node("QuantizeLinear", [src, s, z], [f"{tensor}__q"])
            self.node("DequantizeLinear", [f"{tensor}__q", s, z], [out])
        else:  # int16: the same formula written out (see module docstring)
            lo, hi = qp.qrange
            zf = self.init(f"{tensor}__zpf", np.asarray(qp.zero_point, np.float32).reshape(()))
            self.node("Div", [src, s], [f"{tensor}__div"])
            self._round(f"{tensor}__div", f"{tensor}__rnd")
            self.node("Add", [f"{tensor}__rnd", zf], [f"{tensor}__addz"])
            self._clip(f"{tensor}__addz", f"{tensor}__q", float(lo), float(hi))
            self.node("Sub", [f"{tensor}__q", zf], [f"{tensor}__subz"])
            self.node("Mul", [f"{tensor}__subz", s], [out])
        self.dq[tensor] = out
        return out

    def const_dq(self, name: str, q: np.ndarray, qp: QParams) -> str:
        """An integer constant behind a DequantizeLinear, or its exact float values (docstring)."""
        out = f"{name}__dqc"
        if out in self.inits or any(out in n.output for n in self.nodes):
            return out
        exact_dq = qp.dtype in ("uint8", "int8", "int32") and qp.group is None and self.opset >= 10 and (
            qp.per_tensor or self.opset >= 13)
        if not exact_dq:
            return self.init(out, dequantize(q, qp))
        qn = self.init(f"{name}__int", q.astype({"int32": np.int32, "uint8": np.uint8, "int8": np.int8}[qp.dtype]))
        s = self.init(f"{name}__s", np.asarray(qp.scale, np.float32).reshape(-1 if not qp.per_tensor else ()))
        z = self.init(f"{name}__z", np.asarray(qp.zero_point).astype(
            {"int32": np.int32, "uint8": np.uint8, "int8": np.int8}[qp.dtype]).reshape(-1 if not qp.per_tensor else ()))
        attrs = {} if qp.per_tensor else {"axis": int(qp.axis)}
        self.node("DequantizeLinear", [qn, s, z], [out], **attrs)
        return out

    def build(self) -> onnx.ModelProto:
        g = self.g
        for k, v in g.constants.items():
            if k in self.tensors:
                self.cur[k] = self.const_dq(k, quantize(v, self.tensors[k]), self.tensors[k])
            else:
                self.cur[k] = k   # raw: added as an initializer when used
        for v in g.inputs:
            self.cur[v.name] = self.qdq(v.name, v.name) if v.name in self.tensors else v.name
        for n in g.nodes:
            fp16 = self.layers.get(n.name) == "float16"
            biases = {} if fp16 else {n.name: bias_qparams(g, n, self.tensors, self.weights)}
            ins = []
            for i, name in enumerate(n.inputs):
                if not name:
                    ins.append("")
                elif fp16 and name in g.constants:
                    ins.append(self.fp16_const(name))
                elif fp16 and name in self.tensors:
                    ins.append(self.fp16(self.cur[name]))
                elif name in self.weights and not fp16:
                    ins.append(self.const_dq(name, quantize(g.constants[name], self.weights[name]),
                                             self.weights[name]))
                elif i == 2 and biases.get(n.name) is not None:
                    bq = biases[n.name]
                    ins.append(self.const_dq(f"{name}__{n.name}", quantize(g.constants[name], bq), bq))
                elif name in self.tensors and not fp16:
                    ins.append(self.cur[name] if self.cur[name] == self.dq.get(name) or name in g.constants
                               else self.qdq(name, self.cur[name]))
                elif name in g.constants:
                    ins.append(self.init(name, g.constants[name]) if name not in self.tensors else self.cur[name])
                else:
                    ins.append(self.cur[name])
            outs = [f"{o}__f" if o else "" for o in n.outputs]
            if fp16:   # float16 layer: its float outputs rounded to half precision
                outs = [f"{o}__f32" if o in self.tensors else o2 for o, o2 in zip(n.outputs, outs)]
            self.emit(n, ins, outs, n.outputs[0])
            for o in n.outputs:
                if not o:
                    continue
                self.cur[o] = f"{o}__f"
                if fp16 and o in self.tensors:
                    self.node("Identity", [self.fp16(f"{o}__f32")], [f"{o}__f"])
                if o in self.tensors and not fp16:
                    self.cur[o] = self.qdq(o, f"{o}__f")
        return self.finish(f"{g.name}_qdq_twin", self.cur, self.tensors)


def export_twin(graph: Graph, quant: dict) -> onnx.ModelProto:
    """The QDQ twin of a quantized model (see module docstring)."""
    return _Builder(graph, quant).build()


def run_twin(model: onnx.ModelProto | bytes, feeds: list[np.ndarray], input_names: list[str]) -> list[np.ndarray]:
    """Run the twin in onnxruntime, CPU, one thread, graph optimizations off."""
    import onnxruntime as ort

    data = model if isinstance(model, bytes) else model.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(input_names, feeds)))


# ---- layer by layer: every layer fed the simulator's own integers ------------------------------
class _LayerwiseBuilder(_Builder):
    """The twin cut at every tensor: each node's inputs are graph inputs holding the values
    the integer simulator had there, each quantized output is a graph output (its integers).
    One onnxruntime run then checks every layer of a model against the 1-LSB rule on its
    own, the way NNAPI's CTS checks single ops — so rounding differences cannot compound
    from layer to layer as they do end to end."""

    def __init__(self, graph: Graph, quant: dict, trace: dict):
        super().__init__(graph, quant)
        self.trace = trace
        self.feeds: dict[str, np.ndarray] = {}
        self.checked: list[str] = []

    def fed(self, name: str, quantized_use: bool = False) -> str:
        """A graph input holding the simulator's value of `name`; dequantized if it held
        integers. A float value (from a float16 layer) read by a quantized layer is quantized
        at the tensor's parameters first, as the simulator does."""
        arr, qp = self.trace[name]
        if qp is None:
            key = f"{name}__raw"
            self.feeds.setdefault(key, np.asarray(arr))
            if quantized_use and np.asarray(arr).dtype.kind == "f":
                return self.qdq(name, key)
            return key
        key = f"{name}__in"
        if key not in self.feeds:
            self.feeds[key] = np.asarray(arr).astype(np.float32)
            s = self.init(f"{name}__scale", np.asarray(qp.scale, np.float32).reshape(()))
            zf = self.init(f"{name}__zpf", np.asarray(qp.zero_point, np.float32).reshape(()))
            self.node("Sub", [key, zf], [f"{name}__in_c"])
            self.node("Mul", [f"{name}__in_c", s], [f"{name}__dqin"])
        return f"{name}__dqin"

    def q_out(self, tensor: str, src: str) -> str:
        qp = self.tensors[tensor]
        out = f"{tensor}__qout"
        s = self.init(f"{tensor}__scale", np.asarray(qp.scale, np.float32).reshape(()))
        if qp.dtype in _ONNX_Q and self.opset >= 10:
            z = self.init(f"{tensor}__zp", np.asarray(qp.zero_point).astype(qp.dtype).reshape(()))
            self.node("QuantizeLinear", [src, s, z], [f"{tensor}__q"])
            self.node("Cast", [f"{tensor}__q"], [out], to=TensorProto.FLOAT)
        else:
            lo, hi = qp.qrange
            zf = self.init(f"{tensor}__zpf", np.asarray(qp.zero_point, np.float32).reshape(()))
            self.node("Div", [src, s], [f"{tensor}__div"])
            self._round(f"{tensor}__div", f"{tensor}__rnd")
            self.node("Add", [f"{tensor}__rnd", zf], [f"{tensor}__addz"])
            self._clip(f"{tensor}__addz", out, float(lo), float(hi))
        self.checked.append(tensor)
        return out

    def build(self) -> onnx.ModelProto:
        g = self.g
        consts = {}
        for k, v in g.constants.items():
            consts[k] = self.const_dq(k, quantize(v, self.tensors[k]), self.tensors[k]) if k in self.tensors else k
        outputs = []
        for n in g.nodes:
            fp16 = self.layers.get(n.name) == "float16"
            bq = None if fp16 else bias_qparams(g, n, self.tensors, self.weights)
            ins = []
            for i, name in enumerate(n.inputs):
                if not name:
                    ins.append("")
                elif fp16 and name in g.constants:
                    ins.append(self.fp16_const(name))
                elif name in self.weights and not fp16:
                    ins.append(self.const_dq(name, quantize(g.constants[name], self.weights[name]),
                                             self.weights[name]))
                elif i == 2 and bq is not None:
                    ins.append(self.const_dq(f"{name}__{n.name}", quantize(g.constants[name], bq), bq))
                elif name in g.constants:
                    ins.append(consts[name] if name in self.tensors else self.init(name, g.constants[name]))
                elif fp16:
                    ins.append(self.fp16(self.fed(name)) if name in self.tensors else self.fed(name))
                else:
                    ins.append(self.fed(name, quantized_use=name in self.tensors))
            outs = [f"{o}__f{self.counter}" if o else "" for o in n.outputs]
            first = outs[0]
            self.emit(n, ins, outs, first)
            if not fp16:
                for o, fo in zip(n.outputs, [first, *outs[1:]]):
                    if o and o in self.tensors and np.asarray(self.trace[o][0]).dtype.kind in "iu":
                        outputs.append(helper.make_tensor_value_info(self.q_out(o, fo), TensorProto.FLOAT, None))
        inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
                  for k, v in self.feeds.items()]
        return self.model(f"{g.name}_qdq_layerwise", inputs, outputs)


def layerwise_lsb(graph: Graph, quant: dict, feeds: list[np.ndarray]) -> dict[str, float]:
    """Every quantized layer output of the integer simulator against the twin fed the same
    integer inputs: {tensor: max |difference| in LSBs}."""
    import onnxruntime as ort

    from ..sim.int_sim import IntegerSimulator

    trace: dict = {}
    IntegerSimulator(graph, quant).run(feeds, trace=trace)
    b = _LayerwiseBuilder(graph, quant, trace)
    model = b.build()
    if not b.checked:
        return {}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = sess.run([f"{t}__qout" for t in b.checked], b.feeds)
    return {t: float(np.max(np.abs(trace[t][0].astype(np.float64) - o), initial=0.0))
            for t, o in zip(b.checked, outs)}
