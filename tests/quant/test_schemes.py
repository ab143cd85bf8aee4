"""Property tests of the quantize/dequantize formulas and the fixed-point requantization."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rknn_diag.qrules.schemes import (MODES, QParams, Scheme, dequantize, fixed_point, params_from_range, quantize,
                                     requantize, shift_round)

SCHEMES = sorted({(m.act.dtype, m.act.symmetric, m.act.pow2) for m in MODES.values()}
                 | {(m.weight.dtype, m.weight.symmetric, m.weight.pow2) for m in MODES.values()})
finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@pytest.mark.parametrize("dtype,sym,pow2", SCHEMES)
@settings(max_examples=60, deadline=None)
@given(lo=finite, span=st.floats(1e-3, 1e4), data=st.data())
def test_round_trip_within_half_scale_inside_range(dtype, sym, pow2, lo, span, data):
    scheme = Scheme(dtype, sym, pow2)
    hi = float(np.float32(lo + span))
    qp = params_from_range(lo, hi, scheme)
    lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
    xs = np.asarray(data.draw(st.lists(st.floats(lo0, hi0, width=32), min_size=1, max_size=20)), np.float32)
    q = quantize(xs, qp)
    err = np.abs(dequantize(q, qp).astype(np.float64) - xs)
    scale = float(qp.scale)
    # scale/2 plus float32 rounding of x/scale and of scale*(q-zp)
    assert np.all(err <= scale / 2 + 4e-7 * (np.abs(xs) + scale * 70000)), (err.max(), scale)
    qlo, qhi = scheme.qrange
    assert q.min() >= qlo and q.max() <= qhi
    assert int(quantize(np.float32(0.0), qp)) == int(qp.zero_point)   # zero is exact (padding)
    if pow2:
        fl = -np.log2(scale)
        assert fl == np.round(fl) and int(qp.zero_point) == 0
    if sym:
        assert int(qp.zero_point) == 0 and qlo == -qhi


@pytest.mark.parametrize("dtype,sym,pow2", SCHEMES)
@settings(max_examples=40, deadline=None)
@given(lo=finite, span=st.floats(1e-3, 1e4), k=st.floats(1.5, 1e3))
def test_saturates_outside_range(dtype, sym, pow2, lo, span, k):
    scheme = Scheme(dtype, sym, pow2)
    hi = lo + span
    qp = params_from_range(lo, hi, scheme)
    qlo, qhi = scheme.qrange
    far = k * max(abs(lo), abs(hi), 1.0) * 3 + (qhi - qlo) * float(qp.scale)
    assert int(quantize(np.float32(far), qp)) == qhi
    assert int(quantize(np.float32(-far), qp)) == qlo
    assert int(quantize(np.float32(np.inf), qp)) == qhi and int(quantize(np.float32(-np.inf), qp)) == qlo


def test_u8_formula_matches_guide_1_4_1():
    """quant = round(x/scale) + zero_point, saturated to [0, 255]; x = scale*(quant - zero_point)."""
    qp = QParams(np.float32(0.5), np.int32(10), "uint8")
    x = np.array([-5.0, -5.3, 0.0, 1.25, 1.75, 200.0, -100.0], np.float32)
    assert quantize(x, qp).tolist() == [0, 0, 10, 12, 14, 255, 0]
    assert dequantize(np.array([0, 10, 12, 255], np.uint8), qp).tolist() == [-5.0, 0.0, 1.0, 122.5]


def test_dynamic_fixed_point_range_is_symmetric():
    qp = params_from_range(-3.0, 1.0, Scheme("int8", True, True))
    assert float(qp.scale) == 2.0 ** -5          # 3 * 2^5 = 96 <= 127 < 3 * 2^6
    assert quantize(np.float32(-1000), qp) == -127 and quantize(np.float32(1000), qp) == 127


@settings(max_examples=200, deadline=None)
@given(acc=st.lists(st.integers(-(2 ** 40), 2 ** 40), min_size=1, max_size=16),
       mult=st.floats(1e-9, 64.0), zp=st.integers(-100, 100))
def test_requantize_rounds_the_fixed_point_product_half_to_even(acc, mult, zp):
    acc = np.asarray(acc, np.int64)
    bound = float(np.abs(acc).max(initial=1))
    m0, n = fixed_point(np.float64(mult), bound)
    m0, n = int(m0), int(n)
    out = QParams(np.float32(1.0), np.int32(zp), "int32", symmetric=False)
    got = requantize(acc, np.float64(mult), bound, out)
    for a, g in zip(acc.tolist(), got.tolist()):
        if n > 0:   # Python ints: no overflow; ties to even
            q, rem = divmod(a * m0, 1 << n)
            exact = q + (rem > (1 << (n - 1)) or (rem == (1 << (n - 1)) and q % 2 == 1))
        else:
            exact = a * m0 << -n
        assert g == max(min(exact + zp, 2 ** 31 - 1), -(2 ** 31))
        # and the fixed-point multiplier is faithful to M (relative error < 2^-(bits-1))
        assert abs(exact - a * mult) <= 0.5 + abs(a * mult) * 2.0 ** -11 + 1


def test_fixed_point_refuses_accumulators_that_could_overflow():
    with pytest.raises(OverflowError):
        fixed_point(np.float64(0.5), 2.0 ** 55)


def test_shift_round_ties_go_to_even():
    prod = np.array([3, 5, -3, -5, 4, 7], np.int64)   # /2 -> 1.5, 2.5, -1.5, -2.5, 2, 3.5
    assert shift_round(prod, np.int64(1)).tolist() == [2, 2, -2, -2, 2, 4]
    assert shift_round(np.array([5, -6], np.int64), np.int64(0)).tolist() == [5, -6]


@settings(max_examples=200, deadline=None)
@given(acc=st.lists(st.integers(-(2 ** 21), 2 ** 21), min_size=1, max_size=32),
       mult=st.floats(1e-6, 4.0), zp=st.integers(-128, 127))
def test_float64_requantization_path_is_identical_to_the_int64_path(acc, mult, zp):
    """apply_fixed_point takes float64 when acc·m0 < 2^53; it must give the very same integers,
    ties included (multiples of 2^-n built in on purpose)."""
    from rknn_diag.qrules.schemes import apply_fixed_point

    bound = 2.0 ** 21
    m0, n = fixed_point(np.float64(mult), bound)
    a = np.asarray(acc, np.int64)
    a = np.concatenate([a, (a // 2) * 2 + 1])          # odd values hit exact .5 ties for small n
    out = QParams(np.float32(1.0), np.int32(zp), "int8")
    via_int = apply_fixed_point(a, m0, n, out)
    via_float = apply_fixed_point(a.astype(np.float64), m0, n, out, acc_bound=bound)
    assert bound * float(m0) < 2.0 ** 53
    np.testing.assert_array_equal(via_int, via_float)


@settings(max_examples=100, deadline=None)
@given(xs=st.lists(finite, min_size=1, max_size=16), scale=st.floats(1e-3, 10.0), zp=st.integers(0, 255))
def test_quantize_linear_kernel_agrees_with_the_schemes(xs, scale, zp):
    """The QuantizeLinear/DequantizeLinear op kernels (ONNX semantics) and schemes.quantize /
    dequantize are the same formulas."""
    from rknn_diag.ops import run

    x = np.asarray(xs, np.float32)
    qp = QParams(np.float32(scale), np.int32(zp), "uint8")
    q = run("QuantizeLinear", [x, np.float32(scale), np.uint8(zp)], {}, 13)[0]
    np.testing.assert_array_equal(q, quantize(x, qp))
    np.testing.assert_array_equal(run("DequantizeLinear", [q, np.float32(scale), np.uint8(zp)], {}, 13)[0],
                                  dequantize(q, qp))


@pytest.mark.parametrize("dtype,zp", [("uint8", 128), ("int8", 10), ("int16", 5)])
def test_nan_rule_matches_onnxruntime_quantizelinear(dtype, zp):
    """One NaN rule: NaN -> the lowest code, +inf -> the highest, -inf -> the lowest, as
    onnxruntime's QuantizeLinear answers (the simulator and the oracle follow it)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    et = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8, "int16": TensorProto.INT16}[dtype]
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", et, [4])],
                          [helper.make_tensor("s", TensorProto.FLOAT, [], [0.1]), helper.make_tensor("z", et, [], [zp])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    x = np.array([np.nan, np.inf, -np.inf, 0.25], np.float32)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = quantize(x, QParams(np.float32(0.1), np.int32(zp), dtype))
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
@pytest.mark.parametrize("axis", [None, 1])
def test_dequantize_of_narrow_codes_is_the_int64_formula(dtype, axis):
    """8/16-bit codes are dequantized through float32 (q - z exact there); the values must be
    those of scale * float32(int64(q) - z), per tensor and per channel, every code included."""
    lo, hi = QParams(np.float32(1), np.int64(0), dtype).qrange
    rng = np.random.default_rng(7)
    s = (rng.random(4 if axis else ()) * 0.03 + 1e-4).astype(np.float32)
    z = rng.integers(lo, hi + 1, 4 if axis else ()).astype(np.int64)
    qp = QParams(s, z, dtype, axis=axis)
    q = rng.integers(lo, hi + 1, (2, 4, 5, 6)).astype(dtype)
    q.reshape(-1)[:2] = (lo, hi)
    sb, zb = qp.broadcast(q.ndim)
    want = (sb * (q.astype(np.int64) - zb).astype(np.float32)).astype(np.float32)
    got = dequantize(q, qp)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), want.view(np.uint32))
