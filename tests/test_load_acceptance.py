"""What load_onnx accepts runs: tensor types the toolkit does not run (bfloat16, float8, float4,
4- and 2-bit integers), undeclared input types and training-mode Dropout are refused at load
with a typed error naming the tensor or node — never accepted and failing in inference."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from rknn_diag.api import RKNN
from rknn_diag.errors import UnsupportedOpError

LOW = ["BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"]


def _save(tmp_path, nodes, inputs, outputs, inits=(), opset=21):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    return str(path)


def _load(path):
    r = RKNN()
    r.config(target_platform="rk3588")
    ret = r.load_onnx(model=path)
    return ret, r.last_error


@pytest.mark.parametrize("type_name", LOW)
def test_cast_to_low_precision_refused_at_load(tmp_path, type_name):
    code = getattr(TensorProto, type_name)
    path = _save(tmp_path, [helper.make_node("Cast", ["x"], ["y"], to=code),
                            helper.make_node("Cast", ["y"], ["z"], to=TensorProto.FLOAT)],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                 [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])])
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError)
    assert "Cast" in str(err) or "'y'" in str(err)


@pytest.mark.parametrize("type_name", LOW)
def test_low_precision_input_refused_at_load(tmp_path, type_name):
    code = getattr(TensorProto, type_name)
    path = _save(tmp_path, [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                 [helper.make_tensor_value_info("x", code, [2, 3])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError)
    assert "'x'" in str(err) and type_name.lower() in str(err)


@pytest.mark.parametrize("type_name", ["INT4", "UINT4", "FLOAT8E4M3FN"])
def test_low_precision_dequantize_weights_refused_at_load(tmp_path, type_name):
    """Weight-only low-bit QDQ (int4 / float8 weights + DequantizeLinear): refused at load, naming the initializer."""
    code = getattr(TensorProto, type_name)
    w = helper.make_tensor("w_q", code, [4], [1, 2, 3, 4] if "INT" in type_name else [1.0, 2.0, 0.5, 0.25])
    path = _save(tmp_path, [helper.make_node("DequantizeLinear", ["w_q", "s"], ["w"]),
                            helper.make_node("Add", ["x", "w"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                 [w, helper.make_tensor("s", TensorProto.FLOAT, [], [0.5])])
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError) and "'w_q'" in str(err)


def test_supported_types_still_load_and_run(tmp_path):
    """The gate refuses only what it must: float16 -> float32 through Cast loads, builds and runs."""
    path = _save(tmp_path, [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16),
                            helper.make_node("Cast", ["y"], ["z"], to=TensorProto.FLOAT)],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                 [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])], opset=13)
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_onnx(model=path) == 0
    assert r.build(do_quantization=False) == 0
    assert r.init_runtime() == 0
    x = np.array([[0.1, 2.5, -3.0], [100.0, 0.0, 1.0]], np.float32)
    (z,) = r.inference(inputs=[x])
    np.testing.assert_allclose(z, x.astype(np.float16).astype(np.float32))


def test_undeclared_input_dtype_refused_at_load(tmp_path):
    """An op on a type its registry entry does not declare (Erf on int32: valid ONNX) is refused by
    load_onnx, naming the node and the supported types, instead of failing in inference."""
    path = _save(tmp_path, [helper.make_node("Erf", ["x"], ["y"], name="erf_int")],
                 [helper.make_tensor_value_info("x", TensorProto.INT32, [2, 3])],
                 [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 3])], opset=13)
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError)
    assert "erf_int" in str(err) and "int32" in str(err) and "float32" in str(err)


@pytest.mark.parametrize("form", ["constant_true", "runtime_input"])
def test_training_dropout_refused_at_load(tmp_path, form):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])]
    inits = [helper.make_tensor("r", TensorProto.FLOAT, [], [0.5])]
    if form == "constant_true":
        inits.append(helper.make_tensor("t", TensorProto.BOOL, [], [True]))
    else:
        inputs.append(helper.make_tensor_value_info("t", TensorProto.BOOL, []))
    path = _save(tmp_path, [helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop", seed=0)],
                 inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], inits, opset=13)
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError)
    assert "drop" in str(err) and "training_mode" in str(err) and "eval" in str(err)


@pytest.mark.parametrize("acts,needle", [(["Sigmoid", "Gelu", "Tanh"], "Gelu"), (["Sigmoid", "Tanh"], "needs 3")])
def test_recurrent_activations_checked_at_load(tmp_path, acts, needle):
    """An LSTM with an activation the kernel lacks, or too few of them, is refused by load_onnx."""
    H, I = 4, 3
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [1, 4 * H, I], np.zeros(4 * H * I).tolist()),
             helper.make_tensor("R", TensorProto.FLOAT, [1, 4 * H, H], np.zeros(4 * H * H).tolist())]
    path = _save(tmp_path, [helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm", hidden_size=H,
                                             activations=acts)],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, I])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits, opset=14)
    ret, err = _load(path)
    assert ret != 0
    assert isinstance(err, UnsupportedOpError) and "lstm" in str(err) and needle in str(err)
