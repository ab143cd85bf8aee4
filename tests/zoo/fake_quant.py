"""A plain per-tensor int8 fake-quantized twin of a zoo model, built with onnx ops only
(QuantizeLinear/DequantizeLinear), to check that the zoo's value ranges make int8
meaningful. Deliberately simple and independent of rknn_diag.quant: it is the yardstick
for the fixtures, not the product."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# Tensors an NPU stores in 8 bits between layers.
ACTIVATION_OPS = ("BatchNormalization", "Relu", "Clip", "LeakyRelu", "Add", "MaxPool")


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def activation_ranges(model: onnx.ModelProto, images: np.ndarray) -> dict[str, tuple[float, float]]:
    """Min/max (widened to include 0) of every activation tensor over `images`, one at a time."""
    names = [n.output[0] for n in model.graph.node if n.op_type in ACTIVATION_OPS]
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in names)
    sess, inp = session(m), model.graph.input[0].name
    runs = [sess.run(names, {inp: images[i:i + 1]}) for i in range(len(images))]
    return {t: (min(0.0, min(float(r[j].min()) for r in runs)), max(0.0, max(float(r[j].max()) for r in runs)))
            for j, t in enumerate(names)}


def fake_quant_twin(model: onnx.ModelProto, images: np.ndarray) -> onnx.ModelProto:
    """Conv/Gemm weights: symmetric int8, one scale per tensor. Activations: asymmetric
    uint8, one scale per tensor from `images`. Biases and BN parameters stay float."""
    ranges = activation_ranges(model, images)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    weights = {n.input[1] for n in m.graph.node if n.op_type in ("Conv", "Gemm")}
    for init in m.graph.initializer:
        if init.name in weights:
            w = numpy_helper.to_array(init)
            scale = np.abs(w).max() / 127.0
            init.CopyFrom(numpy_helper.from_array((np.round(w / scale) * scale).astype(np.float32), init.name))
    nodes = []
    for n in m.graph.node:
        # Read the dequantized copy of every quantized activation.
        for i, x in enumerate(n.input):
            if x in ranges:
                n.input[i] = f"{x}.dq"
        nodes.append(n)
        t = n.output[0]
        if t in ranges:
            lo, hi = ranges[t]
            scale = (hi - lo) / 255.0 or 1.0
            zero = int(np.clip(round(-lo / scale), 0, 255))
            m.graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), f"{t}.scale"),
                                        numpy_helper.from_array(np.array(zero, np.uint8), f"{t}.zero")])
            nodes.append(helper.make_node("QuantizeLinear", [t, f"{t}.scale", f"{t}.zero"], [f"{t}.q"]))
            nodes.append(helper.make_node("DequantizeLinear", [f"{t}.q", f"{t}.scale", f"{t}.zero"], [f"{t}.dq"]))
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m
