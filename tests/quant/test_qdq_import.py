"""do_quantization=False on an ONNX QDQ model (onnxruntime quantize_static) keeps the model's
own parameters (guide §1.4.1, §1.4.2)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from rknn_diag import tolerances
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics
from rknn_diag.quant.qdq import layerwise_lsb

from . import _models


@pytest.mark.parametrize("per_channel", [False, True])
def test_qdq_model_keeps_its_own_parameters(per_channel, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    onnx.save(_models.small_cnn(), str(tmp_path / "f.onnx"))
    rng = np.random.default_rng(5)
    samples = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(6)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": s} for s in samples])

        def get_next(self):
            return next(self.it, None)

    qt = QuantType.QInt8 if per_channel else QuantType.QUInt8
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantize_static(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, weight_type=qt, activation_type=qt)
    qmodel = onnx.load(str(tmp_path / "q.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in qmodel.graph.initializer}
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform="rk3588") == 0
        assert r.load_onnx(str(tmp_path / "q.onnx")) == 0
        assert r.build(do_quantization=False) == 0, r.last_error
        assert r.init_runtime() == 0
    q = r.model.quant
    assert r.model.mode == ("w8a8" if per_channel else "asymmetric_quantized-u8") and q["source"] == "qdq"
    # the input's scale and zero point are the QDQ model's, not re-calibrated ones
    qx = next(n for n in qmodel.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x")
    assert float(q["tensors"]["x"]["scale"]) == float(inits[qx.input[1]])
    assert int(q["tensors"]["x"]["zero_point"]) == int(inits[qx.input[2]])
    # every conv weight came through with the model's own integers
    sim = r.runtime.reference   # the numpy kernels' view of the parameters
    conv_ws = [n.inputs[1] for n in r.model.graph.nodes if n.op_type == "Conv"]
    assert conv_ws and all(w in sim.weights for w in conv_ws)
    own_ints = [v for k, v in inits.items() if v.dtype in (np.int8, np.uint8) and v.ndim == 4]
    got_ints = [sim.qweights[w] for w in conv_ws]
    assert all(any(np.array_equal(g, o) for o in own_ints) for g in got_ints)
    assert "Conv" not in sim.fallback_ops
    # behaves like the QDQ model: onnxruntime running it (no fusions) vs our integer simulator
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(str(tmp_path / "q.onnx"), opts, providers=["CPUExecutionProvider"])
    x = samples[0]
    got = r.runtime.run([x])
    for g, w in zip(got, ref.run(None, {"x": x})):
        assert metrics(g, w)["cosine"] >= 0.999
    assert max(layerwise_lsb(r.model.graph, q, [x]).values()) <= tolerances.QUANT_LSB
