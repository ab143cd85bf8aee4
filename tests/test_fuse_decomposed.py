"""Decomposed HardSwish (+ a scalar affine after it) and LayerNorm become one layer each, keep
their source layers' names, and compute what the original graph computes."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rknn_diag.api import RKNN
from rknn_diag.compare import metrics


def _c(name, v):
    return numpy_helper.from_array(np.asarray(v, np.float32), name)


def hardswish_model() -> onnx.ModelProto:
    r = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Add", ["y", "three"], ["a"], name="hs_add"),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="hs_clip"),
             helper.make_node("Mul", ["y", "c"], ["m"], name="hs_mul"),
             helper.make_node("Div", ["m", "six"], ["h"], name="hs_div"),
             helper.make_node("Mul", ["k", "h"], ["s"], name="lab_scale"),
             helper.make_node("Add", ["s", "bias"], ["out"], name="lab_bias")]
    g = helper.make_graph(nodes, "hs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [_c("w", r.standard_normal((4, 3, 3, 3)) * 0.5), _c("b", r.standard_normal(4)),
                           _c("three", 3.0), _c("zero", 0.0), _c("six", 6.0), _c("k", [0.7]), _c("bias", [-0.3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def layernorm_model() -> onnx.ModelProto:
    r = np.random.default_rng(1)
    ax = numpy_helper.from_array(np.array([-1], np.int64), "ax")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="proj"),
             helper.make_node("ReduceMean", ["t"], ["mu"], axes=[-1], name="ln_mean"),
             helper.make_node("Sub", ["t", "mu"], ["d"], name="ln_sub"),
             helper.make_node("Pow", ["d", "two"], ["p"], name="ln_pow"),
             helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1], name="ln_var"),
             helper.make_node("Add", ["v", "eps"], ["ve"], name="ln_eps"),
             helper.make_node("Sqrt", ["ve"], ["sd"], name="ln_sqrt"),
             helper.make_node("Div", ["d", "sd"], ["n"], name="ln_div"),
             helper.make_node("Mul", ["n", "g"], ["ng"], name="ln_gamma"),
             helper.make_node("Add", ["ng", "be"], ["out"], name="ln_beta")]
    g = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 16])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [_c("w", r.standard_normal((16, 24)) * 0.4), _c("two", 2.0), _c("eps", 1e-5),
                           _c("g", r.uniform(0.5, 1.5, 24)), _c("be", r.standard_normal(24) * 0.1), ax])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])


def _built(model: onnx.ModelProto, tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform="rk3588") == 0
        assert r.load_onnx(str(p)) == 0
        assert r.build(do_quantization=False) == 0, r.last_error
        assert r.init_runtime() == 0
    return r, p


def test_hardswish_and_its_affine_become_one_layer(tmp_path):
    r, p = _built(hardswish_model(), tmp_path)
    ops = [n.op_type for n in r.model.graph.nodes]
    assert ops == ["Conv"], ops     # and the HardSwish with its affine fused into the conv, as the NPU runs it
    conv = r.model.graph.nodes[0]
    assert [q.op_type for q in conv.post_ops] == ["HardSwish", "Mul", "Add"]
    assert {"hs_add", "hs_clip", "hs_mul", "hs_div", "lab_scale", "lab_bias"} <= set(conv.source)
    x = np.random.default_rng(2).uniform(-2, 2, (1, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = r.inference(inputs=[x], data_format="nchw")[0]
    assert metrics(got, want)["cosine"] > 0.99999


def test_layernorm_becomes_one_layer(tmp_path):
    r, p = _built(layernorm_model(), tmp_path)
    ops = [n.op_type for n in r.model.graph.nodes]
    assert ops == ["MatMul", "LayerNormalization"], ops
    x = np.random.default_rng(3).standard_normal((1, 6, 16)).astype(np.float32)
    want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = r.inference(inputs=[x])[0]
    assert metrics(got, want)["cosine"] > 0.99999


def test_a_clip_that_is_not_hardswish_stays(tmp_path):
    m = hardswish_model()
    for t in m.graph.initializer:
        if t.name == "six":
            t.CopyFrom(_c("six", 5.0))   # Clip(0, 5) / 5 is not HardSwish
    r, _ = _built(m, tmp_path)
    assert "HardSwish" not in [n.op_type for n in r.model.graph.nodes]


def _silu_model(after_conv: bool) -> onnx.ModelProto:
    """x * Sigmoid(x), as exporters write SiLU, after a conv or on the input itself."""
    r = np.random.default_rng(5)
    src = "y" if after_conv else "x"
    nodes = ([helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv")] if after_conv else [])
    nodes += [helper.make_node("Sigmoid", [src], ["s"], name="silu_sig"),
              helper.make_node("Mul", ["s", src], ["out"], name="silu_mul")]
    g = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [_c("w", r.standard_normal((4, 3, 3, 3)) * 0.5), _c("b", r.standard_normal(4) * 0.1)]
                          if after_conv else [])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_silu_becomes_one_swish_layer_fused_into_the_conv(tmp_path):
    for after_conv, ops in ((True, ["Conv"]), (False, ["Swish"])):
        r, p = _built(_silu_model(after_conv), tmp_path)
        g = r.model.graph
        assert [n.op_type for n in g.nodes] == ops, after_conv
        if after_conv:
            assert [q.op_type for q in g.nodes[0].post_ops] == ["Swish"]
        assert {"silu_sig", "silu_mul"} <= {s for n in g.nodes for s in n.source}
        x = np.random.default_rng(6).uniform(-4, 4, (1, 3, 8, 8)).astype(np.float32)
        want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        got = r.inference(inputs=[x], data_format="nchw")[0]
        assert metrics(got, want)["cosine"] > 0.99999


def test_a_sigmoid_gating_another_tensor_is_not_silu(tmp_path):
    m = _silu_model(True)
    m.graph.node[2].input[1] = "x_gate"          # Sigmoid(y) * something else: a gate, not SiLU
    m.graph.node.insert(0, helper.make_node("Conv", ["x", "w", "b"], ["x_gate"], pads=[1, 1, 1, 1], name="conv2"))
    r, _ = _built(m, tmp_path)
    assert "Swish" not in [n.op_type for n in r.model.graph.nodes]
    assert not any(q.op_type == "Swish" for n in r.model.graph.nodes for q in n.post_ops)


def _gelu_model(order: str, scale: str = "div") -> onnx.ModelProto:
    """x · 0.5 · (1 + Erf(x / √2)) after a MatMul, the factors in the order exporters write them:
    'xa_half' (x · a) · 0.5 (PyTorch), 'x_ahalf' x · (a · 0.5), 'xhalf_a' (x · 0.5) · a."""
    r = np.random.default_rng(8)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="fc1")]
    nodes.append(helper.make_node("Div", ["t", "sqrt2"], ["s"], name="g_div") if scale == "div"
                 else helper.make_node("Mul", ["t", "rsqrt2"], ["s"], name="g_div"))
    nodes += [helper.make_node("Erf", ["s"], ["e"], name="g_erf"),
              helper.make_node("Add", ["e", "one"], ["a"], name="g_add")]
    if order == "xa_half":
        nodes += [helper.make_node("Mul", ["t", "a"], ["m"], name="g_mul"),
                  helper.make_node("Mul", ["m", "half"], ["out"], name="g_half")]
    elif order == "x_ahalf":
        nodes += [helper.make_node("Mul", ["a", "half"], ["m"], name="g_half"),
                  helper.make_node("Mul", ["t", "m"], ["out"], name="g_mul")]
    else:
        nodes.insert(1, helper.make_node("Mul", ["t", "half"], ["th"], name="g_half"))
        nodes.append(helper.make_node("Mul", ["th", "a"], ["out"], name="g_mul"))
    g = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 16])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [_c("w", r.standard_normal((16, 24)) * 0.5), _c("sqrt2", np.sqrt(2.0)),
                           _c("rsqrt2", np.sqrt(0.5)), _c("one", 1.0), _c("half", 0.5)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("order, scale", [("xa_half", "div"), ("x_ahalf", "div"), ("xhalf_a", "div"),
                                          ("xa_half", "mul")])
def test_gelu_becomes_one_layer(order, scale, tmp_path):
    r, p = _built(_gelu_model(order, scale), tmp_path)
    g = r.model.graph
    assert [n.op_type for n in g.nodes] == ["MatMul", "Gelu"], [n.op_type for n in g.nodes]
    assert {"g_div", "g_erf", "g_add", "g_mul", "g_half"} <= set(g.nodes[1].source)
    x = np.random.default_rng(9).standard_normal((1, 6, 16)).astype(np.float32)
    want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = r.inference(inputs=[x])[0]
    assert metrics(got, want)["cosine"] > 0.99999


def test_an_erf_that_is_not_gelu_stays(tmp_path):
    m = _gelu_model("xa_half")
    for t in m.graph.initializer:
        if t.name == "half":
            t.CopyFrom(_c("half", 0.25))        # x · Φ(x) / 2: not GELU
    r, _ = _built(m, tmp_path)
    assert "Gelu" not in [n.op_type for n in r.model.graph.nodes]
