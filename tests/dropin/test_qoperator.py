"""QOperator quantized ONNX (onnxruntime's quantize_static(quant_format=QOperator)), built with
do_quantization=False as in 1.x's load_quantized_model example: the model's own scales are kept,
so our integer simulator agrees with onnxruntime running the QOperator model itself."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from fixtures.dropin import classifier, qlinear_mix, quantize_qoperator
from rknn_diag.api import RKNN

logging.getLogger().setLevel(logging.ERROR)    # onnxruntime.quantization's advice lines

MEAN, STD = [123.675, 116.28, 103.53], [58.82, 58.82, 58.82]


def _normalised(path: str) -> np.ndarray:
    x = np.asarray(Image.open(path).convert("RGB"), np.float32)
    return ((x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)).transpose(2, 0, 1)[None]


def test_1x_load_quantized_model_script(example, capsys):
    folder = example(model=classifier(16), onnx_name="float.onnx")
    samples = [_normalised(line) for line in open("dataset.txt").read().split()]
    quantize_qoperator(folder / "float.onnx", folder / "shufflenet-v2_quant.onnx", samples, "data")
    ops = {n.op_type for n in onnx.load("shufflenet-v2_quant.onnx").graph.node}
    assert {"QLinearConv", "QGemm", "QLinearGlobalAveragePool"} <= ops

    rknn = RKNN(verbose=False)
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", optimization_level=3,
                quantize_input_node=True, merge_dequant_layer_and_output_node=True, target_platform=["rv1126"])
    assert rknn.load_onnx(model="shufflenet-v2_quant.onnx") == 0
    assert rknn.build(do_quantization=False, dataset="dataset.txt") == 0
    assert rknn.export_rknn("./shufflenet-v2_quant.rknn") == 0
    img = np.asarray(Image.open("dog_16x16.jpg").convert("RGB"))
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[img])
    assert outputs is not None and outputs[0].dtype.kind in "iu"          # merged dequantize: integers
    ref_int = ort.InferenceSession("shufflenet-v2_quant.onnx", providers=["CPUExecutionProvider"])
    graph = onnx.load("shufflenet-v2_quant.onnx").graph
    last_q = next(n for n in graph.node if n.op_type == "DequantizeLinear").input[0]
    sess_q = onnx.load("shufflenet-v2_quant.onnx")
    sess_q.graph.output.append(onnx.helper.make_tensor_value_info(last_q, onnx.TensorProto.UINT8, None))
    want = ort.InferenceSession(sess_q.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        [last_q], {"data": _normalised("dog_16x16.jpg")})[0]
    assert np.abs(outputs[0].astype(np.int32) - want.astype(np.int32)).max() <= 1
    assert ref_int is not None
    out = capsys.readouterr().out
    assert "quantize_input_node: input 'data' is quantized in the model: uint8" in out


@pytest.mark.parametrize("per_channel", [True, False])
def test_qlinear_ops_keep_the_models_own_scales(tmp_path, per_channel):
    onnx.save(qlinear_mix(8), str(tmp_path / "f.onnx"))
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal((1, 3, 8, 8)).astype(np.float32) for _ in range(8)]
    q = quantize_qoperator(tmp_path / "f.onnx", tmp_path / "q.onnx", samples, "x", per_channel)
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert {"QLinearConv", "QLinearAdd", "QLinearMatMul", "QLinearConcat", "QLinearSigmoid",
            "QLinearLeakyRelu", "QLinearAveragePool", "QLinearMul", "MaxPool"} <= ops, ops
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_onnx(str(q)) == 0
    assert r.build(do_quantization=False) == 0
    assert r.init_runtime() == 0
    assert {"w", "m"} <= set(r.model.quant["weights"])             # the model's int8 weights, by name
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    got = r.inference(inputs=[x], data_format="nchw")[0]
    want = ort.InferenceSession(str(q), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    out_dq = next(n for n in onnx.load(str(q)).graph.node if n.op_type == "DequantizeLinear")
    scale = float(onnx.numpy_helper.to_array(next(t for t in onnx.load(str(q)).graph.initializer
                                                  if t.name == out_dq.input[1])))
    assert np.abs(got - want).max() <= 2 * scale + 1e-6        # within 2 LSB of the output


def test_dynamic_quantization_is_refused_with_what_to_do(tmp_path, capsys):
    from onnxruntime.quantization import quantize_dynamic
    onnx.save(qlinear_mix(8), str(tmp_path / "f.onnx"))
    quantize_dynamic(str(tmp_path / "f.onnx"), str(tmp_path / "d.onnx"))
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_onnx(str(tmp_path / "d.onnx")) != 0
    out = capsys.readouterr().out
    assert "dynamic quantization" in out and "quantize_static" in out
