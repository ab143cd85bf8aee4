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
