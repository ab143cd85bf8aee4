"""Softmax and LogSoftmax (opset < 13 coerces the input to 2-D at `axis`)."""

from __future__ import annotations

import numpy as np

from ._window import float32, out_dtype
from .registry import KERNEL, Quant, register


def _prepare(x: np.ndarray, axis, opset: int):
    """The array to normalise, the axes to normalise over, and how to restore the shape.

    `axis=None` means "absent": the ONNX default is 1 before opset 13 and -1 from 13.
    """
    if opset < 13:
        axis = 1 if axis is None else axis
        axis = axis % x.ndim if x.ndim else 0
        lead = int(np.prod(x.shape[:axis]))
        return x.reshape(lead, -1), -1
    return x, (-1 if axis is None else axis)


@register("Softmax", quant=Quant(KERNEL))
def softmax(input, *, axis=None, opset=13):
    """exp(x - max) / sum, in float32."""
    x = float32(input)
    v, ax = _prepare(x, axis, opset)
    e = v - v.max(axis=ax, keepdims=True)
    np.exp(e, out=e)   # in place: one temporary the size of the input, not three
    e /= e.sum(axis=ax, keepdims=True)
    return e.reshape(x.shape).astype(out_dtype(input), copy=False)


@register("LogSoftmax")
def log_softmax(input, *, axis=None, opset=13):
    """x - max - log(sum(exp(x - max))), in float32."""
    x = float32(input)
    v, ax = _prepare(x, axis, opset)
    s = v - v.max(axis=ax, keepdims=True)
    y = s - np.log(np.exp(s).sum(axis=ax, keepdims=True))
    return y.reshape(x.shape).astype(out_dtype(input), copy=False)



@register("Hardmax", dtypes=("float32", "float16", "float64"))
def hardmax(input, *, axis=None, opset=13):
    """1 at the first largest element along `axis` (opset < 13: of the 2-D coercion), 0 elsewhere."""
    x = np.asarray(input)
    v, ax = _prepare(x, axis, opset)
    idx = np.argmax(v, axis=ax)
    y = np.zeros(v.shape, x.dtype)
    np.put_along_axis(y, np.expand_dims(idx, ax), 1, axis=ax)
    return y.reshape(x.shape)
