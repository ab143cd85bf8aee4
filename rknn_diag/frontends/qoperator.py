"""ONNX QOperator models (onnxruntime's `quantize_static(quant_format=QOperator)`, the 1.x
load_quantized_model example) rewritten to the equivalent QDQ form, so the QDQ import
(`rknn_diag.quant.qdq_import`) keeps the model's own scales and zero points.

Each QLinear op becomes DequantizeLinear of its integer inputs -> the float op (same name and
attributes) -> QuantizeLinear with its output parameters: the same arithmetic onnxruntime's
reference for these ops describes. An int32 bias gets the scale input_scale x weight_scale
(what the QLinear ops define it as). Ops that onnxruntime leaves to run directly on 8-bit
data (MaxPool, Reshape, Flatten, Transpose, ...) get the same treatment with their input's
parameters on their output, as their output keeps the input's scale.
Dynamic quantization (MatMulInteger, ConvInteger, DynamicQuantizeLinear) has no fixed
activation scales and is refused with what to do.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import UnsupportedOpError

MS = "com.microsoft"

# op -> (float op, positions of (x, scale, zero point) triples of data inputs, output (scale, zp) positions,
#        extra float inputs (bias handled separately))
_QLINEAR = {
    "QLinearConv": ("Conv", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearMatMul": ("MatMul", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearAdd": ("Add", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearMul": ("Mul", [(0, 1, 2), (3, 4, 5)], (6, 7)),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", [(0, 1, 2)], (3, 4)),
    "QLinearAveragePool": ("AveragePool", [(0, 1, 2)], (3, 4)),
    "QLinearLeakyRelu": ("LeakyRelu", [(0, 1, 2)], (3, 4)),
    "QLinearSigmoid": ("Sigmoid", [(0, 1, 2)], (3, 4)),
    "QLinearSoftmax": ("Softmax", [(0, 1, 2)], (3, 4)),
    "QGemm": ("Gemm", [(0, 1, 2), (3, 4, 5)], (7, 8)),
}
_DROP_ATTRS = {"channels_last", "opset"}   # QLinear-only attributes with no float counterpart
# Ops onnxruntime runs directly on 8-bit tensors: their output keeps the input's parameters.
_DIRECT = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Resize", "Slice", "Split",
           "Gather", "Pad", "DepthToSpace", "SpaceToDepth", "Identity", "Expand", "Tile"}
# (DynamicQuantizeLinear alone is an op with a kernel; with these it is a dynamically quantized model)
_DYNAMIC = {"MatMulInteger", "ConvInteger"}


def has_qoperator(proto: onnx.ModelProto) -> bool:
    return any(n.op_type in _QLINEAR or n.op_type == "QLinearConcat" or n.op_type in _DYNAMIC
               for n in proto.graph.node)


def to_qdq(proto: onnx.ModelProto, where: str = "<model>") -> onnx.ModelProto:
    """A copy of `proto` with every QOperator op rewritten to DQ -> float op -> Q."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    params: dict[str, tuple[str, str]] = {}     # integer tensor -> (scale, zero point) names
    new_nodes: list[onnx.NodeProto] = []
    counter = [0]
    taken = {v for n in g.node for v in (*n.input, *n.output)} | set(inits) | {i.name for i in g.input}

    def fresh(base: str) -> str:
        counter[0] += 1
        return f"{base}__qop{counter[0]}"

    def float_name(qname: str) -> str:
        """The float tensor's name: the exporter's '<name>_quantized' without the suffix, if free
        (layer dumps, accuracy_analysis and hybrid cfgs then name the float model's tensors)."""
        base = qname[:-len("_quantized")] if qname.endswith("_quantized") else ""
        name = base if base and base not in taken else fresh(f"{qname}_f")
        taken.add(name)
        return name

    def const(name: str, value: np.ndarray) -> str:
        g.initializer.append(numpy_helper.from_array(value, name))
        inits[name] = g.initializer[-1]
        return name

    def dq(x: str, s: str, z: str, node_name: str, axis: int | None = None) -> str:
        y = float_name(x) if x in inits else fresh(f"{x}_dq")
        attrs = {"axis": axis} if axis is not None else {}
        new_nodes.append(helper.make_node("DequantizeLinear", [x, s, z] if z else [x, s], [y],
                                          name=fresh(f"{node_name}_dq"), **attrs))
        return y

    def q(x: str, s: str, z: str, y: str, node_name: str) -> None:
        new_nodes.append(helper.make_node("QuantizeLinear", [x, s, z] if z else [x, s], [y],
                                          name=fresh(f"{node_name}_q")))
        params[y] = (s, z)

    def array(name: str) -> np.ndarray | None:
        return numpy_helper.to_array(inits[name]) if name in inits else None

    for n in g.node:
        name = n.name or fresh(n.op_type)
        at = f"{where}, node '{name}' ({n.op_type})"
        if n.op_type in _DYNAMIC:
            raise UnsupportedOpError(f"{n.op_type} is dynamic quantization: activation scales are computed at "
                                     f"run time, which the NPU does not do", where=at,
                                     fix="quantize statically (onnxruntime quantize_static) or load the float "
                                         "model and build(do_quantization=True)", ref="1.4.1")
        if n.op_type == "QuantizeLinear":
            new_nodes.append(n)
            params[n.output[0]] = (n.input[1], n.input[2] if len(n.input) > 2 else "")
            continue
        if n.op_type == "QLinearConcat":
            ys, yz = n.input[0], n.input[1]
            floats = [dq(n.input[i], n.input[i + 1], n.input[i + 2], name) for i in range(2, len(n.input), 3)]
            y = float_name(n.output[0])
            new_nodes.append(helper.make_node("Concat", floats, [y], name=name,
                                              axis=helper.get_attribute_value(n.attribute[0])
                                              if n.attribute else 0))
            q(y, ys, yz, n.output[0], name)
            continue
        if n.op_type in _QLINEAR:
            float_op, triples, (ysi, yzi) = _QLINEAR[n.op_type]
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute if a.name not in _DROP_ATTRS}
            if n.op_type == "QLinearGlobalAveragePool" and any(
                    a.name == "channels_last" and helper.get_attribute_value(a) for a in n.attribute):
                raise UnsupportedOpError("QLinearGlobalAveragePool with channels_last=1", where=at,
                                         fix="quantize the model with NCHW tensors")
            floats = []
            for k, (xi, si, zi) in enumerate(triples):
                x = n.input[xi]
                zname = n.input[zi] if zi < len(n.input) else ""
                axis = None
                s = array(n.input[si])
                if k == 1 and s is not None and s.size > 1:    # per-channel weights
                    trans_b = bool(attrs.get("transB", 0))
                    axis = 0 if float_op == "Conv" or (float_op == "Gemm" and trans_b) else 1
                floats.append(dq(x, n.input[si], zname, name, axis))
            extra = []
            bias_pos = 8 if n.op_type == "QLinearConv" else (6 if n.op_type == "QGemm" else None)
            if bias_pos is not None and bias_pos < len(n.input) and n.input[bias_pos]:
                b = n.input[bias_pos]
                xs, ws = array(n.input[triples[0][1]]), array(n.input[triples[1][1]])
                bq = array(b)
                if xs is None or ws is None or bq is None:
                    raise UnsupportedOpError("the bias scale (input scale x weight scale) is not constant",
                                             where=at, fix="export with constant scales (quantize_static)")
                bs = (xs.astype(np.float32) * ws.astype(np.float32)).reshape(-1)
                bsn = const(fresh(f"{b}_scale"), bs if bs.size > 1 else bs.reshape(()))
                bzn = const(fresh(f"{b}_zero_point"), np.zeros(bs.shape if bs.size > 1 else (), np.int32))
                extra.append(dq(b, bsn, bzn, name, 0 if bs.size > 1 else None))
            if n.op_type == "QGemm":
                attrs = {k: v for k, v in attrs.items() if k in ("alpha", "transA", "transB")}
            y = float_name(n.output[0])
            new_nodes.append(helper.make_node(float_op, floats + extra, [y], name=name, **attrs))
            if ysi < len(n.input) and n.input[ysi]:
                q(y, n.input[ysi], n.input[yzi] if yzi < len(n.input) else "", n.output[0], name)
            else:   # QGemm without output scale: a float output
                new_nodes.append(helper.make_node("Identity", [y], [n.output[0]], name=fresh(f"{name}_out")))
            continue
        if n.op_type.startswith("QLinear") or n.domain == MS and n.op_type.startswith("Q"):
            raise UnsupportedOpError(f"quantized op {n.op_type} is not supported", where=at,
                                     fix="quantize in QDQ format (quant_format=QDQ), or leave this op in float")
        if n.op_type in _DIRECT and n.input and n.input[0] in params:
            s, z = params[n.input[0]]
            ins = [dq(n.input[0], s, z, name), *n.input[1:]]
            outs = [float_name(o) for o in n.output]
            new_nodes.append(helper.make_node(n.op_type, ins, outs, name=name,
                                              **{a.name: helper.get_attribute_value(a) for a in n.attribute}))
            for f, o in zip(outs, n.output):
                q(f, s, z, o, name)
            continue
        new_nodes.append(n)
    del g.node[:]
    g.node.extend(new_nodes)
    # the rewritten graph uses only default-domain ops; keep other imports only if still used
    used = {n.domain for n in g.node}
    keep = [o for o in out.opset_import if (o.domain or "") == "" or o.domain in used]
    del out.opset_import[:]
    out.opset_import.extend(keep)
    for o in out.opset_import:
        if (o.domain or "") == "" and o.version < 13:
            o.version = 13   # per-axis DequantizeLinear; QOperator exporters write 13+ anyway
    g.ClearField("value_info")   # intermediate types changed (uint8 -> float)
    return out
