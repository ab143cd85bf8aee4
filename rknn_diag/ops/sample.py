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


@register("MaxUnpool", dtypes=("float32", "float16", "float64"))
def max_unpool(X, I, output_shape=None, *, kernel_shape, pads=None, strides=None):
    """Scatter X into zeros at the flat indices I (MaxPool's Indices over the whole tensor);
    the output size is output_shape, or (in - 1) * stride + kernel - pads."""
    x = np.asarray(X)
    nd = x.ndim - 2
    strides = list(strides or [1] * nd)
    pads = list(pads or [0] * (2 * nd))
    if output_shape is not None and np.asarray(output_shape).size:
        shape = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    else:
        shape = list(x.shape[:2]) + [(n - 1) * s + k - pads[i] - pads[i + nd]
                                     for i, (n, s, k) in enumerate(zip(x.shape[2:], strides, kernel_shape))]
    y = np.zeros(int(np.prod(shape)), x.dtype)
    idx = np.asarray(I, np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= y.size):
        raise UnsupportedOpError(f"MaxUnpool index {int(idx.max())} is outside the output of {shape}",
                                 fix="give output_shape matching the MaxPool input the indices came from")
    y[idx] = x.reshape(-1)
    return y.reshape(shape)


@register("Col2Im")
def col2im(input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    """Sum the sliding blocks of input [N, C * prod(block), L] back into an image [N, C, *image_shape]
    (the inverse of im2col: torch.nn.Fold)."""
    x = float32(input)
    img = [int(v) for v in np.asarray(image_shape).reshape(-1)]
    blk = [int(v) for v in np.asarray(block_shape).reshape(-1)]
    nd = len(img)
    dil = list(dilations or [1] * nd)
    st = list(strides or [1] * nd)
    pd = list(pads or [0] * (2 * nd))
    nb = [(img[i] + pd[i] + pd[i + nd] - dil[i] * (blk[i] - 1) - 1) // st[i] + 1 for i in range(nd)]
    N, CK, L = x.shape
    K = int(np.prod(blk))
    if CK % K or L != int(np.prod(nb)):
        raise UnsupportedOpError(f"Col2Im input {x.shape} does not fit image {img}, block {blk}",
                                 fix="input must be [N, C * prod(block_shape), number of blocks]")
    C = CK // K
    cols = x.reshape([N, C, *blk, *nb])
    padded = np.zeros([N, C] + [img[i] + pd[i] + pd[i + nd] for i in range(nd)], F)
    for kpos in itertools.product(*[range(b) for b in blk]):
        sl = tuple(slice(k * d, k * d + (n - 1) * s + 1, s) for k, d, n, s in zip(kpos, dil, nb, st))
        padded[(slice(None), slice(None), *sl)] += cols[(slice(None), slice(None), *kpos)]
    crop = tuple(slice(pd[i], pd[i] + img[i]) for i in range(nd))
    return np.ascontiguousarray(padded[(slice(None), slice(None), *crop)]).astype(out_dtype(input), copy=False)


def _bilinear_zero(img: np.ndarray, h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """img [C, H, W] at float positions h, w (any shape S) -> [C, *S]; 0 outside (h <= -1, h >= H ...),
    each corner outside the image reads 0 (torchvision's deformable sampling)."""
    H, W = img.shape[-2:]
    inside = (h > -1) & (h < H) & (w > -1) & (w < W)
    h0, w0 = np.floor(h), np.floor(w)
    lh, lw = h - h0, w - w0
    h0, w0 = h0.astype(np.int64), w0.astype(np.int64)
    out = np.zeros((img.shape[0],) + h.shape, F)
    for dh, dw, wt in ((0, 0, (1 - lh) * (1 - lw)), (0, 1, (1 - lh) * lw), (1, 0, lh * (1 - lw)), (1, 1, lh * lw)):
        hh, ww = h0 + dh, w0 + dw
        ok = inside & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
        v = img[:, np.clip(hh, 0, H - 1), np.clip(ww, 0, W - 1)]
        out += np.where(ok, wt, F(0)).astype(F) * v
    return out


@register("DeformConv")
def deform_conv(X, W, offset, B=None, mask=None, *, dilations=None, group=1, kernel_shape=None,
                offset_group=1, pads=None, strides=None):
    """2-D deformable convolution (v1; v2 with mask): each kernel tap reads X bilinearly at its
    regular position plus a learned offset, scaled by the mask."""
    x, w = float32(X), float32(W)
    if x.ndim != 4:
        raise UnsupportedOpError("DeformConv supports 2-D (4-D NCHW) inputs", fix="use a 2-D deformable conv")
    N, C, H, Wd = x.shape
    M, Cg, kh, kw = w.shape
    sh, sw = strides or [1, 1]
    dh, dw = dilations or [1, 1]
    pt, pl, pb, pr = pads or [0, 0, 0, 0]
    oh = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (Wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    off = float32(offset).reshape(N, offset_group, kh * kw, 2, oh, ow)
    msk = None if mask is None else float32(mask).reshape(N, offset_group, kh * kw, oh, ow)
    base_h = (np.arange(oh) * sh - pt)[:, None] + (np.arange(kh) * dh).repeat(kw)[:, None, None]   # [K, oh, 1]
    base_w = (np.arange(ow) * sw - pl)[None, :] + np.tile(np.arange(kw) * dw, kh)[:, None, None]   # [K, 1, ow]
    cpg = C // offset_group
    cols = np.zeros((N, C, kh * kw, oh, ow), F)
    for n in range(N):
        for g in range(offset_group):
            hpos = base_h + off[n, g, :, 0]                       # [K, oh, ow]
            wpos = base_w + off[n, g, :, 1]
            v = _bilinear_zero(x[n, g * cpg:(g + 1) * cpg], hpos.astype(F), wpos.astype(F))   # [cpg, K, oh, ow]
            if msk is not None:
                v = v * msk[n, g][None]
            cols[n, g * cpg:(g + 1) * cpg] = v
    y = np.zeros((N, M, oh, ow), F)
    mg = M // group
    for gi in range(group):
        wg = w[gi * mg:(gi + 1) * mg].reshape(mg, -1)                               # [mg, Cg*K]
        cg = cols[:, gi * Cg:(gi + 1) * Cg].reshape(N, Cg * kh * kw, oh * ow)      # [N, Cg*K, oh*ow]
        y[:, gi * mg:(gi + 1) * mg] = (wg @ cg).reshape(N, mg, oh, ow)
    if B is not None:
        y += float32(B).reshape(1, -1, 1, 1)
    return y.astype(out_dtype(X), copy=False)
