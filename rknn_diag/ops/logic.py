"""Comparisons and boolean logic: Equal, Greater, Less, GreaterOrEqual, LessOrEqual,
Not, And, Or, Xor, IsNaN, IsInf. Outputs are bool; inputs broadcast like numpy."""

from __future__ import annotations

import numpy as np

from .registry import ALL_INPUTS, ANY, KEEP_FLOAT16, NUMERIC, Quant, register

BOOL = ("bool",)


def _cmp(fn, a, b) -> np.ndarray:
    return np.asarray(fn(np.asarray(a), np.asarray(b)), dtype=bool)


@register("Equal", dtypes=ANY, quant=Quant(data=ALL_INPUTS))
def equal(A, B):
    """A == B."""
    return _cmp(np.equal, A, B)


@register("Greater", dtypes=NUMERIC, quant=Quant(data=ALL_INPUTS))
def greater(A, B):
    """A > B."""
    return _cmp(np.greater, A, B)


@register("Less", dtypes=NUMERIC, quant=Quant(data=ALL_INPUTS))
def less(A, B):
    """A < B."""
    return _cmp(np.less, A, B)


@register("GreaterOrEqual", dtypes=NUMERIC, quant=Quant(data=ALL_INPUTS))
def greater_or_equal(A, B):
    """A >= B."""
    return _cmp(np.greater_equal, A, B)


@register("LessOrEqual", dtypes=NUMERIC, quant=Quant(data=ALL_INPUTS))
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


@register("IsNaN", dtypes=("float32", "float16", "float64"), quant=Quant(KEEP_FLOAT16))
def is_nan(X):
    """True where X is NaN."""
    return np.isnan(X)


@register("IsInf", dtypes=("float32", "float16", "float64"),
          values={"detect_negative": (0, 1), "detect_positive": (0, 1)}, quant=Quant(KEEP_FLOAT16))
def is_inf(X, *, detect_negative=1, detect_positive=1):
    """True where X is +inf (if detect_positive) or -inf (if detect_negative)."""
    x = np.asarray(X)
    return (np.isposinf(x) & bool(detect_positive)) | (np.isneginf(x) & bool(detect_negative))


# Bitwise ops: integer tensors only (bool has And/Or/Xor/Not).
INTEGER = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


@register("BitwiseAnd", dtypes=INTEGER)
def bitwise_and(A, B):
    """A & B (broadcast)."""
    return np.bitwise_and(A, B)


@register("BitwiseOr", dtypes=INTEGER)
def bitwise_or(A, B):
    """A | B (broadcast)."""
    return np.bitwise_or(A, B)


@register("BitwiseXor", dtypes=INTEGER)
def bitwise_xor(A, B):
    """A ^ B (broadcast)."""
    return np.bitwise_xor(A, B)


@register("BitwiseNot", dtypes=INTEGER)
def bitwise_not(X):
    """~X."""
    return np.invert(X)


@register("BitShift", dtypes=INTEGER, values={"direction": ("LEFT", "RIGHT")})
def bit_shift(X, Y, *, direction):
    """X << Y or X >> Y. Shifts by a negative amount or past the width give 0 (right shift of a
    negative signed value: -1); signed right shifts are arithmetic, signed left shifts wrap
    (the bits of the unsigned shift, opset 28)."""
    x, y = np.broadcast_arrays(np.asarray(X), np.asarray(Y))
    bits = x.dtype.itemsize * 8
    out_of_range = (y < 0) | (y >= bits)
    amount = np.where(out_of_range, 0, y).astype(np.uint64)
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    if direction in ("LEFT", b"LEFT"):
        shifted = np.left_shift(x.view(unsigned).astype(np.uint64), amount)
        out = (shifted & np.uint64((1 << bits) - 1)).astype(unsigned).view(x.dtype)
        return np.where(out_of_range, x.dtype.type(0), out)
    if x.dtype.kind == "i":
        out = np.right_shift(x.astype(np.int64), amount.astype(np.int64)).astype(x.dtype)
        return np.where(out_of_range, np.where(x < 0, x.dtype.type(-1), x.dtype.type(0)), out)
    out = np.right_shift(x.astype(np.uint64), amount).astype(x.dtype)
    return np.where(out_of_range, x.dtype.type(0), out)
