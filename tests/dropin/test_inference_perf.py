"""inference(data_format=[...]) per input (toolkit2's multi_input example) and
eval_perf(inputs=, loop_cnt=) (1.x's eval_perf example)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from fixtures.dropin import two_inputs
from rknn_diag.api import RKNN


def _two_input_runtime(tmp_path):
    onnx.save(two_inputs(8), str(tmp_path / "two.onnx"))
    r = RKNN()
    assert r.config(mean_values=[[0, 0, 0], [0, 0, 0]], std_values=[[255, 255, 255], [1, 1, 1]],
                    target_platform="rk3566") == 0
    assert r.load_onnx(str(tmp_path / "two.onnx")) == 0
    assert r.build(do_quantization=False) == 0
    assert r.export_rknn(str(tmp_path / "two.rknn")) == 0
    r2 = RKNN()
    assert r2.load_rknn(str(tmp_path / "two.rknn")) == 0
    assert r2.init_runtime() == 0
    return r2


def test_data_format_list_applies_to_each_input(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1, 8, 8, 3)).astype(np.uint8)            # nhwc pixels
    feat = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)           # nchw features
    r = _two_input_runtime(tmp_path)
    out = r.inference(inputs=[img, feat], data_format=["nhwc", "nchw"])
    assert out is not None, r.last_error
    sess = ort.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"a": img.transpose(0, 3, 1, 2).astype(np.float32) / 255, "b": feat})[0]
    np.testing.assert_allclose(out[0], ref, atol=2e-2, rtol=2e-2)
    # the same arrays with the formats the other way round are a different (wrong) reading
    assert r.inference(inputs=[img, feat], data_format=["nchw", "nhwc"]) is None


def test_data_format_list_of_the_wrong_length_is_refused(tmp_path, capsys):
    r = _two_input_runtime(tmp_path)
    x = np.zeros((1, 3, 8, 8), np.float32)
    assert r.inference(inputs=[x, x], data_format=["nchw", "nchw", "nchw"]) is None
    assert "data_format has 3 entries for 2 input(s)" in capsys.readouterr().out


def test_eval_perf_runs_the_given_inputs_loop_cnt_times(example, capsys):
    example()
    r = RKNN()
    r.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]], target_platform="rv1126")
    assert r.load_onnx("resnet50v2.onnx") == 0
    assert r.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert r.init_runtime(perf_debug=True) == 0
    img = np.zeros((1, 16, 16, 3), np.uint8)
    capsys.readouterr()
    perf = r.eval_perf(inputs=[img], data_format="nhwc", loop_cnt=3)
    assert perf is not None and perf["loop_cnt"] == 3 and len(perf["runs_ms"]) == 3
    out = capsys.readouterr().out
    assert "mean of 3 run(s)" in out and "conv1" in out          # perf_debug: per-layer lines
    # the inputs are really used: a wrong shape is refused, not replaced by zeros
    assert r.eval_perf(inputs=[np.zeros((1, 9, 9, 3), np.uint8)]) is None
    assert r.eval_perf(loop_cnt=0) is None


def test_toolkit2_positional_is_print(example, capsys):
    example()
    r = RKNN()
    r.config(target_platform="rk3588")
    r.load_onnx("resnet50v2.onnx")
    r.build(do_quantization=False)
    r.init_runtime()
    capsys.readouterr()
    assert r.eval_perf(False) is not None                 # toolkit2: eval_perf(is_print)
    assert "Total simulator time" not in capsys.readouterr().out
