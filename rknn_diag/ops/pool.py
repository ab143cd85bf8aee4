"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (N-D, ceil_mode, dilations, auto_pad)."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import check_rank, float32, out_dtype, pad_to, per_axis, resolve_pads, windows
from .registry import DIRECT, FLOAT, KERNEL, Quant, register


def _geometry(op, x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode):
    check_rank(op, x)
    n = x.ndim - 2
    kernel = per_axis(kernel_shape, n, 0, "kernel_shape")
    if min(kernel, default=1) < 1:
        raise UnsupportedOpError("pooling needs kernel_shape", fix="the model is malformed; re-export it")
    strides = per_axis(strides, n, 1, "strides")
    dilations = per_axis(dilations, n, 1, "dilations")
    pb, pe, out = resolve_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad, ceil_mode, pool=True)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    lengths = [(o - 1) * s + e for o, s, e in zip(out, strides, ek)]
    return n, kernel, strides, dilations, pb, pe, out, lengths


@register("MaxPool", dtypes=FLOAT + ("int8", "uint8"), quant=Quant(DIRECT, shares_scale=True))
def max_pool(X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
             storage_order=0, strides=None):
    """Max over each window; second output the flat argmax Indices (row- or column-major)."""
    n, kernel, strides, dilations, pb, _, out, lengths = _geometry(
        "MaxPool", X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    x = float32(X) if np.issubdtype(X.dtype, np.floating) else X
    low = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    win = windows(pad_to(x, pb, lengths, low), kernel, strides, dilations, out)
    flat = win.reshape(*win.shape[:2 + n], -1)
    arg = flat.argmax(axis=-1)[..., None]                            # first maximum, as onnxruntime
    y = np.take_along_axis(flat, arg, axis=-1)[..., 0]
    # Indices: flat position in the unpadded input, spatial part in C or Fortran order.
    N, C, *sp = X.shape
    spatial = np.arange(int(np.prod(sp)), dtype=np.int64).reshape(sp, order="F" if storage_order else "C")
    idx = pad_to(spatial, pb, lengths, -1)
    iwin = windows(idx, kernel, strides, dilations, out).reshape(*out, -1)
    sp_idx = np.take_along_axis(np.broadcast_to(iwin, (N, C, *iwin.shape)), arg, axis=-1)[..., 0]
    base = (np.arange(N * C, dtype=np.int64) * int(np.prod(sp))).reshape(N, C, *([1] * n))
    yd = out_dtype(X) if np.issubdtype(X.dtype, np.floating) else X.dtype
    return y.astype(yd, copy=False), sp_idx + base


@register("AveragePool", quant=Quant(KERNEL))
def average_pool(X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape,
                 pads=None, strides=None):
    """Mean over each window; the divisor counts pads only with count_include_pad, never the ceil overhang."""
    n, kernel, strides, dilations, pb, pe, out, lengths = _geometry(
        "AveragePool", X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    x = float32(X)
    s = windows(pad_to(x, pb, lengths, 0), kernel, strides, dilations, out).sum(axis=tuple(range(-n, 0)))
    # Divisor: windows over a 0/1 mask of the positions that count.
    sp = x.shape[2:]
    if count_include_pad:
        mask = np.ones([i + b + e for i, b, e in zip(sp, pb, pe)], np.float32)
        mask = pad_to(mask, [0] * n, lengths, 0)
    else:
        mask = pad_to(np.ones(sp, np.float32), pb, lengths, 0)
    cnt = windows(mask, kernel, strides, dilations, out).sum(axis=tuple(range(-n, 0)))
    return (s / np.maximum(cnt, 1)).astype(out_dtype(X), copy=False)


@register("GlobalAveragePool", quant=Quant(KERNEL))
def global_average_pool(X):
    """Mean over all spatial axes, kept as size-1 axes."""
    return float32(X).mean(axis=tuple(range(2, X.ndim)), keepdims=True).astype(out_dtype(X), copy=False)


@register("GlobalMaxPool", quant=Quant(DIRECT, shares_scale=True))
def global_max_pool(X):
    """Max over all spatial axes, kept as size-1 axes."""
    return X.max(axis=tuple(range(2, X.ndim)), keepdims=True)


@register("LpPool")
def lp_pool(X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, p=2, pads=None, strides=None):
    """(sum of |x|^p over each window) ^ (1/p); padding counts as zeros."""
    n, kernel, strides, dilations, pb, _, out, lengths = _geometry(
        "LpPool", X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    powered = np.power(np.abs(float32(X)), np.float32(p))
    s = windows(pad_to(powered, pb, lengths, 0), kernel, strides, dilations, out).sum(axis=tuple(range(-n, 0)))
    return np.power(s, np.float32(1.0 / p)).astype(out_dtype(X), copy=False)


@register("GlobalLpPool")
def global_lp_pool(X, *, p=2):
    """(sum of |x|^p over all spatial axes) ^ (1/p), kept as size-1 axes."""
    s = np.power(np.abs(float32(X)), np.float32(p)).sum(axis=tuple(range(2, X.ndim)), keepdims=True)
    return np.power(s, np.float32(1.0 / p)).astype(out_dtype(X), copy=False)
