"""Index-driven ops that exported detection/transformer models carry: GatherND,
ScatterND, ScatterElements, TopK, CumSum, Trilu, OneHot. Vectorised with numpy
fancy indexing (ufunc.at for the reducing scatters)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .registry import ANY, NUMERIC, register
from ._tensor_util import FLOATS_ALL, INTS, as_compute, int_list, norm_axis

_SCATTER_UFUNCS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _norm(idx: np.ndarray, dims, where: str) -> np.ndarray:
    """Indices (last axis or broadcast against `dims`) with negatives wrapped and the range checked."""
    idx = np.asarray(idx).astype(np.int64, copy=False)
    dims = np.asarray(dims, np.int64)
    if idx.size and (np.any(idx < -dims) or np.any(idx >= dims)):
        raise InputError(f"indices out of range for dims {dims.tolist()}", where=where,
                         fix="check the index tensor against the data's shape")
    return np.where(idx < 0, idx + dims, idx)


@register("GatherND", dtypes=ANY)
def gather_nd(data, indices, *, batch_dims=0):
    """Gather slices of data by index tuples along indices' last axis (after batch_dims shared dims)."""
    x = np.asarray(data)
    b = batch_dims
    k = np.asarray(indices).shape[-1]
    idx = _norm(indices, x.shape[b:b + k], "GatherND input 'indices'")
    batch = x.shape[:b]
    n = int(np.prod(batch, dtype=np.int64))
    flat_x = x.reshape((n,) + x.shape[b:])
    flat_i = idx.reshape(n, -1, k)
    rows = np.broadcast_to(np.arange(n)[:, None], flat_i.shape[:2])
    picked = flat_x[(rows, *np.moveaxis(flat_i, -1, 0))]
    return np.array(picked.reshape(batch + idx.shape[b:-1] + x.shape[b + k:]))


def _scatter(out: np.ndarray, index: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        out[index] = updates  # duplicate indices: undefined in ONNX; the last write wins here
    else:
        _SCATTER_UFUNCS[reduction].at(out, index, updates)
    return out


@register("ScatterND", dtypes=ANY, values={"reduction": _REDUCTIONS})
def scatter_nd(data, indices, updates, *, reduction="none"):
    """A copy of data with slices at index tuples replaced (or reduced: add/mul 16, max/min 18)."""
    x = np.asarray(data)
    k = np.asarray(indices).shape[-1]
    idx = _norm(indices, x.shape[:k], "ScatterND input 'indices'").reshape(-1, k)
    upd = np.asarray(updates, x.dtype).reshape((idx.shape[0],) + x.shape[k:])
    return _scatter(x.copy(), tuple(idx.T), upd, reduction)


@register("ScatterElements", dtypes=ANY, values={"reduction": _REDUCTIONS})
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    """A copy of data with data[..idx[i,j]..] = updates[i,j] along `axis` (or reduced)."""
    x = np.asarray(data)
    a = norm_axis(axis, x.ndim, "ScatterElements attribute 'axis'")
    idx = np.asarray(indices).astype(np.int64, copy=False)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[a] = _norm(idx, x.shape[a], "ScatterElements input 'indices'")
    return _scatter(x.copy(), tuple(grid), np.asarray(updates, x.dtype), reduction)


@register("TopK", dtypes=FLOATS_ALL + INTS, values={"largest": (0, 1), "sorted": (0, 1)})
def topk(X, K=None, *, axis=-1, largest=1, sorted=1, k=None, opset=13):
    """The k largest (or smallest) along `axis`, sorted, ties by lower index; values and int64 indices.
    k is an attribute before opset 10, the input K since."""
    x = np.asarray(X)
    a = norm_axis(axis, x.ndim, "TopK attribute 'axis'")
    count = k if opset < 10 else int_list(K, "TopK input 'K'")[0]
    n = x.shape[a]
    if not 0 <= count <= n:
        raise InputError(f"TopK k={count} but axis {a} has {n} elements", where="TopK input 'K'",
                         fix=f"k must be in [0, {n}]")
    if largest:
        # Stable ascending sort of the reversed axis, read backwards: descending, ties by lower index.
        rev = np.argsort(np.flip(x, a), axis=a, kind="stable")
        order = n - 1 - np.flip(rev, a)
    else:
        order = np.argsort(x, axis=a, kind="stable")
    idx = np.take(order, np.arange(count), axis=a).astype(np.int64)
    return np.take_along_axis(x, idx, axis=a), idx


@register("CumSum", dtypes=FLOATS_ALL + ("int32", "int64", "uint32", "uint64"),
          values={"exclusive": (0, 1), "reverse": (0, 1)})
def cumsum(x, axis, *, exclusive=0, reverse=0):
    """Running sum along `axis` (an input); exclusive shifts by one, reverse runs from the end."""
    arr = np.asarray(x)
    a = norm_axis(int(np.asarray(axis).reshape(-1)[0]), arr.ndim, "CumSum input 'axis'")
    y = as_compute(arr)
    if reverse:
        y = np.flip(y, a)
    out = np.cumsum(y, axis=a, dtype=y.dtype)
    if exclusive:
        out = np.concatenate([np.zeros_like(np.take(out, [0], axis=a)), np.delete(out, -1, axis=a)], axis=a)
    if reverse:
        out = np.flip(out, a)
    return np.array(out, dtype=arr.dtype)


@register("Trilu", dtypes=ANY, values={"upper": (0, 1)})
def trilu(input, k=None, *, upper=1):
    """Keep the upper (or lower) triangle of the last two axes from diagonal k; zero the rest."""
    x = np.asarray(input)
    diag = 0 if k is None else int(np.asarray(k).reshape(()))
    return np.triu(x, diag) if upper else np.tril(x, diag)


@register("OneHot", dtypes=NUMERIC)
def one_hot(indices, depth, values, *, axis=-1):
    """values[1] where the new `axis` equals the (wrapped) index, values[0] elsewhere."""
    idx = np.trunc(np.asarray(indices, np.float64)).astype(np.int64)
    d = int(np.asarray(depth).reshape(-1)[0])
    off, on = np.asarray(values).reshape(-1)[:2]
    idx = np.where(idx < 0, idx + d, idx)  # out-of-range indices match no position: all off
    a = norm_axis(axis, idx.ndim + 1, "OneHot attribute 'axis'")
    positions = np.arange(d).reshape([d if i == a else 1 for i in range(idx.ndim + 1)])
    return np.where(np.expand_dims(idx, a) == positions, on, off).astype(np.asarray(values).dtype)
