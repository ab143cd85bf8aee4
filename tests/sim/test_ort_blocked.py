"""float16 roundings moved into onnxruntime's blocked layout (rknn_diag.sim.ort_blocked) compute
exactly what the plain lowered session computes: the zoo and the real-model corpus, built
through the public API (real models fed raw images, mean/std in the config), give the same
outputs bit for bit with and without the rewrite; a rewrite that lost a rounding is caught."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import pytest

from fixtures import realmodels, zoo
from rknn_diag.api import RKNN
from rknn_diag.sim import ort_blocked
from rknn_diag.sim.ort_float import OrtFloatSimulator, lower_float16
from rknn_diag.sim.ort_lower import session


def _built(name):
    """(built model, the inference() argument, data_format) through the public API."""
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        if name in zoo.ZOO:
            model, feeds, _ = zoo.get(name)
            assert r.config(target_platform="rk3588") == 0
            assert r.load_onnx(model) == 0, r.last_error
            x, fmt = next(iter(feeds.values())), "nchw"
        else:
            m = realmodels.get(name)
            assert r.config(mean_values=[m.mean], std_values=[m.std], target_platform="rk3588") == 0
            assert r.load_onnx(str(m.onnx_path)) == 0, r.last_error
            x, fmt = m.images(1, 0)[0], "nhwc"
        assert r.build(do_quantization=False) == 0, r.last_error
        assert r.init_runtime() == 0, r.last_error
    return r, x, fmt


def _plain_and_blocked(r, x, fmt):
    """Outputs of the plain lowered session and of the blocked one for the same prepared feeds,
    and how many roundings the rewrite moved."""
    from rknn_diag.sim.preprocess import prepare
    m, rt = r.model, r.runtime
    assert isinstance(rt, OrtFloatSimulator)
    feeds = prepare(m.graph.inputs, m.config.preprocess, [x], fmt, None, 1)
    shapes: dict = {}
    model, _ = lower_float16(m.graph, rt.reference.constants, shapes=shapes)
    fd = {n: np.asarray(f, dt) for n, f, dt in zip(rt.in_names, feeds, rt.in_dtypes)}
    plain = session(model, 1).run(rt.out_names, fd)
    moved = []
    orig = ort_blocked.move_rounding_into_blocks
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ort_blocked, "move_rounding_into_blocks", lambda g, s: moved.append(orig(g, s)) or moved[-1])
        blocked = ort_blocked.blocked_session(model, 1, shapes)
    return plain, blocked.run(rt.out_names, fd), sum(moved)


def _blocked_layout_here() -> bool:
    """onnxruntime on this CPU has the blocked layout (x86 with AVX2 or better)."""
    r, x, fmt = _built("resnet18_like")
    return _plain_and_blocked(r, x, fmt)[2] > 0


NAMES = [*zoo.names(), *realmodels.names()]


@pytest.mark.parametrize("name", NAMES)
def test_blocked_rounding_gives_the_plain_sessions_values(name):
    r, x, fmt = _built(name)
    plain, blocked, moved = _plain_and_blocked(r, x, fmt)   # moved 0: the plain session (DeiT: no 2-D conv)
    for a, b in zip(plain, blocked):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)   # bit for bit, NaN included
    # and that is what inference() returns
    for a, b in zip(plain, r.inference(inputs=[x], data_format=fmt)):
        np.testing.assert_array_equal(a, b)


def test_the_rewrite_runs_on_convolutional_models():
    if not _blocked_layout_here():
        pytest.skip("onnxruntime has no blocked layout on this CPU: the plain session runs (nothing to test)")
    r, x, fmt = _built("mobilenetv2_like")
    assert _plain_and_blocked(r, x, fmt)[2] >= 10


def test_a_rounding_lost_in_the_rewrite_is_caught(monkeypatch):
    """Planted fault: the moved Cast pair casts to float32 (no rounding): outputs differ."""
    if not _blocked_layout_here():
        pytest.skip("onnxruntime has no blocked layout on this CPU")
    orig = ort_blocked.move_rounding_into_blocks

    def lossy(model, shapes=None):
        n = orig(model, shapes)
        for node in model.graph.node:   # the moved casts
            if node.op_type == "Cast" and node.name.endswith("__blocked"):
                for a in node.attribute:
                    if a.name == "to":
                        a.i = onnx.TensorProto.FLOAT
        return n

    r, x, fmt = _built("mobilenetv2_like")
    plain, blocked, _ = _plain_and_blocked(r, x, fmt)
    assert all(np.array_equal(a, b) for a, b in zip(plain, blocked))
    monkeypatch.setattr(ort_blocked, "move_rounding_into_blocks", lossy)
    plain, blocked, _ = _plain_and_blocked(r, x, fmt)
    assert not all(np.array_equal(a, b) for a, b in zip(plain, blocked))


def _tricky_model():
    """Blocked convolutions (16 channels), a Clip with scalar bounds, a MaxPool with ceil_mode, an
    Add of two conv outputs, a value that is a graph output as well as read by the next conv, and
    a last conv of 5 channels (onnxruntime keeps it plain) read by a Flatten."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)

    def w(name, *shape):
        return numpy_helper.from_array((rng.normal(0, 0.3, shape)).astype(np.float32), name)

    inits = [w("w1", 16, 3, 3, 3), w("b1", 16), w("w2", 16, 16, 3, 3), w("w3", 16, 16, 1, 1), w("w4", 5, 16, 3, 3),
             numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c1", "lo", "hi"], ["a1"]),
             helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["p1", "w3"], ["c3"]),
             helper.make_node("Add", ["c2", "c3"], ["s"]),
             helper.make_node("Relu", ["s"], ["r"]),
             helper.make_node("Conv", ["r", "w4"], ["c4"], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c4"], ["flat"])]
    g = helper.make_graph(nodes, "tricky", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 23, 23])],
                          [helper.make_tensor_value_info("flat", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("r", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def test_padding_channels_graph_outputs_and_plain_readers_keep_their_values(tmp_path):
    path = tmp_path / "tricky.onnx"
    onnx.save(_tricky_model(), str(path))
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(mean_values=[[127.5] * 3], std_values=[[60.0] * 3], target_platform="rk3588") == 0
        assert r.load_onnx(str(path)) == 0, r.last_error
        assert r.build(do_quantization=False) == 0, r.last_error
        assert r.init_runtime() == 0, r.last_error
    img = np.random.default_rng(5).integers(0, 256, (23, 23, 3)).astype(np.uint8)
    plain, blocked, moved = _plain_and_blocked(r, img, "nhwc")
    if _blocked_layout_here():
        assert moved > 0
    for a, b in zip(plain, blocked):
        np.testing.assert_array_equal(a, b)
