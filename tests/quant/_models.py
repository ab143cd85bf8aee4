"""Small ONNX models built by code for the quantization tests (fixed seeds)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _model(nodes, inits: dict[str, np.ndarray], inputs, outputs, opset: int = 13) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "m", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                               for o in outputs],
                          [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def small_cnn(seed: int = 0) -> onnx.ModelProto:
    """Conv+Relu, MaxPool, Conv+LeakyRelu, residual Add+Relu, Concat, Sigmoid, GAP, Gemm, Softmax."""
    r = np.random.default_rng(seed)
    inits = {"w1": r.standard_normal((8, 3, 3, 3)) * 0.3, "b1": r.standard_normal(8) * 0.1,
             "w2": r.standard_normal((8, 8, 3, 3)) * 0.2, "b2": r.standard_normal(8) * 0.1,
             "wf": r.standard_normal((10, 16)) * 0.3, "bf": r.standard_normal(10) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("LeakyRelu", ["c2"], ["l2"], alpha=0.1, name="leaky2"),
             helper.make_node("Add", ["l2", "p1"], ["a2"], name="add2"),
             helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
             helper.make_node("Sigmoid", ["p1"], ["s1"], name="sig"),
             helper.make_node("Concat", ["r2", "s1"], ["cc"], axis=1, name="concat"),
             helper.make_node("GlobalAveragePool", ["cc"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1, name="fc"),
             helper.make_node("Softmax", ["y"], ["prob"], name="softmax")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])
    return _model(nodes, inits, [x], ["prob", "y", "cc"])


def outlier_cnn(seed: int = 1, bad: str = "conv_b") -> onnx.ModelProto:
    """Three convs; `bad` has one weight channel 60x larger than the rest, which per-layer
    weight quantization crushes the other channels for (the §2.1 'bad layer')."""
    r = np.random.default_rng(seed)
    names = ["conv_a", "conv_b", "conv_c"]
    inits, nodes, prev = {}, [], "x"
    cin = 3
    for i, n in enumerate(names):
        w = r.standard_normal((8, cin, 3, 3)) * 0.3
        if n == bad:
            w[0] *= 60.0
        inits[f"w{i}"] = w
        inits[f"b{i}"] = r.standard_normal(8) * 0.05
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], name=n))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu_{i}"))
        prev, cin = f"r{i}", 8
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])
    return _model(nodes, inits, [x], [prev])


def two_input_mlp(seed: int = 2) -> onnx.ModelProto:
    """Two inputs (an image and a vector): MatMul with a constant, Mul, Add, Sub."""
    r = np.random.default_rng(seed)
    inits = {"w": r.standard_normal((12, 6)) * 0.4, "k": r.standard_normal(6) * 0.5}
    nodes = [helper.make_node("GlobalAveragePool", ["img"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("MatMul", ["vec", "w"], ["m"]),
             helper.make_node("Mul", ["m", "k"], ["mk"]),
             helper.make_node("Concat", ["f", "mk"], ["c"], axis=1),
             helper.make_node("MatMul", ["c", "cT"], ["gram"]),
             helper.make_node("Sub", ["mk", "m"], ["d"])]
    nodes.insert(5, helper.make_node("Transpose", ["c"], ["cT"], perm=[1, 0]))
    ins = [helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, 8, 8]),
           helper.make_tensor_value_info("vec", TensorProto.FLOAT, [1, 12])]
    return _model(nodes, inits, ins, ["gram", "d"])


def wide_cnn(seed: int = 3) -> onnx.ModelProto:
    """Wide layers (80 and 100 input channels) so w4a16 weights form several groups, the last partial."""
    r = np.random.default_rng(seed)
    inits = {"w1": r.standard_normal((80, 4, 1, 1)) * 0.5, "w2": r.standard_normal((24, 80, 3, 3)) * 0.05,
             "b2": r.standard_normal(24) * 0.1, "w3": r.standard_normal((100, 24, 1, 1)) * 0.2,
             "wf": r.standard_normal((7, 100)) * 0.1, "bf": r.standard_normal(7) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="expand"),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="wide"),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], name="expand2"),
             helper.make_node("GlobalAveragePool", ["c3"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1, name="fc")]
    inits["lo"] = np.float32(0.0)
    inits["hi"] = np.float32(6.0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    return _model(nodes, inits, [x], ["y", "c3"])
