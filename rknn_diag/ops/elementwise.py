"""Elementwise arithmetic: binary ops with numpy (ONNX multidirectional) broadcasting,
variadic Min/Max/Sum/Mean, and unary math (Exp, Log, Sqrt, Erf, Round, ...).

Float ops run in float32 (float16 inputs are widened once and rounded back once);
integer ops stay in their own dtype and wrap like C, as onnxruntime does.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .registry import ALL_INPUTS, KERNEL, TABLE, Quant, register
from ._tensor_util import FLOATS_ALL, INTS, as_compute, floatop, fresh

SIGNED = ("int8", "int16", "int32", "int64")
FLOAT_NUM = FLOATS_ALL + INTS


def _binary(fn, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(all="ignore"):
        out = fn(as_compute(a), as_compute(b))
    return fresh(np.asarray(out).astype(a.dtype, copy=False), a, b)


@register("Add", dtypes=FLOAT_NUM, quant=Quant(KERNEL, data=ALL_INPUTS))
def add(A, B):
    """A + B with broadcasting."""
    return _binary(np.add, A, B)


@register("Sub", dtypes=FLOAT_NUM, quant=Quant(KERNEL, data=ALL_INPUTS))
def sub(A, B):
    """A - B with broadcasting."""
    return _binary(np.subtract, A, B)


@register("Mul", dtypes=FLOAT_NUM, quant=Quant(KERNEL, data=ALL_INPUTS))
def mul(A, B):
    """A * B with broadcasting."""
    return _binary(np.multiply, A, B)


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # ONNX (like C) truncates integer quotients toward zero; numpy floors.
    q = np.floor_divide(a, b)
    inexact = (q * b != a) & ((a < 0) != (b < 0))
    return q + inexact.astype(q.dtype)


@register("Div", dtypes=FLOAT_NUM, quant=Quant(data=ALL_INPUTS, amplifies=True))
def div(A, B):
    """A / B with broadcasting; integer division truncates toward zero."""
    if np.asarray(A).dtype.kind in "iu":
        return _binary(_trunc_div, A, B)
    return _binary(np.divide, A, B)


@register("Mod", dtypes=FLOAT_NUM, values={"fmod": (0, 1)}, quant=Quant(amplifies=True))
def mod(A, B, *, fmod=0):
    """Remainder: sign of the divisor (fmod=0, integers) or of the dividend (fmod=1, C fmod)."""
    return _binary(np.fmod if fmod else np.mod, A, B)


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu":
        if b.dtype.kind in "iu" and not np.any(b < 0):
            return np.power(a, b.astype(a.dtype))
        # A float or negative exponent on an integer base: compute in float64, truncate.
        return np.power(a.astype(np.float64), b.astype(np.float64))
    return np.power(a, b.astype(a.dtype))


@register("Pow", dtypes=FLOAT_NUM, quant=Quant(amplifies=True))
def pow_(X, Y):
    """X ** Y with broadcasting; the result has X's dtype (Y may be another type)."""
    return _binary(_pow, X, Y)


def _variadic(fn, inputs) -> np.ndarray:
    first = np.asarray(inputs[0])
    with np.errstate(all="ignore"):
        out = functools.reduce(fn, [as_compute(np.asarray(i)) for i in inputs])
    return fresh(np.asarray(out).astype(first.dtype, copy=False), *inputs)


@register("Max", dtypes=FLOAT_NUM, quant=Quant(data=ALL_INPUTS))
def max_(*data_0):
    """Elementwise maximum of all inputs (broadcast)."""
    return _variadic(np.maximum, data_0)


@register("Min", dtypes=FLOAT_NUM, quant=Quant(data=ALL_INPUTS))
def min_(*data_0):
    """Elementwise minimum of all inputs (broadcast)."""
    return _variadic(np.minimum, data_0)


@register("Sum", dtypes=FLOATS_ALL, quant=Quant(data=ALL_INPUTS))
def sum_(*data_0):
    """Elementwise sum of all inputs (broadcast)."""
    return _variadic(np.add, data_0)


@register("Mean", dtypes=FLOATS_ALL, quant=Quant(data=ALL_INPUTS))
def mean(*data_0):
    """Elementwise mean of all inputs (broadcast)."""
    first = np.asarray(data_0[0])
    total = _variadic(np.add, [as_compute(np.asarray(d)) for d in data_0])
    return (total / np.asarray(len(data_0), total.dtype)).astype(first.dtype, copy=False)


