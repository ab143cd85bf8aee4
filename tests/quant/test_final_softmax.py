"""A classifier's final Softmax in an 8-bit build stays float16, as rknn-toolkit2 returns it
(float16 from the quantized logits): an 8-bit 1000-class softmax would keep a handful of levels.
Also behind layout-only layers (SSD's conf: Softmax -> Flatten)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from fixtures.datasets import npy_dataset
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics


def head(tail: str) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((1000, 48)) * 0.6).astype(np.float32), "w")
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["prob" if tail == "none" else "p"], axis=1)]
    if tail == "flatten":
        nodes.append(helper.make_node("Reshape", ["p", "shape"], ["prob"]))
    inits = [w, numpy_helper.from_array(np.array([1, -1], np.int64), "shape")]
    g = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 48, 4, 4])],
                          [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1000])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("tail", ["none", "flatten"])
def test_final_softmax_of_an_8bit_build_keeps_its_resolution(tmp_path, tail):
    onnx.save(head(tail), str(tmp_path / "m.onnx"))
    # calibration sees confident images (peaked softmax: the 8-bit range runs to ~1), the image
    # inferred is a doubtful one (every probability small): the case of the vendor's MobileNet example
    ds = npy_dataset(tmp_path / "ds", [[1, 48, 4, 4]], count=8, scale=8.0)
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_onnx(str(tmp_path / "m.onnx")) == 0 and r.build(do_quantization=True, dataset=str(ds)) == 0
    assert r.init_runtime() == 0
    x = np.load(ds.parent / open(ds).read().split()[0]) / 10
    got = r.inference(inputs=[x], data_format="nchw")[0].ravel()
    want = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert got.min() > 0 and len(np.unique(got)) > 8      # no probability lost to the 8-bit output grid
    assert metrics(got, want.ravel())["cosine"] > 0.99
    r.release()
