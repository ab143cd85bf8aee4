"""The float16 lowering leaves out the rounding after nodes that only move or select float16
values (ort_float.keeps_half_values): the layer-by-layer cross-check (every output on the float16
grid, within one ULP of the numpy reference) holds on the op cases and models that have them,
and an op wrongly counted as value-preserving is caught by that cross-check."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from onnx import TensorProto, helper

from fixtures import realmodels, zoo
from fixtures.opcases import all_cases
from rknn_diag.api import RKNN
from rknn_diag.sim import crosscheck, ort_float
from rknn_diag.sim.float_sim import FloatSimulator


def _build(model, mean=None, std=None):
    r = RKNN()
    cfg = {"target_platform": "rk3588"}
    if mean is not None:
        cfg.update(mean_values=[mean], std_values=[std])
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(**cfg) == 0
        assert r.load_onnx(model) == 0, r.last_error
        assert r.build(do_quantization=False) == 0, r.last_error
    return r.model


def _casts(m) -> int:
    model, _ = ort_float.lower_float16(m.graph, FloatSimulator(m.graph).constants)
    return sum(n.op_type == "Cast" for n in model.graph.node)


def _float_outputs(m) -> int:
    return len(m.graph.inputs) + sum(len(n.outputs) for n in m.graph.nodes)


def test_value_preserving_nodes_are_not_rounded_again():
    """DeiT: Transpose, Reshape, Gather and Concat layers between the computing ones."""
    rm = realmodels.get("deit_tiny_trained")
    m = _build(str(rm.onnx_path), rm.mean, rm.std)
    kept = [n for n in m.graph.nodes if ort_float.keeps_half_values(n)]
    assert {n.op_type for n in kept} >= {"Transpose", "Reshape", "Gather"}
    assert _casts(m) == 2 * (_float_outputs(m) - sum(len(n.outputs) for n in kept))
    x = ((rm.images(1, 0)[0].astype(np.float32) - np.float32(rm.mean)) / np.float32(rm.std)).transpose(2, 0, 1)[None]
    problems, compared = crosscheck.float16_layers(m.graph, [x])
    assert not problems and compared >= len(m.graph.nodes)


def test_computing_nodes_keep_their_rounding():
    kinds = {"Conv", "Add", "Mul", "Softmax", "Gemm", "MatMul", "LayerNormalization", "Sigmoid", "Erf", "Div",
             "GlobalAveragePool", "AveragePool"}
    for case in all_cases():
        if case.op in kinds and not case.xfail:
            m = _build(case.build()[0])
            for n in m.graph.nodes:
                if n.op_type in kinds:
                    assert not ort_float.keeps_half_values(n), (case.id, n.op_type)


def _one_node_model(op, inputs, attrs, opset=13, extra_inits=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node(op, ["x", *inputs], ["y"], **attrs)], "g", [x], [y], list(extra_inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def test_resize_keeps_its_rounding_unless_nearest_and_pad_unless_its_fill_is_a_half_value():
    scales = helper.make_tensor("s", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    roi = helper.make_tensor("roi", TensorProto.FLOAT, [0], [])
    for mode, want in (("nearest", True), ("linear", False)):
        m = _build(_one_node_model("Resize", ["roi", "s"], {"mode": mode}, extra_inits=[scales, roi]))
        (n,) = m.graph.nodes
        assert ort_float.keeps_half_values(n) is want, mode
    for fill, want in ((0.5, True), (0.1, False)):   # opset 10: the fill value is an attribute
        m = _build(_one_node_model("Pad", [], {"pads": [0, 0, 1, 1, 0, 0, 1, 1], "value": fill}, opset=10))
        (n,) = m.graph.nodes
        assert ort_float.keeps_half_values(n) is want, fill


PICKS = [c for c in all_cases() if not c.xfail and c.op in ("Transpose", "Reshape", "Concat", "MaxPool", "Gather",
                                                              "Slice", "Split", "Pad", "Resize", "Max", "Relu")]


@pytest.mark.parametrize("case", PICKS, ids=[c.id for c in PICKS])
def test_op_cases_with_value_preserving_nodes_agree(case):
    model, feeds = case.build()
    m = _build(model)
    problems, _ = crosscheck.float16_layers(m.graph, [feeds[v.name] for v in m.graph.inputs])
    assert not problems, problems


def test_an_op_wrongly_taken_for_value_preserving_is_caught(monkeypatch):
    """Planted fault: every node counted as value-preserving (no rounding anywhere)."""
    model, feeds, _ = zoo.get("mobilenetv2_like")
    m = _build(model)
    xs = [feeds[v.name] for v in m.graph.inputs]
    assert crosscheck.float16_layers(m.graph, xs)[0] == []
    monkeypatch.setattr(ort_float, "keeps_half_values", lambda node: True)
    problems, _ = crosscheck.float16_layers(m.graph, xs)
    assert problems and any("not rounded to float16" in p for p in problems)