# --- unary -----------------------------------------------------------------

@register("Neg", dtypes=FLOATS_ALL + SIGNED, quant=Quant(TABLE))
def neg(X):
    """-X."""
    return np.negative(X)


@register("Abs", dtypes=FLOAT_NUM, quant=Quant(TABLE))
def abs_(X):
    """|X|."""
    return np.abs(X)


@register("Sign", dtypes=FLOAT_NUM, quant=Quant(TABLE, amplifies=True))
def sign(input):
    """-1, 0 or 1 by the sign of the input."""
    return np.sign(input)


def _unary_float(name: str, fn, doc: str, quant: Quant = Quant()) -> None:
    wrapped = floatop(fn)

    def kernel(X):
        with np.errstate(all="ignore"):
            return wrapped(X)

    kernel.__name__ = name.lower()
    kernel.__doc__ = doc
    register(name, dtypes=FLOATS_ALL, quant=quant)(kernel)


_unary_float("Exp", np.exp, "e ** X.", Quant(TABLE, amplifies=True))
_unary_float("Log", np.log, "Natural log; -inf at 0, NaN below.", Quant(TABLE, amplifies=True))
_unary_float("Sqrt", np.sqrt, "Square root; NaN below 0.", Quant(TABLE, amplifies=True))
_unary_float("Reciprocal", lambda x: np.asarray(1, x.dtype) / x, "1 / X.", Quant(TABLE, amplifies=True))
_unary_float("Floor", np.floor, "Round toward -inf.", Quant(TABLE, amplifies=True))
_unary_float("Ceil", np.ceil, "Round toward +inf.", Quant(TABLE, amplifies=True))
_unary_float("Round", np.round, "Round half to even (as ONNX and numpy do).", Quant(TABLE, amplifies=True))
_unary_float("Sin", np.sin, "Sine.", Quant(TABLE, amplifies=True))
_unary_float("Cos", np.cos, "Cosine.", Quant(TABLE, amplifies=True))
_unary_float("Tan", np.tan, "Tangent.", Quant(amplifies=True))
_unary_float("Asin", np.arcsin, "Arcsine; NaN outside [-1, 1].")
_unary_float("Acos", np.arccos, "Arccosine; NaN outside [-1, 1].")
_unary_float("Atan", np.arctan, "Arctangent.")
_unary_float("Sinh", np.sinh, "Hyperbolic sine.")
_unary_float("Cosh", np.cosh, "Hyperbolic cosine.")
_unary_float("Asinh", np.arcsinh, "Inverse hyperbolic sine.")
_unary_float("Acosh", np.arccosh, "Inverse hyperbolic cosine; NaN below 1.")
_unary_float("Atanh", np.arctanh, "Inverse hyperbolic tangent; +-inf at +-1, NaN outside.")


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_LIMIT = 2.5   # below: Maclaurin series; above: continued fraction for erfc
_SERIES_TERMS = 60    # z**n/n! < 1e-17 for z=6.25 well before n=60
_CF_DEPTH = 80


def erf64(x: np.ndarray) -> np.ndarray:
    """erf in float64, vectorised, to ~1e-14 (no scipy in the core).

    |x| < 2.5: erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)).
    |x| >= 2.5: erfc x = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    evaluated bottom-up to a fixed depth.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < _SERIES_LIMIT
    xs = a[small]
    z = xs * xs
    term = xs.copy()
    total = xs.copy()
    for n in range(1, _SERIES_TERMS):
        term *= -z / n
        total += term / (2 * n + 1)
    out[small] = total * _TWO_OVER_SQRT_PI
    big = ~small & ~np.isnan(a)
    xl = a[big]
    with np.errstate(all="ignore"):
        t = xl.copy()
        for k in range(_CF_DEPTH, 0, -1):
            t = xl + (k / 2.0) / t
        out[big] = 1.0 - np.exp(-xl * xl) / math.sqrt(math.pi) / t
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x)


@register("Erf", dtypes=FLOATS_ALL, quant=Quant(TABLE, amplifies=True))
def erf(input):
    """The error function (float64 internally, rounded to the input's dtype)."""
    x = np.asarray(input)
    return erf64(x).astype(x.dtype)
