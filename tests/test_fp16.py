"""The simulator's fast float16 rounding equals numpy's cast on every kind of value."""

import numpy as np

from rknn_diag.sim.float_sim import to_fp16


def _numpy(x):
    with np.errstate(over="ignore"):
        return x.astype(np.float16).astype(np.float32)


def test_matches_numpy_cast_over_a_sweep_of_bit_patterns():
    bits = np.arange(0, 2 ** 32, 997, dtype=np.uint64).astype(np.uint32)    # every exponent, many mantissas
    x = bits.view(np.float32)
    got, want = to_fp16(x), _numpy(x)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert same.all(), f"{(~same).sum()} differ, e.g. {x[~same][:5]} -> {got[~same][:5]} want {want[~same][:5]}"
    assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all()


def test_edges():
    edge = np.array([0.0, -0.0, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 65504, 65519.996, 65520, -65520,
                     np.inf, -np.inf, np.nan, 1 + 2 ** -11, 1 + 3 * 2 ** -11], np.float32)
    np.testing.assert_array_equal(to_fp16(edge), _numpy(edge))


def test_shapes_dtypes_and_no_input_change():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    before = x.copy()
    y = to_fp16(x[:, ::2])                     # non-contiguous view
    np.testing.assert_array_equal(y, _numpy(x[:, ::2]))
    np.testing.assert_array_equal(x, before)
    assert to_fp16(np.arange(3)).dtype == np.int64
    np.testing.assert_array_equal(to_fp16(x.astype(np.float64)), _numpy(x))
