"""Tensor-making and indexing ops: Constant, ConstantOfShape, Range, NonZero, Gather,
GatherElements, Cast, CastLike, Where. Many take or return int64/bool tensors;
constant folding runs them on shape subgraphs.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, UnsupportedOpError
from .registry import ANY, DIRECT, TENSOR_TYPES, check_tensor_type, Quant, register
from ._tensor_util import FLOATS_ALL, fresh, int_list, norm_axis

TENSOR_DTYPES = TENSOR_TYPES   # the ONNX element types we run (one table, in the registry)


def _np_dtype(code: int, where: str) -> np.dtype:
    return check_tensor_type(code, "Cast output", where)


@register("Constant", dtypes=ANY, quant=Quant(data=()))   # no inputs
def constant(*, value=None, value_float=None, value_floats=None, value_int=None, value_ints=None):
    """The tensor held in whichever one `value*` attribute is set (no inputs)."""
    given = {k: v for k, v in dict(value=value, value_float=value_float, value_floats=value_floats,
                                   value_int=value_int, value_ints=value_ints).items() if v is not None}
    if len(given) != 1:
        raise UnsupportedOpError(f"Constant needs exactly one value attribute, got {sorted(given) or 'none'}",
                                 where="Constant", fix="the model is malformed; re-export it")
    (key, v), = given.items()
    if key == "value":
        return np.array(v)
    dtype = np.float32 if key.startswith("value_float") else np.int64
    return np.array(v, dtype=dtype)


@register("ConstantOfShape", dtypes=("int64",))
def constant_of_shape(input, *, value=None):
    """A tensor of the given shape filled with `value` (a one-element tensor; default float 0)."""
    dims = int_list(input, "ConstantOfShape input")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.size != 1:
        raise InputError(f"ConstantOfShape value has {fill.size} elements", where="ConstantOfShape attribute 'value'",
                         fix="value must hold exactly one element")
    return np.full(dims, fill[0], dtype=fill.dtype)


@register("Range", dtypes=FLOATS_ALL + ("int16", "int32", "int64"), quant=Quant(amplifies=True))
def range_(start, limit, delta, *, stash_type=1):
    """start, start+delta, ... up to (not including) limit; count max(ceil((limit-start)/delta), 0)."""
    s, l, d = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    if d == 0:
        raise InputError("Range delta is 0", where="Range input 'delta'", fix="delta must be non-zero")
    dtype = s.dtype
    if dtype.kind in "iu":
        n = max(-(-(int(l) - int(s)) // int(d)), 0)
        return (int(s) + np.arange(n, dtype=np.int64) * int(d)).astype(dtype)
    n = max(int(np.ceil((float(l) - float(s)) / float(d))), 0)
    return (s.astype(np.float64) + np.arange(n, dtype=np.float64) * float(d)).astype(dtype)


@register("NonZero", dtypes=ANY)
def nonzero(X):
    """Indices of the non-zero elements, int64 of shape [rank, count]."""
    x = np.asarray(X)
    if x.ndim == 0:
        # onnxruntime reads a scalar as shape [1]: one row of zeros (or none).
        return np.zeros((1, int(bool(x))), dtype=np.int64)
    return np.asarray(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


def _norm_indices(indices, dim: int, where: str) -> np.ndarray:
    idx = np.asarray(indices).astype(np.int64, copy=False)
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        raise InputError(f"indices out of range [{-dim}, {dim - 1}] (min {idx.min()}, max {idx.max()})",
                         where=where, fix="check the index tensor against the data's shape")
    return np.where(idx < 0, idx + dim, idx)


@register("Gather", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def gather(data, indices, *, axis=0):
    """Pick slices along `axis` by (possibly negative) indices: output rank r + q - 1."""
    x = np.asarray(data)
    a = norm_axis(axis, x.ndim, "Gather attribute 'axis'")
    return np.take(x, _norm_indices(indices, x.shape[a], "Gather input 'indices'"), axis=a)


@register("GatherElements", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def gather_elements(data, indices, *, axis=0):
    """out[i][j][k] = data[index][j][k] (axis 0) etc.; indices shaped like the output."""
    x = np.asarray(data)
    a = norm_axis(axis, x.ndim, "GatherElements attribute 'axis'")
    idx = _norm_indices(indices, x.shape[a], "GatherElements input 'indices'")
    if idx.ndim != x.ndim or any(i > d for k, (i, d) in enumerate(zip(idx.shape, x.shape)) if k != a):
        raise InputError(f"GatherElements indices {idx.shape} do not fit data {x.shape} off axis {a}",
                         where="GatherElements input 'indices'", fix="indices must have the data's rank and "
                         "no larger dims off the axis")
    # Off the axis, indices may be shorter than the data: take that corner of the data.
    corner = tuple(slice(None) if k == a else slice(0, n) for k, n in enumerate(idx.shape))
    return np.take_along_axis(x[corner], idx, axis=a)


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(all="ignore"):   # out-of-range float -> int is undefined in ONNX too
        if x.dtype.kind == "f" and dtype.kind in "iu":
            # Truncate toward zero in float64 first: float16 -> int must not round.
            return np.trunc(x.astype(np.float64)).astype(dtype)
        return x.astype(dtype)  # astype copies even when the dtype is unchanged


# `saturate` and `round_mode` only change float8 casts, which we do not run.
@register("Cast", dtypes=ANY, values={"to": tuple(TENSOR_DTYPES)}, quant=Quant(amplifies=True))
def cast(input, *, to, saturate=1, round_mode="up"):
    """Convert to the TensorProto type `to` (float -> int truncates, nonzero -> true)."""
    return _cast(np.asarray(input), _np_dtype(to, "Cast attribute 'to'"))


@register("CastLike", dtypes=ANY, quant=Quant(amplifies=True))
def cast_like(input, target_type, *, saturate=1, round_mode="up"):
    """Convert to the dtype of `target_type`."""
    return _cast(np.asarray(input), np.asarray(target_type).dtype)


@register("Where", dtypes=("bool",), quant=Quant(data=(1, 2)))
def where(condition, X, Y):
    """X where condition else Y (all three broadcast)."""
    x = np.asarray(X)
    return fresh(np.where(np.asarray(condition, dtype=bool), x, np.asarray(Y)).astype(x.dtype, copy=False), x)
