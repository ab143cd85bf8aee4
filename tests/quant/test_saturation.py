"""Ranges narrowed where every reader saturates (quant.saturation), through the public path.

A detection head ends in Conv -> Sigmoid with logits spanning about ±60: quantized over its
full range the logit gets one code per ~0.5, which near 0 moves the Sigmoid by an eighth of its
range. Narrowed to where the Sigmoid is within half an output step of 0 and 1, the quantized
model stays within a couple of output steps everywhere."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rknn_diag.api import RKNN
from rknn_diag.ir import Graph, Node, Value
from rknn_diag.quant import saturation
from rknn_diag.qrules.schemes import Scheme

from .test_user_path import MEAN, STD, _dataset, _raw_images

A8 = Scheme("int8", False)


def _head(path, reader: str = "Sigmoid") -> None:
    """x (1,3,16,16) -> Conv 3->4 -> reader: two channels biased far into saturation (logits
    near ±60, as a detector's background), two carrying the signal around 0."""
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.5).astype(np.float32)
    b = np.array([60.0, -60.0, 0.0, 0.0], np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["logit"], pads=[1, 1, 1, 1]),
             helper.make_node(reader, ["logit"], ["y"])]
    g = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), str(path))


def _worst_error(tmp_path, reader: str) -> tuple[float, float]:
    """(largest |quantized - float| of the reader's output, the output's step) on held-back images."""
    model = tmp_path / "head.onnx"
    _head(model, reader)
    ds = _dataset(tmp_path / "ds", _raw_images(12, 0), "npy")
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(mean_values=[MEAN], std_values=[STD], target_platform="rk3588", quantized_dtype="w8a8") == 0
        assert r.load_onnx(str(model)) == 0
        assert r.build(do_quantization=True, dataset=str(ds)) == 0, r.last_error
        assert r.init_runtime() == 0
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    worst = 0.0
    for img in _raw_images(4, 100):
        with contextlib.redirect_stdout(io.StringIO()):
            got = r.inference(inputs=[img], data_format="nhwc")[0]
        x = ((img.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        ref = s.run(None, {"x": x})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    step = float(np.asarray(r.model.quant["tensors"]["y"]["scale"]))
    return worst, step


@pytest.mark.parametrize("reader", ["Sigmoid", "HardSigmoid"])
def test_saturating_reader_stays_within_a_few_output_steps(tmp_path, reader):
    worst, step = _worst_error(tmp_path, reader)
    # narrowed, the input step is fine enough that the output is off by little more than its own
    # rounding (the slope is at most 1/4 for Sigmoid, 1/5 for this HardSigmoid)
    assert worst <= 3 * step, f"{reader}: worst error {worst:.4f} = {worst / step:.1f} output steps"


def test_planted_fault_without_narrowing_the_sigmoid_head_is_far_off(tmp_path, monkeypatch):
    """The check above can fail: with narrowing switched off the same head is tens of steps off."""
    from rknn_diag.quant import quantizer

    monkeypatch.setattr(quantizer, "clip_ranges", lambda graph, ranges, *a: ranges)
    worst, step = _worst_error(tmp_path, "Sigmoid")
    assert worst > 10 * step


def _graph(reader_ops: list[str], output_is_logit: bool = False) -> Graph:
    nodes = [Node("Conv", "conv", ["x", "w"], ["logit"])]
    outs = []
    for k, op in enumerate(reader_ops):
        attrs = {"alpha": 0.2, "beta": 0.5} if op == "HardSigmoid" else {}
        nodes.append(Node(op, f"r{k}", ["logit"], [f"y{k}"], attrs))
        outs.append(Value(f"y{k}"))
    if output_is_logit:
        outs.append(Value("logit"))
    return Graph("g", nodes, [Value("x")], outs, {"w": np.ones((1, 1, 1, 1), np.float32)})


def _clip(graph: Graph, float_layers=frozenset()) -> dict:
    ranges = {"logit": [-100.0, 80.0], **{f"y{k}": [0.0, 1.0] for k in range(4)}}
    return saturation.clip_ranges(graph, ranges, lambda t: A8, set(float_layers))["logit"]


def test_limits_per_reader():
    assert _clip(_graph(["HardSwish"])) == [-3.0, 80.0]
    assert _clip(_graph(["Relu"])) == [0.0, 80.0]
    lo, hi = _clip(_graph(["HardSigmoid"]))
    assert (lo, hi) == pytest.approx((-2.5, 2.5))
    lo, hi = _clip(_graph(["Sigmoid"]))
    # 1 - sigmoid(t) = a quarter of an output step of [0, 1] in int8 (1/255 / 4)
    assert hi == pytest.approx(np.log(1020 - 1), rel=1e-6) and lo == -hi


def test_union_of_readers_and_what_is_left_alone():
    lo, hi = _clip(_graph(["HardSigmoid", "HardSwish"]))       # HardSwish is unbounded above
    assert (lo, hi) == pytest.approx((-3.0, 80.0))
    assert _clip(_graph(["HardSwish", "Add"])) == [-100.0, 80.0]        # a reader that does not saturate
    assert _clip(_graph(["HardSwish"], output_is_logit=True)) == [-100.0, 80.0]   # the user sees it
    # a float16 reader sees every clipping error: only exact limits apply to it
    assert _clip(_graph(["Sigmoid"]), {"r0"}) == [-100.0, 80.0]
    assert _clip(_graph(["HardSwish"]), {"r0"}) == [-3.0, 80.0]
