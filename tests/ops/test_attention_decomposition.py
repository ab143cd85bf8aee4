"""Attention as one op (opset 23) and as the MatMul/Softmax graph older exporters write
(Transpose, MatMul, Mul by the scale, Add of the mask, Softmax, MatMul) give the same answer
through the user's path (load_onnx -> build -> export -> load_rknn -> inference), and both
match onnxruntime on the float16 rule."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rknn_diag.api import RKNN
from rknn_diag.compare import check_float16, reference

B, H, S, D = 1, 4, 6, 16


def _attention_model(causal: bool) -> onnx.ModelProto:
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [B, H, S, D])
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=int(causal))
    g = helper.make_graph([node], "attn", [vi("q"), vi("k"), vi("v")], [vi("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 10
    return m


def _decomposed_model(causal: bool) -> onnx.ModelProto:
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [B, H, S, D])
    mask = np.where(np.tril(np.ones((S, S), bool)) if causal else np.ones((S, S), bool), 0.0, -1e4)
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["qk"]),
        helper.make_node("Mul", ["qk", "scale"], ["qks"]),
        helper.make_node("Add", ["qks", "mask"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(1 / np.sqrt(D), np.float32), "scale"),
             numpy_helper.from_array(mask.astype(np.float32), "mask")]
    g = helper.make_graph(nodes, "attn_decomposed", [vi("q"), vi("k"), vi("v")], [vi("y")], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _run(tmp_path, model: onnx.ModelProto, feeds: list[np.ndarray], name: str) -> np.ndarray:
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_onnx(model=str(path)) == 0, r.last_error
    assert r.build(do_quantization=False) == 0, r.last_error
    assert r.export_rknn(str(tmp_path / f"{name}.rknn")) == 0
    runner = RKNN()
    assert runner.load_rknn(str(tmp_path / f"{name}.rknn")) == 0
    assert runner.init_runtime() == 0
    (y,) = runner.inference(inputs=feeds, data_format="nchw")
    return y


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_attention_op_matches_its_decomposition(tmp_path, causal):
    r = np.random.default_rng(3)
    feeds = [r.standard_normal((B, H, S, D)).astype(np.float32) for _ in range(3)]
    one = _run(tmp_path, _attention_model(causal), feeds, "one")
    dec = _run(tmp_path, _decomposed_model(causal), feeds, "dec")
    names = {"q": feeds[0], "k": feeds[1], "v": feeds[2]}
    for got, model in ((one, _attention_model(causal)), (dec, _decomposed_model(causal))):
        v = check_float16([got], reference(model.SerializeToString(), names))
        assert v.ok, v.message
    v = check_float16([one], [dec])
    assert v.ok, f"the Attention op and its MatMul/Softmax decomposition differ: {v.message}"
