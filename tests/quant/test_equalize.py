"""Channel equalization of conv -> (ReLU) -> depthwise conv tensors before 8-bit calibration
(`quant.equalize`): exact in float, applied only where it is, and worth it on the public path."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from fixtures.datasets import image_dataset
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics
from rknn_diag.ir import Graph, Node, PostOp, Value
from rknn_diag.quant import equalize as eq
from rknn_diag.sim.reference import run_float32

C = 8
SPREAD = np.geomspace(0.02, 2.0, C).astype(np.float32)     # channel c's weights x SPREAD[c]


def _weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (C, 3, 3, 3)).astype(np.float32) * SPREAD[:, None, None, None]
    b1 = rng.normal(0, 0.05, C).astype(np.float32) * SPREAD
    # the depthwise conv undoes the spread: only the tensor between the two is spread out
    dw = (rng.normal(0, 0.5, (C, 1, 3, 3)) / SPREAD[:, None, None, None]).astype(np.float32)
    w3 = rng.normal(0, 0.5, (4, C, 1, 1)).astype(np.float32)
    return w1, b1, dw, w3


def _graph(act: str = "Relu", dw_readers: int = 1, extra_reader: bool = False) -> Graph:
    w1, b1, dw, w3 = _weights()
    consts = {"w1": w1, "b1": b1, "w3": w3}
    nodes = [Node("Conv", "pw", ["x", "w1", "b1"], ["t"], {"pads": [1, 1, 1, 1]}, [PostOp(act)] if act else [])]
    outs = []
    for i in range(dw_readers):
        consts[f"dw{i}"] = dw.copy()
        nodes.append(Node("Conv", f"dw{i}", ["t", f"dw{i}"], [f"d{i}"], {"group": C, "pads": [1, 1, 1, 1]}))
        nodes.append(Node("Conv", f"mix{i}", [f"d{i}", "w3"] if i == 0 else [f"d{i}", f"w3_{i}"], [f"y{i}"]))
        if i:
            consts[f"w3_{i}"] = w3.copy()
        outs.append(f"y{i}")
    if extra_reader:
        consts["w4"] = np.ones((2, C, 1, 1), np.float32)
        nodes.append(Node("Conv", "other", ["t", "w4"], ["z"]))
        outs.append("z")
    return Graph("g", nodes, [Value("x", (1, 3, 16, 16))], [Value(o) for o in outs], consts, opset=13)


def _samples(n: int = 6, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)] for _ in range(n)]


def test_equalizing_leaves_the_float_model_as_it_was():
    g = _graph(dw_readers=2)
    before = [run_float32(g, s) for s in _samples()]
    scales = eq.equalize(g, _samples())
    assert set(scales) == {"pw"} and max(scales["pw"]) > 10        # the narrow channels stretched
    for s, ref in zip(_samples(), before):
        after = run_float32(g, s)
        for o in ("y0", "y1"):
            np.testing.assert_allclose(after[o], ref[o], rtol=1e-4, atol=1e-5 * np.abs(ref[o]).max())
    # the shared tensor: every stretched channel now reaches HEADROOM of the tensor's range
    lo, hi = eq.channel_ranges(g, {"t"}, _samples())["t"]      # ReLU: lo is 0
    s = np.asarray(scales["pw"])
    stretched = (s > 1) & (s < eq.MAX_SCALE)
    assert stretched.sum() >= 4
    np.testing.assert_allclose(hi[stretched] / hi.max(), eq.HEADROOM, rtol=1e-4)


@pytest.mark.parametrize("graph,why", [
    (lambda: _graph(act="HardSwish"), "HardSwish(s*x) is not s*HardSwish(x)"),
    (lambda: _graph(act="Sigmoid"), "not homogeneous"),
    (lambda: _graph(extra_reader=True), "a non-depthwise reader would see the scaled channels"),
])
def test_no_pair_where_scaling_would_change_the_function(graph, why):
    assert eq.pairs(graph()) == [], why


def test_shared_weights_are_not_rescaled():
    g = _graph()
    g.nodes.append(Node("Conv", "twin", ["x", "w1", "b1"], ["u"], {"pads": [1, 1, 1, 1]}))
    g.outputs.append(Value("u"))
    assert eq.pairs(g) == []


# ---- the public path -------------------------------------------------------------------------------
def _onnx(path, hw=(32, 32)):
    w1, b1, dw, w3 = _weights()
    init = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (dw, "dw"), (w3, "w3"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["t"]),
             helper.make_node("Conv", ["t", "dw"], ["d"], group=C, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["d", "w3"], ["y"])]
    g = helper.make_graph(nodes, "eq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, *hw])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, *hw])], init)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def _w8a8_cosine(tmp_path, dynamic: bool = False, algorithm: str = "normal") -> tuple[float, str]:
    """Mean cosine to onnxruntime float32 on held-back images (16x16 ones from the second shape
    set when `dynamic`), and the build's log."""
    tmp_path.mkdir()
    _onnx(tmp_path / "m.onnx", ("h", "w") if dynamic else (32, 32))
    ds = image_dataset(tmp_path / "ds", 32, 32, count=8)
    size = 16 if dynamic else 32
    held_back = image_dataset(tmp_path / "eval", size, size, count=4, seed=7)   # images of the same kind
    evals = [np.asarray(Image.open(held_back.parent / line).convert("RGB"))
             for line in held_back.read_text().split()]
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    r = RKNN()
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        extra = {"dynamic_input": [[[1, 3, 32, 32]], [[1, 3, 16, 16]]]} if dynamic else {}
        assert r.config(mean_values=[[127.5] * 3], std_values=[[127.5] * 3], target_platform="rk3588",
                        quantized_dtype="w8a8", quantized_algorithm=algorithm, **extra) == 0
        assert r.load_onnx(str(tmp_path / "m.onnx")) == 0, r.last_error
        assert r.build(do_quantization=True, dataset=str(ds)) == 0, r.last_error
        assert r.export_rknn(str(tmp_path / "m.rknn")) == 0, r.last_error
    r2 = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r2.load_rknn(str(tmp_path / "m.rknn")) == 0, r2.last_error
        assert r2.init_runtime() == 0, r2.last_error
        cos = []
        for im in evals:
            ref = sess.run(None, {"x": ((im.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]})[0]
            cos.append(metrics(np.asarray(r2.inference([im], data_format="nhwc")[0], np.float32), ref)["cosine"])
    return float(np.mean(cos)), log.getvalue()


def test_equalized_w8a8_build_is_closer_to_float(tmp_path, monkeypatch):
    """config(mean/std) -> load_onnx -> build(dataset.txt of images) -> export -> load_rknn ->
    inference: the 100x channel spread costs the narrow channels nearly all their levels
    unless equalized; with the step planted away, the same check fails."""
    cos, log = _w8a8_cosine(tmp_path / "on")
    assert "equalized the channels of 1 conv -> depthwise conv tensor(s)" in log
    monkeypatch.setattr(eq, "equalize_with", lambda graph, found, ranges, log=None: {})
    planted, _ = _w8a8_cosine(tmp_path / "off")
    assert cos >= 0.999, (cos, planted)
    assert planted < 0.999 and cos - planted > 5 * (1 - cos), (cos, planted)


def test_every_shape_set_of_a_dynamic_input_build_gets_the_equalized_weights(tmp_path, monkeypatch):
    """The second shape set shares the first's parameters: its weights must be equalized alike
    (planted: the first set equalized, its scales not kept for the others)."""
    cos, _ = _w8a8_cosine(tmp_path / "on", dynamic=True)
    assert cos >= 0.999, cos
    real = eq.equalize_with
    monkeypatch.setattr(eq, "equalize_with", lambda graph, found, ranges, log=None: real(graph, found, ranges, log) and {})
    planted, _ = _w8a8_cosine(tmp_path / "off", dynamic=True)
    assert planted < 0.99, planted


def test_an_equalized_tensor_keeps_its_min_and_max():
    """What the one-pass 'normal' calibration relies on: channels stretch inside the tensor's
    range, so its min/max before equalizing is its min/max after."""
    g = _graph(act="LeakyRelu")           # negative values too
    g.nodes[0].post_ops[0].attrs["alpha"] = 0.3
    before = eq.channel_ranges(g, {"t"}, _samples())["t"]
    assert eq.equalize(g, _samples())
    after = eq.channel_ranges(g, {"t"}, _samples())["t"]
    np.testing.assert_allclose([after[0].min(), after[1].max()], [before[0].min(), before[1].max()], rtol=1e-5)
    assert (after[1] - after[0]).min() > 3 * (before[1] - before[0]).min()


@pytest.mark.parametrize("algorithm", ["normal", "kl_divergence"])
def test_both_calibration_passes_equalize(tmp_path, algorithm):
    """'normal' equalizes inside its one calibration pass, the histogram algorithms in a pass of
    their own before it: both builds are equalized and close to float."""
    cos, log = _w8a8_cosine(tmp_path / algorithm, algorithm=algorithm)
    assert "equalized the channels of 1 conv" in log and cos >= 0.999, (cos, log[-500:])
