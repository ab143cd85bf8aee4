"""inference()'s input preprocessing (rknn_diag.sim.preprocess) gives, in its one-pass form, the
values of the plain float32 formula: convert to float32, reorder the channels, subtract the mean,
divide by the std, one float32 rounding per step, for the image dtypes and layouts users pass."""

from __future__ import annotations

import numpy as np
import pytest

from rknn_diag.config import InputPreprocess
from rknn_diag.ir import Value
from rknn_diag.sim.preprocess import prepare

SHAPE = (1, 3, 40, 56)
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _formula(x_nchw, p):
    """The plain float32 formula, step by step (the definition the fast path must match)."""
    y = x_nchw.astype(np.float32)
    if p.reorder:
        y = y[:, p.reorder]
    if p.mean:
        y = y - np.asarray(p.mean, np.float32).reshape(1, -1, 1, 1)
    if p.std:
        y = y / np.asarray(p.std, np.float32).reshape(1, -1, 1, 1)
    return y


def _images(dtype):
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, SHAPE).astype(dtype)
    if np.dtype(dtype).kind == "i":   # beyond float32's exact integers too: rounded like astype
        return rng.integers(-(1 << 40), 1 << 40, SHAPE).astype(dtype)
    x = rng.normal(128, 70, SHAPE).astype(dtype)
    x.reshape(-1)[:4] = [-0.0, np.nan, 1e-30, 255.0]
    return x


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("fmt", ["nhwc", "nchw"])
@pytest.mark.parametrize("p", [InputPreprocess(mean=MEAN, std=STD), InputPreprocess(mean=MEAN, std=STD, reorder=[2, 1, 0]),
                               InputPreprocess(mean=[0, 0, 0], std=[1, 1, 1]), InputPreprocess(mean=[127.5], std=[1]),
                               InputPreprocess(mean=[0], std=[255]), InputPreprocess()],
                         ids=["meanstd", "reorder", "identity", "meanonly", "stdonly", "none"])
def test_one_pass_preprocessing_matches_the_formula(dtype, fmt, p):
    x = _images(dtype)
    given = x.transpose(0, 2, 3, 1).copy() if fmt == "nhwc" else x
    before = given.copy()
    (got,) = prepare([Value("in", SHAPE, np.dtype(np.float32))], [p], [given], fmt, None, 1)
    want = _formula(x, p)
    assert got.dtype == np.float32 and got.shape == SHAPE and got.flags.c_contiguous
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))   # bit for bit, -0 and NaN too
    np.testing.assert_array_equal(given, before)                               # the caller's array untouched
    # shared only where nothing is computed, and then read-only: nobody downstream writes into theirs
    assert not np.shares_memory(got, given) or not got.flags.writeable
