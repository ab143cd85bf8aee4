"""Graph passes keep the numbers and record what was merged into what."""

import numpy as np

from fixtures import models
from rknn_diag.compare import reference
from rknn_diag.frontends.onnx_loader import load
from rknn_diag.ops import run_node
from rknn_diag.passes import optimize


def _execute(graph, feeds):
    env = dict(graph.constants)
    env.update(feeds)
    for n in graph.nodes:
        outs = run_node(n, [env[i] if i else None for i in n.inputs], graph.opset)
        env.update(zip(n.outputs, outs))
    return [env[v.name] for v in graph.outputs]


def test_conv_bn_scale_relu_identity_fold_into_one_conv():
    model = models.conv_bn_relu()
    g = optimize(load(model))
    assert [n.op_type for n in g.nodes] == ["Conv"]
    conv = g.nodes[0]
    assert conv.source == ["conv1", "bn1", "scale1", "relu1", "out"]
    assert [p.op_type for p in conv.post_ops] == ["Relu"]
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_execute(g, {"x": x})[0], reference(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_level_zero_keeps_layers_apart():
    g = optimize(load(models.conv_bn_relu()), level=0)
    assert [n.op_type for n in g.nodes] == ["Conv", "BatchNormalization", "Mul", "Relu"]


def test_exported_view_chain_folds_to_a_constant_reshape():
    model = models.exported_reshape()
    g = optimize(load(model))
    assert [n.op_type for n in g.nodes] == ["Relu", "Reshape"]
    shape_input = g.nodes[1].inputs[1]
    np.testing.assert_array_equal(g.constants[shape_input], [1, -1])
    x = np.random.default_rng(2).standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(_execute(g, {"x": x})[0], reference(model, {"x": x})[0])


def test_identity_to_graph_output_renames_producer():
    g = optimize(load(models.conv_bn_relu()))
    assert g.nodes[0].outputs == ["y"]


def test_constant_output_branch_is_kept_as_constant():
    """SSD-style prior boxes (guide §3.5): an output that does not depend on the input."""
    from onnx import TensorProto, helper, numpy_helper
    priors = np.arange(8, dtype=np.float32).reshape(2, 4)
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu"),
             helper.make_node("Reshape", ["p", "s"], ["priors"], name="reshape_priors")]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("priors", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(priors, "p"), numpy_helper.from_array(np.array([-1], np.int64), "s")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    graph = optimize(load(m))
    assert [n.op_type for n in graph.nodes] == ["Relu"]
    np.testing.assert_array_equal(graph.constants["priors"], priors.reshape(-1))


def test_activation_fused_into_a_folded_add_moves_to_the_conv():
    """conv -> BN -> Mul -> Add -> Relu (Caffe's Convolution/BatchNorm/Scale(bias)/ReLU): the Relu
    fuses into the Add one sweep before the Add folds into the conv; it must not be lost."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    c = 4
    consts = {"w": rng.standard_normal((c, 3, 3, 3)), "s": np.ones(c), "b": np.zeros(c),
              "m": rng.standard_normal(c), "v": rng.uniform(0.5, 2, c),
              "k": rng.uniform(0.5, 1.5, (c, 1, 1)), "a": rng.standard_normal((c, 1, 1))}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Mul", ["n", "k"], ["p"], name="scale"),
             helper.make_node("Add", ["p", "a"], ["q"], name="scale_bias"),
             helper.make_node("Relu", ["q"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    g = optimize(load(model))
    assert [n.op_type for n in g.nodes] == ["Conv"]
    assert [p.op_type for p in g.nodes[0].post_ops] == ["Relu"]
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_execute(g, {"x": x})[0], reference(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def _linear_model(x_shape: list[int], bias_first: bool, relu: bool = False):
    """x @ W + b (a PyTorch Linear as exported), optionally followed by Relu."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    k, m = x_shape[-1], 5
    w = rng.standard_normal((k, m)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="fc/MatMul"),
             helper.make_node("Add", ["b", "mm"] if bias_first else ["mm", "b"], ["lin"], name="fc/Add")]
    out = "lin"
    if relu:
        nodes.append(helper.make_node("Relu", ["lin"], ["y"], name="act"))
        out = "y"
    g = helper.make_graph(nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_matmul_bias_becomes_one_layer_with_the_bias_inside():
    # (a Relu after the transpose back stays a layer of its own: it shares that tensor's scale)
    cases = [([4, 6], False, ["Gemm"]),
             ([1, 3, 6], True, ["Transpose", "Conv", "Transpose", "Relu"]),
             ([2, 3, 4, 6], False, ["Transpose", "Conv", "Transpose", "Relu"])]
    for shape, bias_first, ops in cases:
        model = _linear_model(shape, bias_first, relu=True)
        g = optimize(load(model))
        assert [n.op_type for n in g.nodes] == ops, shape
        layer = next(n for n in g.nodes if n.op_type in ("Gemm", "Conv"))
        assert len(layer.inputs) == 3 and layer.source[:2] == ["fc/MatMul", "fc/Add"]
        x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(_execute(g, {"x": x})[0], reference(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_matmul_whose_output_is_also_read_elsewhere_stays_apart():
    model = _linear_model([1, 3, 6], False)
    model.graph.output.append(model.graph.output[0].__class__(name="mm"))
    g = optimize(load(model))
    assert [n.op_type for n in g.nodes] == ["MatMul", "Add"]


def test_conv_transpose_head_bias_and_bn_fold_into_it():
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)          # (C_in, C_out, k, k)
    bias = rng.standard_normal((1, 4, 1, 1)).astype(np.float32)
    bn = [rng.uniform(0.5, 2, 4).astype(np.float32), rng.standard_normal(4).astype(np.float32),
          rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)]
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["ct"], strides=[2, 2], name="up"),
             helper.make_node("Add", ["ct", "bias"], ["ctb"], name="up_bias"),
             helper.make_node("BatchNormalization", ["ctb", "s", "o", "mu", "var"], ["y"], name="bn")]
    inits = [numpy_helper.from_array(a, n) for a, n in zip([w, bias, *bn], ["w", "bias", "s", "o", "mu", "var"])]
    g = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ir = optimize(load(model))
    assert [n.op_type for n in ir.nodes] == ["ConvTranspose"] and ir.nodes[0].source == ["up", "up_bias", "bn"]
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(_execute(ir, {"x": x})[0], reference(model, {"x": x})[0], rtol=1e-4, atol=1e-4)
