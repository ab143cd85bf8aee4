"""Comparisons and boolean logic: Equal, Greater, Less, GreaterOrEqual, LessOrEqual,
Not, And, Or, Xor, IsNaN, IsInf. Outputs are bool; inputs broadcast like numpy."""

from __future__ import annotations

import numpy as np

from .registry import ANY, NUMERIC, register

BOOL = ("bool",)


def _cmp(fn, a, b) -> np.ndarray:
    return np.asarray(fn(np.asarray(a), np.asarray(b)), dtype=bool)


@register("Equal", dtypes=ANY)
def equal(A, B):
    """A == B."""
    return _cmp(np.equal, A, B)


@register("Greater", dtypes=NUMERIC)
def greater(A, B):
    """A > B."""
    return _cmp(np.greater, A, B)


@register("Less", dtypes=NUMERIC)
def less(A, B):
    """A < B."""
    return _cmp(np.less, A, B)


@register("GreaterOrEqual", dtypes=NUMERIC)
def greater_or_equal(A, B):
    """A >= B."""
    return _cmp(np.greater_equal, A, B)


@register("LessOrEqual", dtypes=NUMERIC)
def less_or_equal(A, B):
    """A <= B."""
    return _cmp(np.less_equal, A, B)


@register("Not", dtypes=BOOL)
def not_(X):
    """Logical not."""
    return np.logical_not(X)


@register("And", dtypes=BOOL)
def and_(A, B):
    """Logical and."""
    return _cmp(np.logical_and, A, B)


@register("Or", dtypes=BOOL)
def or_(A, B):
    """Logical or."""
    return _cmp(np.logical_or, A, B)


@register("Xor", dtypes=BOOL)
def xor(A, B):
    """Logical xor."""
    return _cmp(np.logical_xor, A, B)


@register("IsNaN", dtypes=("float32", "float16", "float64"))
def is_nan(X):
    """True where X is NaN."""
    return np.isnan(X)


@register("IsInf", dtypes=("float32", "float16", "float64"),
          values={"detect_negative": (0, 1), "detect_positive": (0, 1)})
def is_inf(X, *, detect_negative=1, detect_positive=1):
    """True where X is +inf (if detect_positive) or -inf (if detect_negative)."""
    x = np.asarray(X)
    return (np.isposinf(x) & bool(detect_positive)) | (np.isneginf(x) & bool(detect_negative))
