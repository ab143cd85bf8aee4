"""The integer simulator's float64 convolution builds its im2col matrix in bands of output
rows (memory); banding must not change a single integer."""

from __future__ import annotations

import numpy as np
import pytest

from rknn_diag.sim import int_sim


@pytest.mark.parametrize("shape, wshape, attrs", [
    ((1, 8, 37, 29), (6, 8, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    ((2, 6, 20, 20), (6, 2, 3, 3), {"group": 3, "dilations": [2, 2]}),
    ((1, 4, 50), (5, 4, 3), {"pads": [1, 1]}),
])
def test_banded_im2col_gives_the_one_shot_integers(shape, wshape, attrs, monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, shape).astype(np.float64)   # 16-bit codes: float32 not exact
    w = rng.integers(-32768, 32768, wshape).astype(np.float64)
    monkeypatch.setattr(int_sim, "IM2COL_BYTES", 1 << 40)     # one band: the whole matrix
    whole = int_sim._conv_acc(x, w, attrs, 2.0 ** 40)
    monkeypatch.setattr(int_sim, "IM2COL_BYTES", 4096)        # a row or a few per band
    banded = int_sim._conv_acc(x, w, attrs, 2.0 ** 40)
    assert banded.shape == whole.shape and np.array_equal(banded, whole)
    assert np.abs(whole).max() > 2.0 ** 24   # the float64 path, not the float32 one
