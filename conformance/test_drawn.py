"""Hypothesis-drawn shapes and attributes for the ops with the most geometry (Conv,
pools, broadcasting elementwise), on the target against onnxruntime. Complements the
fixed spread of fixtures/opcases with shapes nobody thought to write down."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.opcases import node_model
from rknn_diag.compare import check_float16
from rknn_diag.targets import BuildSpec

from .conftest import judge, run_case

EXAMPLES = int(os.environ.get("RKNN_DIAG_DRAWN_EXAMPLES", "15"))
DRAWN = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))
SPEC = BuildSpec(config={"target_platform": "rk3588"}, data_format="nchw")


@st.composite
def conv_cases(draw):
    k = draw(st.integers(1, 5))
    stride, dil = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    span = dil * (k - 1) + 1
    h, w = draw(st.integers(span, span + 9)), draw(st.integers(span, span + 9))
    pads = draw(st.lists(st.integers(0, k - 1), min_size=4, max_size=4))
    batch = draw(st.integers(1, 2))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = r.standard_normal((batch, cin, h, w)).astype(np.float32)
    wgt = (r.standard_normal((cout, cin // groups, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    return node_model("Conv", {"x": x}, dict(kernel_shape=[k, k], strides=[stride, stride], dilations=[dil, dil],
                                             pads=pads, group=groups), constants={"W": wgt})


@st.composite
def pool_cases(draw):
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    h, w = draw(st.integers(k, k + 10)), draw(st.integers(k, k + 10))
    pads = draw(st.lists(st.integers(0, k - 1), min_size=4, max_size=4))
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=pads, ceil_mode=int(draw(st.booleans())))
    if op == "AveragePool":
        attrs["count_include_pad"] = int(draw(st.booleans()))
    x = np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal((1, 2, h, w)).astype(np.float32)
    return node_model(op, {"x": x}, attrs)


@st.composite
def broadcast_cases(draw):
    op = draw(st.sampled_from(["Add", "Sub", "Mul", "Div", "Max", "Min"]))
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=5))
    other = [d if draw(st.booleans()) else 1 for d in shape][draw(st.integers(0, len(shape) - 1)):]
    r = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    a = r.standard_normal(shape).astype(np.float32)
    b = r.standard_normal(other).astype(np.float32)
    if op == "Div":
        b = np.where(np.abs(b) < 0.25, 0.25, b).astype(np.float32)
    return node_model(op, {"a": a, "b": b})


def _check(target, record, tmp_path, built, worst):
    model, feeds = built
    ex = run_case(target, record, tmp_path, model, feeds, SPEC)
    verdict = check_float16(ex.result.outputs, ex.refs, ex.output_names)
    if verdict.metrics and verdict.metrics.get("cosine", 1) <= worst.get("cosine", 1):
        worst.update(verdict.metrics)
    judge(target, record, verdict)


@pytest.mark.parametrize("family,strategy", [
    pytest.param("conv", conv_cases(), marks=pytest.mark.rknn_case(case="drawn/Conv/float16", op="Conv")),
    pytest.param("pool", pool_cases(), marks=pytest.mark.rknn_case(case="drawn/Pool/float16", op="MaxPool")),
    pytest.param("broadcast", broadcast_cases(),
                 marks=pytest.mark.rknn_case(case="drawn/Broadcast/float16", op="Add")),
])
def test_drawn(family, strategy, target, record, tmp_path_factory):
    worst: dict[str, float] = {}

    @DRAWN
    @given(strategy)
    def check(built):
        _check(target, record, tmp_path_factory.mktemp(family), built, worst)

    try:
        check()
    finally:
        record["metrics"] = worst
