"""Activations: Relu, Clip, LeakyRelu, PRelu, Elu, Selu, Sigmoid, HardSigmoid,
HardSwish, Tanh, Softplus, Softsign, Celu, ThresholdedRelu, Gelu.

Computed in float32 (float64 stays float64) and returned in the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .registry import TABLE, Quant, register
from ._tensor_util import FLOATS_ALL, INTS, as_compute, fresh
from .elementwise import erf64

FLOAT_MAX = float(np.finfo(np.float32).max)
SIGNED = ("int8", "int16", "int32", "int64")


def _back(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    return fresh(np.asarray(out).astype(np.asarray(like).dtype, copy=False), like)


@register("Relu", dtypes=FLOATS_ALL + SIGNED, quant=Quant(TABLE, shares_scale=True))
def relu(X):
    """max(X, 0)."""
    X = np.asarray(X)
    return np.maximum(X, np.zeros((), X.dtype))


# The Clip-11 inputs `min`/`max` share their names with the Clip-6 attributes, and a
# Python signature cannot hold both, so the inputs are named min_/max_ here.
@register("Clip", dtypes=FLOATS_ALL + INTS, quant=Quant(TABLE, shares_scale=True))
def clip(input, min_=None, max_=None, *, min=-FLOAT_MAX, max=FLOAT_MAX, opset=13):
    """Clamp to [min, max]: attributes before opset 11, optional scalar inputs since."""
    x = np.asarray(input)
    if opset < 11:
        lo, hi = min, max
    else:
        lo = None if min_ is None else np.asarray(min_).reshape(())
        hi = None if max_ is None else np.asarray(max_).reshape(())
    out = as_compute(x)
    # Apply max after min, so min > max gives max everywhere as onnxruntime does.
    if lo is not None:
        out = np.maximum(out, np.asarray(lo).astype(out.dtype))
    if hi is not None:
        out = np.minimum(out, np.asarray(hi).astype(out.dtype))
    return _back(out, x)


@register("LeakyRelu", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def leaky_relu(X, *, alpha=0.01):
    """X if X >= 0 else alpha * X."""
    x = as_compute(X)
    return _back(np.where(x >= 0, x, x * np.asarray(alpha, x.dtype)), X)


@register("PRelu", dtypes=FLOATS_ALL + ("int32", "int64"))
def prelu(X, slope):
    """X if X >= 0 else slope * X, slope broadcast to X (unidirectionally)."""
    x = as_compute(X)
    s = as_compute(np.asarray(slope)).astype(x.dtype)
    if np.broadcast_shapes(x.shape, s.shape) != x.shape:
        raise InputError(f"PRelu slope {s.shape} does not broadcast to X {x.shape}", where="PRelu input 'slope'",
                         fix="the slope must broadcast to X (e.g. [C,1,1] for NCHW)")
    return _back(np.where(x >= 0, x, x * s), X)


@register("Elu", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def elu(X, *, alpha=1.0):
    """X if X > 0 else alpha * (exp(X) - 1)."""
    x = as_compute(X)
    return _back(np.where(x > 0, x, np.asarray(alpha, x.dtype) * np.expm1(np.minimum(x, 0))), X)


@register("Celu", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def celu(X, *, alpha=1.0):
    """max(0, X) + min(0, alpha * (exp(X / alpha) - 1))."""
    x = as_compute(X)
    a = np.asarray(alpha, x.dtype)
    return _back(np.maximum(x, 0) + np.minimum(0, a * np.expm1(np.minimum(x, 0) / a)), X)


@register("Selu", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def selu(X, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    """gamma * (X if X > 0 else alpha * (exp(X) - 1))."""
    x = as_compute(X)
    a, g = np.asarray(alpha, x.dtype), np.asarray(gamma, x.dtype)
    return _back(g * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))), X)


@register("Shrink", dtypes=FLOATS_ALL + INTS)
def shrink(input, *, bias=0.0, lambd=0.5):
    """x + bias below -lambd, x - bias above lambd, 0 in between."""
    x = np.asarray(input)
    c = as_compute(x)
    y = np.where(c < -lambd, c + bias, np.where(c > lambd, c - bias, 0))
    return _back(np.asarray(y), x)


@register("ThresholdedRelu", dtypes=FLOATS_ALL, quant=Quant(TABLE, amplifies=True))
def thresholded_relu(X, *, alpha=1.0):
    """X if X > alpha else 0."""
    x = as_compute(X)
    return _back(np.where(x > alpha, x, 0), X)


def sigmoid32(x: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@register("Sigmoid", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def sigmoid(X):
    """1 / (1 + exp(-X))."""
    return _back(sigmoid32(as_compute(X)), X)


@register("HardSigmoid", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def hard_sigmoid(X, *, alpha=0.2, beta=0.5):
    """clip(alpha * X + beta, 0, 1)."""
    x = as_compute(X)
    return _back(np.clip(x * np.asarray(alpha, x.dtype) + np.asarray(beta, x.dtype), 0, 1), X)


@register("HardSwish", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def hard_swish(X):
    """X * clip(X / 6 + 1/2, 0, 1)."""
    x = as_compute(X)
    return _back(x * np.clip(x * np.asarray(1 / 6, x.dtype) + np.asarray(0.5, x.dtype), 0, 1), X)


@register("Swish", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def swish(X, *, alpha=1.0):
    """X * sigmoid(alpha * X) (opset 24; SiLU for alpha 1). The passes fuse an exported
    X * Sigmoid(X) into it, as the NPU compilers do: one table instead of two 8-bit steps."""
    x = as_compute(X)
    return _back(x * sigmoid32(x * np.asarray(alpha, x.dtype)), X)


@register("Tanh", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def tanh(input):
    """Hyperbolic tangent."""
    return _back(np.tanh(as_compute(input)), input)


@register("Softplus", dtypes=FLOATS_ALL, quant=Quant(TABLE, amplifies=True))
def softplus(X):
    """log(1 + exp(X)), without overflow."""
    return _back(np.logaddexp(0, as_compute(X)), X)


@register("Softsign", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def softsign(input):
    """X / (1 + |X|)."""
    x = as_compute(input)
    return _back(x / (1 + np.abs(x)), input)


@register("Mish", dtypes=FLOATS_ALL, quant=Quant(TABLE))
def mish(X):
    """X * tanh(softplus(X))."""
    x = as_compute(X)
    return _back(x * np.tanh(np.logaddexp(0, x)), X)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@register("Gelu", dtypes=FLOATS_ALL, values={"approximate": ("none", "tanh")}, quant=Quant(TABLE))
def gelu(X, *, approximate="none"):
    """X * Phi(X) (opset 20); approximate='tanh' uses the tanh formula."""
    x = as_compute(X)
    if approximate == "tanh":
        inner = np.asarray(_SQRT_2_OVER_PI, x.dtype) * (x + np.asarray(0.044715, x.dtype) * x * x * x)
        return _back(0.5 * x * (1 + np.tanh(inner)), X)
    phi = 0.5 * (1 + erf64(x.astype(np.float64) / math.sqrt(2)))
    return _back(x * phi, X)
