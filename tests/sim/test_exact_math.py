"""The fused SiLU (Swish) epilogue of a quantized convolution: numpy reference and onnxruntime
lowering compute the same doubles (exact_math's exp, written once from elementary IEEE steps),
exp stays within a few ULP of numpy's, a planted 1-ULP drift is seen, and Conv+SiLU models built
through the public API agree bit for bit while running on onnxruntime."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conformance.test_quant import MODES
from rknn_diag.api import RKNN
from rknn_diag.ir import Node
from rknn_diag.sim import crosscheck, exact_math, ort_int
from rknn_diag.sim.backend import simulator
from rknn_diag.sim.int_sim import epilogue
from rknn_diag.sim.ort_lower import Emitter, session, value_info


def _wide(seed: int = 0) -> np.ndarray:
    """Real values an accumulator can take: both signs over 20 decades, around exp's clip at
    ±40, the saturation of the sigmoid, zero and the smallest doubles."""
    rng = np.random.default_rng(seed)
    mags = 10.0 ** rng.uniform(-12, 8, 200_000)
    near = np.concatenate([np.linspace(-45, 45, 90_001), 40 + np.arange(-50, 51) * 1e-12,
                           -40 + np.arange(-50, 51) * 1e-12])
    return np.concatenate([mags, -mags, near, [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300]])


def _ort_epilogue(post_ops, t: np.ndarray, arith=ort_int._EmitArith) -> np.ndarray:
    """int_sim.epilogue replayed as ONNX nodes (the lowering's arithmetic), run by onnxruntime."""
    e = Emitter(13)
    e.op("Identity", [epilogue("t", post_ops, arith(e))], outputs=["y"])
    sess = session(e.model([value_info("t", np.float64)], [value_info("y", np.float64)]), 1)
    return sess.run(None, {"t": t})[0]


CHAINS = {"silu": [Node("Swish", "p", [], [])],
          "swish_alpha_then_affine": [Node("Swish", "p", [], [], attrs={"alpha": 1.702}),
                                      Node("Mul", "m", [np.float32(0.5)], []),
                                      Node("Add", "a", [np.float32(-0.25)], [])],
          "hardswish": [Node("HardSwish", "h", [], [])]}


@pytest.mark.parametrize("chain", CHAINS, ids=list(CHAINS))
def test_epilogue_doubles_agree_bit_for_bit(chain):
    t = _wide()
    want = epilogue(t, CHAINS[chain])
    got = _ort_epilogue(CHAINS[chain], t)
    assert got.dtype == want.dtype == np.float64
    assert np.array_equal(got.view(np.int64), want.view(np.int64)), \
        f"{int((got.view(np.int64) != want.view(np.int64)).sum())} of {t.size} doubles differ"


def test_exp_within_two_ulp_of_numpy():
    x = np.concatenate([np.random.default_rng(1).uniform(-40, 40, 1_000_000), np.linspace(-40, 40, 200_001)])
    ours, ref = exact_math.exp(exact_math.NUMPY, x), np.exp(x)
    ulps = np.abs(ours - ref) / np.spacing(ref)
    assert ulps.max() <= 2.0, f"exp off by {ulps.max()} ULP at x={x[np.argmax(ulps)]!r}"
    # beyond the clip: -40 and below gives a value 1 + e cannot see, 40 and above e^40
    assert 1.0 + exact_math.exp(exact_math.NUMPY, np.float64(-700.0)) == 1.0
    assert exact_math.exp(exact_math.NUMPY, np.float64(700.0)) == exact_math.exp(exact_math.NUMPY, np.float64(40.0))


def test_a_one_ulp_drift_in_the_lowered_exp_is_caught():
    """The lowering's final product nudged up by one ULP (×(1 + 2^-52)): the comparison above sees it."""
    class Drifting(ort_int._EmitArith):
        def lookup(self, table, k):
            return self.mul(super().lookup(table, k), self.const(1.0 + 2.0 ** -52, "fault"))

    t = _wide()
    want = epilogue(t, CHAINS["silu"])
    got = _ort_epilogue(CHAINS["silu"], t, Drifting)
    differ = got.view(np.int64) != want.view(np.int64)
    assert differ.any()
    # one ULP of exp moves t / (1 + exp) by a few ULP at most: a last-bits drift, still seen
    assert np.max(np.abs(got - want)[differ] / np.spacing(np.abs(want[differ]))) <= 4


def _silu_conv_model() -> onnx.ModelProto:
    """Conv -> x * Sigmoid(x) (a trained net's SiLU), with weights that drive the conv's output
    far into both tails of the sigmoid."""
    rng = np.random.default_rng(7)
    w = (rng.normal(0, 1, (8, 3, 3, 3)) * 2.0).astype(np.float32)
    b = rng.normal(0, 4, 8).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    g = helper.make_graph(nodes, "silu_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 24, 24])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("mode", ["w8a8", "asymmetric_quantized-u8", "dynamic_fixed_point-i16", "w8a16"])
def test_silu_conv_models_agree_and_run_on_onnxruntime(mode, tmp_path):
    """Through the user's path: config with mean/std, load, build on a dataset of raw pixel-range
    images, then the integers of both backends on images the calibration did not see (so values
    reach past the calibrated range and clamp)."""
    rng = np.random.default_rng(3)
    chip = MODES[mode]
    rknpu1 = chip == "rk1808"
    imgs = [rng.integers(0, 256, (24, 24, 3)).astype(np.float32) for _ in range(6)]
    ds = tmp_path / "ds"
    ds.mkdir()
    for i, img in enumerate(imgs[:4]):
        np.save(ds / f"{i}.npy", img if rknpu1 else img.transpose(2, 0, 1)[None].copy(), allow_pickle=False)
    (ds / "dataset.txt").write_text("".join(f"{i}.npy\n" for i in range(4)))
    path = tmp_path / "m.onnx"
    onnx.save(_silu_conv_model(), str(path))
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(mean_values=[[127.5] * 3], std_values=[[40.0] * 3], target_platform=chip,
                        quantized_dtype=mode) == 0
        assert r.load_onnx(str(path)) == 0, r.last_error
        assert r.build(do_quantization=True, dataset=str(ds / "dataset.txt")) == 0, r.last_error
    g, quant = r.model.graph, r.model.quant
    conv = next(n for n in g.nodes if n.op_type == "Conv")
    assert [p.op_type for p in conv.post_ops][-1] == "Swish"   # the SiLU was fused into the conv
    sim = simulator(g, r.model.mode, quant, backend="ort")
    assert sim.backend == "ort" and conv.name not in sim.numpy_nodes
    for img in imgs[3:]:
        x = ((img - 127.5) / 40.0).transpose(2, 0, 1)[None].astype(np.float32) * 4.0   # beyond calibration
        problems, compared = crosscheck.integer_values(g, quant, [x])
        assert not problems, problems
        assert compared >= len(g.nodes)
