"""BatchNormalization (inference), InstanceNormalization, LayerNormalization, LRN."""

from __future__ import annotations

import numpy as np
from onnx import helper

from ..errors import UnsupportedOpError
from ._window import float32, out_dtype
from .registry import Quant, register


def _channel_param(p: np.ndarray, x: np.ndarray, spatial: int) -> np.ndarray:
    """Shape a per-channel (spatial=1) or per-activation (spatial=0, opset 7-8) parameter for broadcasting."""
    p = float32(p)
    if spatial or p.ndim == 1:
        return p.reshape(-1, *([1] * (x.ndim - 2)))
    return p


@register("BatchNormalization", values={"training_mode": (0,)})
def batch_normalization(X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, spatial=1,
                        training_mode=0):
    """Inference form: (x - mean) / sqrt(var + eps) * scale + B with the stored statistics.

    `momentum` only affects training; `spatial` exists in opset 7-8 only.
    """
    x = float32(X)
    sc, b, m, v = (_channel_param(p, x, spatial) for p in (scale, B, input_mean, input_var))
    k = sc / np.sqrt(v + np.float32(epsilon))
    return ((x - m) * k + b).astype(out_dtype(X), copy=False)


@register("InstanceNormalization", quant=Quant(amplifies=True))
def instance_normalization(input, scale, B, *, epsilon=1e-5):
    """Normalise each (n, c) plane over its spatial axes, then scale and shift per channel."""
    x = float32(input)
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    shape = (-1, *([1] * (x.ndim - 2)))
    y = (x - mean) / np.sqrt(var + np.float32(epsilon)) * float32(scale).reshape(shape) + float32(B).reshape(shape)
    return y.astype(out_dtype(input), copy=False)


_STASH = {1: np.float32, 11: np.float64}


@register("LayerNormalization", values={"stash_type": tuple(_STASH)}, quant=Quant(amplifies=True))
def layer_normalization(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """Normalise over axes [axis, rank); outputs Y, Mean and InvStdDev (statistics in the stash type)."""
    st = _STASH.get(stash_type)
    if st is None:
        raise UnsupportedOpError(f"LayerNormalization stash_type={stash_type} "
                                 f"({helper.tensor_dtype_to_np_dtype(stash_type)}) is not supported",
                                 fix="export with stash_type=1 (float32)")
    x = X.astype(st, copy=False)
    axis = axis % X.ndim
    axes = tuple(range(axis, X.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(np.square(x - mean).mean(axis=axes, keepdims=True) + st(epsilon))
    y = ((x - mean) * inv).astype(np.float32) * float32(Scale)
    if B is not None:
        y = y + float32(B)
    return y.astype(out_dtype(X), copy=False), mean.astype(st), inv.astype(st)


@register("LRN", quant=Quant(amplifies=True))
def lrn(X, *, alpha=1e-4, beta=0.75, bias=1.0, size):
    """x / (bias + alpha/size * sum of squares over a window of `size` channels) ** beta."""
    x = float32(X)
    C = x.shape[1]
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.square(x)
    padded = np.pad(sq, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
    acc = np.zeros_like(x)
    for t in range(size):  # loop over the window taps, vectorised over channels
        acc += padded[:, t:t + C]
    y = x / np.power(np.float32(bias) + np.float32(alpha / size) * acc, np.float32(beta))
    return y.astype(out_dtype(X), copy=False)


@register("LpNormalization", values={"p": (1, 2)})
def lp_normalization(input, *, axis=-1, p=2):
    """x divided by its L1 or L2 norm along `axis`; an all-zero slice stays 0 (as the spec and onnxruntime)."""
    x = float32(input)
    norm = np.abs(x).sum(axis=axis, keepdims=True) if p == 1 else np.sqrt(np.square(x).sum(axis=axis, keepdims=True))
    y = x / np.where(norm == 0, np.float32(1), norm)
    return y.astype(out_dtype(input), copy=False)


@register("MeanVarianceNormalization")
def mean_variance_normalization(X, *, axes=(0, 2, 3)):
    """(x - mean) / (std + 1e-9) over `axes` (the ONNX function's epsilon)."""
    x = float32(X)
    axes = tuple(int(a) % x.ndim for a in axes)
    mean = x.mean(axis=axes, keepdims=True)
    std = np.sqrt(np.maximum(np.square(x).mean(axis=axes, keepdims=True) - np.square(mean), 0))
    return ((x - mean) / (std + np.float32(1e-9))).astype(out_dtype(X), copy=False)


@register("GroupNormalization", values={"stash_type": (1,)})
def group_normalization(X, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1, opset=21):
    """Normalise each group of channels over (channels of the group, spatial axes); then scale and
    shift per group (opset 18) or per channel (opset 21)."""
    x = float32(X)
    N, C = x.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise UnsupportedOpError(f"GroupNormalization: {C} channels do not split into num_groups={num_groups}",
                                 fix="the model is malformed; re-export it")
    g = x.reshape(N, num_groups, -1)
    mean = g.mean(axis=-1, keepdims=True)
    var = np.square(g - mean).mean(axis=-1, keepdims=True)
    y = ((g - mean) / np.sqrt(var + np.float32(epsilon))).reshape(x.shape)
    sc, b = float32(scale).reshape(-1), float32(bias).reshape(-1)
    if opset < 21:  # per-group parameters, repeated over the channels of each group
        sc, b = np.repeat(sc, C // num_groups), np.repeat(b, C // num_groups)
    shape = (C, *([1] * (x.ndim - 2)))
    return (y * sc.reshape(shape) + b.reshape(shape)).astype(out_dtype(X), copy=False)
