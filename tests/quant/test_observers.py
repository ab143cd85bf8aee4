"""Calibration observers: min/max, KL divergence and MMSE ranges; streaming histograms."""

from __future__ import annotations

import numpy as np

from rknn_diag.quant.observers import BINS, Observer
from rknn_diag.qrules.schemes import MODES, dequantize, params_from_range, quantize

U8 = MODES["asymmetric_quantized-u8"].act
I8 = MODES["w8a8"].act


def _data(seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal(20000).astype(np.float32)
    x[:3] = [40.0, -35.0, 60.0]           # rare outliers
    return x


def test_normal_is_min_max_over_every_batch():
    o = Observer("normal")
    for part in np.array_split(_data(), 7):
        o.update(part)
    assert o.range(U8) == (float(_data().min()), float(_data().max()))


def _fed(algo):
    o = Observer(algo)
    for part in np.array_split(_data(), 5):
        o.update(part)
    return o


def _mse(x, r):
    qp = params_from_range(r[0], r[1], I8)
    return float(np.mean((dequantize(quantize(x, qp), qp) - x) ** 2))


def test_kl_divergence_cuts_rare_outliers():
    x = _data()
    lo, hi = _fed("kl_divergence").range(I8)
    assert x.min() < lo < 0 < hi < 30             # 3 outliers of 20000 do not set the range


def test_mmse_range_has_no_more_error_than_min_max():
    x = _data()
    r = _fed("mmse").range(I8)
    assert x.min() <= r[0] < 0 < r[1] <= x.max()
    assert _mse(x, r) <= _mse(x, _fed("normal").range(I8))


def test_histogram_range_doubles_without_losing_counts():
    o = Observer("kl_divergence")
    o.update(np.linspace(-1, 1, 1001, dtype=np.float32))
    r0 = o.radius
    o.update(np.array([7.5], np.float32))                    # forces three doublings
    # the exact 0 of the linspace is not histogrammed (zeros carry no quantization error)
    assert o.radius == r0 * 8 and o.hist.sum() == 1001 and o.hist.size == BINS
    assert o.range(I8)[1] <= 7.5


def test_empty_and_non_finite_data_are_ignored():
    o = Observer("mmse")
    o.update(np.array([np.nan, np.inf], np.float32))
    assert o.range(U8) == (0.0, 0.0)
    o.update(np.array([1.0, -2.0, np.nan], np.float32))
    lo, hi = o.range(U8)
    assert -2.0 <= lo < 0 < hi <= 1.0


def test_kl_divergence_keeps_most_of_a_relu_output():
    """Half the values exactly 0 (a ReLU): the spike must not pull the threshold down (it cut
    ranges to a fifth of the vendor's and a UNet to cosine 0.79)."""
    x = np.maximum(np.random.default_rng(3).standard_normal(40000), 0).astype(np.float32)
    lo, hi = _fed_with("kl_divergence", x).range(I8)
    assert lo == 0.0 and 0.6 * x.max() <= hi <= x.max()


def test_kl_divergence_never_cuts_into_data_away_from_zero():
    """A Sigmoid gate's values in [0.39, 0.65]: a threshold below them collapsed the range."""
    x = np.random.default_rng(4).uniform(0.39, 0.65, 20000).astype(np.float32)
    lo, hi = _fed_with("kl_divergence", x).range(I8)
    assert 0.39 <= lo and hi >= 0.55


def _fed_with(algo, x):
    o = Observer(algo)
    for part in np.array_split(x, 5):
        o.update(part)
    return o
