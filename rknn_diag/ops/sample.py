"""Sampling at computed positions: GridSample (opset 16/20: nearest, (bi)linear, (bi)cubic;
zeros/border/reflection padding; align_corners; 2-D and N-D grids), MaxUnpool, Col2Im,
RoiAlign and DeformConv.

GridSample: grid values in [-1, 1] are mapped to pixel positions, positions outside the image
are first clamped (border; not in cubic mode, as torch and onnxruntime) or reflected
(reflection), then each interpolation tap is fetched with the same padding rule. Nearest
rounds half to even. Computed in float32, vectorised over every output position.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, float32, out_dtype
from .registry import register

F = np.float32
GRID_MODES = ("bilinear", "nearest", "bicubic", "linear", "cubic")
PADDING = ("zeros", "border", "reflection")


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold positions outside [lo, hi] back inside, bouncing off each border."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below, above = x < lo, x > hi
    d = np.where(below, lo - x, x - hi)
    n = np.floor(d / span)
    r = d - n * span
    even = (n % 2) == 0
    inside_from_below = np.where(even, lo + r, hi - r)
    inside_from_above = np.where(even, hi - r, lo + r)
    return np.where(below, inside_from_below, np.where(above, inside_from_above, x)).astype(x.dtype, copy=False)


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """Keys' cubic convolution (a = -0.75) for taps at -1, 0, 1, 2 around floor(x)."""
    a = F(-0.75)
    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1
    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


@register("GridSample", values={"mode": GRID_MODES, "padding_mode": PADDING, "align_corners": (0, 1)})
def grid_sample(X, grid, *, align_corners=0, mode="linear", padding_mode="zeros", opset=20):
    """Sample X [N, C, *S] at grid [N, *O, D] (x first: grid[..., 0] indexes the last axis)."""
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(as_str(mode), as_str(mode))
    pad = as_str(padding_mode)
    x = float32(X)
    g = float32(grid)
    spatial = x.shape[2:]
    D = len(spatial)
    if g.shape[-1] != D or g.shape[0] != x.shape[0]:
        raise UnsupportedOpError(f"GridSample grid {g.shape} does not match input {x.shape}",
                                 fix="grid must be [N, *out, rank-2] with N equal to the input's")
    if mode == "cubic" and D != 2:
        raise UnsupportedOpError("GridSample cubic mode takes 4-D inputs only", fix="use linear or nearest")
    coords = []          # per spatial axis: the (clamped/reflected) float position, [N, *O]
    for axis, L in enumerate(spatial):
        v = g[..., D - 1 - axis]
        pos = (v + 1) / F(2) * F(L - 1) if align_corners else ((v + 1) * F(L) - 1) / F(2)
        if mode == "nearest":
            pos = np.rint(pos)
        lo, hi = (0.0, L - 1.0) if align_corners else (-0.5, L - 0.5)
        if pad == "border" and mode != "cubic":
            # Cubic keeps the position and clamps each of its taps (as torch and onnxruntime do;
            # the spec's reference clamps the position first, which changes the weights).
            pos = np.where((pos < lo) | (pos > hi), np.clip(pos, 0, L - 1), pos)
        elif pad == "reflection":
            pos = _reflect(pos, lo, hi)
        coords.append((pos.astype(F), L, lo, hi))

    def fetch_index(i: np.ndarray, L: int, lo: float, hi: float):
        """(index into the axis, 1 where the tap reads the image / 0 where it reads zero padding)."""
        if pad == "zeros":
            ok = (i >= 0) & (i < L)
            return np.clip(i, 0, L - 1), ok
        if pad == "border":
            return np.clip(i, 0, L - 1), np.ones(i.shape, bool)
        return np.clip(np.trunc(_reflect(i.astype(F), lo, hi)).astype(np.int64), 0, L - 1), np.ones(i.shape, bool)

    taps_per_axis = []   # per axis: list of (index, weight, valid)
    for pos, L, lo, hi in coords:
        if mode == "nearest":
            offsets, weights, base = [0], [np.ones_like(pos)], pos.astype(np.int64)
        else:
            fl = np.floor(pos)
            t = pos - fl
            base = fl.astype(np.int64)
            if mode == "linear":
                offsets, weights = [0, 1], [1 - t, t]
            else:
                offsets, weights = [-1, 0, 1, 2], _cubic_weights(t)
        taps = []
        for off, w in zip(offsets, weights):
            idx, ok = fetch_index(base + off, L, lo, hi)
            taps.append((idx, w, ok))
        taps_per_axis.append(taps)

    n_idx = np.arange(x.shape[0]).reshape((-1,) + (1,) * (g.ndim - 2))
    n_idx = np.broadcast_to(n_idx, g.shape[:-1])
    xc = np.moveaxis(x, 1, -1)                       # [N, *S, C]
    out = np.zeros(g.shape[:-1] + (x.shape[1],), F)  # [N, *O, C]
    for combo in itertools.product(*taps_per_axis):
        w = np.ones(g.shape[:-1], F)
        ok = np.ones(g.shape[:-1], bool)
        for _, wi, oki in combo:
            w = w * wi
            ok = ok & oki
        vals = xc[(n_idx, *[c[0] for c in combo])]   # [N, *O, C]
        out += np.where(ok, w, F(0))[..., None] * vals
    return np.ascontiguousarray(np.moveaxis(out, -1, 1)).astype(out_dtype(X), copy=False)
