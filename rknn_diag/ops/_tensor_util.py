"""Helpers shared by the elementwise/shape/tensor kernels (not a kernel module)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, UnsupportedOpError

INTS = ("int8", "uint8", "int16", "int32", "int64")
FLOATS_ALL = ("float32", "float16", "float64")


def as_compute(x: np.ndarray) -> np.ndarray:
    """float16 is computed in float32 (then rounded once); float64 stays float64."""
    x = np.asarray(x)
    if x.dtype == np.float16:
        return x.astype(np.float32)
    return x


def floatop(fn):
    """Wrap a float function f(x32) so it sees float32/float64 and returns x's dtype."""

    def run(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise UnsupportedOpError(f"float kernel got a {x.dtype} input", fix="cast the input to float32")
        return fresh(np.asarray(fn(as_compute(x))).astype(x.dtype, copy=False), x)

    return run


def fresh(out, *inputs) -> np.ndarray:
    """`out` as an array that shares no memory with any input (a copy only if it would)."""
    out = np.asarray(out)
    if any(isinstance(i, np.ndarray) and np.may_share_memory(out, i) for i in inputs):
        return out.copy()
    return out


def int_list(v: Any, what: str) -> list[int]:
    """An int64 shape/axes/pads input (numpy array) or attribute (list) as a list of ints."""
    if v is None:
        return []
    arr = np.asarray(v)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{what} must be integers, got {arr.dtype}", where=what,
                         fix="export the model with int64 shape/axes tensors")
    return [int(i) for i in arr.reshape(-1)]


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise InputError(f"{what}={axis} is out of range for a rank-{rank} tensor", where=what,
                         fix=f"use an axis in [{-rank}, {rank - 1}]")
    return axis + rank if axis < 0 else axis


def norm_axes(axes: list[int], rank: int, what: str = "axes") -> list[int]:
    out = [norm_axis(a, rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise InputError(f"{what} {axes} repeats an axis", where=what, fix="list each axis once")
    return out
