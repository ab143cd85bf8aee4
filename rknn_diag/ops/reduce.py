"""Reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp) and
ArgMax/ArgMin.

`axes` was an attribute until it became an input (ReduceSum at opset 13, the others
at 18), which also brought `noop_with_empty_axes`. As in shape.py, the input is
named `axes_` because the attribute keeps the ONNX name `axes`.
"""

from __future__ import annotations

import numpy as np

from .registry import DIRECT, Quant, register
from ._tensor_util import FLOATS_ALL, INTS, as_compute, fresh, int_list, norm_axes, norm_axis


def _reduce(fn, data, axes_in, axes_attr, keepdims: int, noop: int, opset: int, since: int) -> np.ndarray:
    x = np.asarray(data)
    listed = axes_attr if opset < since else axes_in
    ax = int_list(listed, "Reduce axes")
    if not ax and opset >= since and noop:
        # No reduction, but the elementwise part still applies (|x| for L1/L2, x*x for
        # SumSquare, log x for LogSum), as onnxruntime does: numpy's axis=() does exactly that.
        ax = ()
    else:
        ax = tuple(norm_axes(ax or list(range(x.ndim)), x.ndim, "Reduce axes"))
    with np.errstate(all="ignore"):
        out = fn(as_compute(x), ax)
    if keepdims and ax:
        out = np.expand_dims(out, ax)
    return fresh(np.asarray(out).astype(x.dtype, copy=False), x)


def _lowest(dtype: np.dtype):
    """The identity of max (ONNX: the reduction over an empty set): -inf, the type's minimum, False."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


def _highest(dtype: np.dtype):
    """The identity of min: +inf, the type's maximum, True."""
    if dtype.kind == "f":
        return np.inf
    return True if dtype.kind == "b" else np.iinfo(dtype).max


def _max(x, ax):
    return np.max(x, axis=ax, initial=_lowest(x.dtype))


def _min(x, ax):
    return np.min(x, axis=ax, initial=_highest(x.dtype))


def _mean(x, ax):
    # The spec leaves the mean of an empty set undefined; onnxruntime (our reference) gives 0.
    n = int(np.prod([x.shape[a] for a in ax])) if ax else 1
    return np.sum(x, axis=ax) / x.dtype.type(n) if n else np.sum(x, axis=ax)


def _logsumexp(x, ax):
    # Shift by the max so exp never overflows (float16 inputs of a few tens already would);
    # an empty set gives log(0) = -inf, as ONNX defines.
    m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    return np.log(np.sum(np.exp(x - m), axis=ax)) + np.squeeze(m, ax)


_FNS = {
    "ReduceSum": (lambda x, ax: np.sum(x, axis=ax), FLOATS_ALL + INTS, 13),
    "ReduceMean": (_mean, FLOATS_ALL + ("int32", "int64"), 18),
    "ReduceMax": (_max, FLOATS_ALL + INTS + ("bool",), 18),
    "ReduceMin": (_min, FLOATS_ALL + INTS + ("bool",), 18),
    "ReduceProd": (lambda x, ax: np.prod(x, axis=ax), FLOATS_ALL + ("int32", "int64"), 18),
    "ReduceL1": (lambda x, ax: np.sum(np.abs(x), axis=ax), FLOATS_ALL + ("int32", "int64"), 18),
    "ReduceL2": (lambda x, ax: np.sqrt(np.sum(np.square(x), axis=ax)), FLOATS_ALL, 18),
    "ReduceSumSquare": (lambda x, ax: np.sum(np.square(x), axis=ax), FLOATS_ALL + ("int32", "int64"), 18),
    "ReduceLogSum": (lambda x, ax: np.log(np.sum(x, axis=ax)), FLOATS_ALL, 18),
    "ReduceLogSumExp": (_logsumexp, FLOATS_ALL, 18),
}

# Quantization traits (registry `quant=`) of the reductions that are not plain FALLBACK ops.
_QUANT = {
    "ReduceMax": Quant(DIRECT, shares_scale=True), "ReduceMin": Quant(DIRECT, shares_scale=True),
    "ReduceProd": Quant(amplifies=True), "ReduceLogSum": Quant(amplifies=True),
    "ReduceLogSumExp": Quant(amplifies=True), "ReduceL2": Quant(amplifies=True),
}


def _make(op: str) -> None:
    fn, dtypes, since = _FNS[op]

    def kernel(data, axes_=None, *, axes=None, keepdims=1, noop_with_empty_axes=0, opset=13):
        return _reduce(fn, data, axes_, axes, keepdims, noop_with_empty_axes, opset, since)

    kernel.__name__ = op.lower()
    kernel.__doc__ = (f"{op} over `axes` (attribute before opset {since}, input since; none = all axes "
                      f"unless noop_with_empty_axes), keepdims.")
    register(op, dtypes=dtypes, values={"keepdims": (0, 1), "noop_with_empty_axes": (0, 1)},
             quant=_QUANT.get(op, Quant()))(kernel)


for _op in _FNS:
    _make(_op)


def _arg(fn, data, axis: int, keepdims: int, select_last_index: int) -> np.ndarray:
    x = np.asarray(data)
    a = norm_axis(axis, x.ndim, "axis")
    if select_last_index:
        # The first hit in the reversed axis is the last hit in the original one.
        idx = x.shape[a] - 1 - fn(np.flip(x, a), axis=a)
    else:
        idx = fn(x, axis=a)
    idx = idx.astype(np.int64)
    return np.expand_dims(idx, a) if keepdims else idx


@register("ArgMax", dtypes=FLOATS_ALL + INTS, values={"keepdims": (0, 1), "select_last_index": (0, 1)})
def argmax(data, *, axis=0, keepdims=1, select_last_index=0):
    """Index (int64) of the largest element along `axis`; ties: first, or last if select_last_index."""
    return _arg(np.argmax, data, axis, keepdims, select_last_index)


@register("ArgMin", dtypes=FLOATS_ALL + INTS, values={"keepdims": (0, 1), "select_last_index": (0, 1)})
def argmin(data, *, axis=0, keepdims=1, select_last_index=0):
    """Index (int64) of the smallest element along `axis`; ties: first, or last if select_last_index."""
    return _arg(np.argmin, data, axis, keepdims, select_last_index)
