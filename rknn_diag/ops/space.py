"""DepthToSpace and SpaceToDepth (pure data movement, any dtype)."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str
from .registry import ANY, DIRECT, Quant, register


def _own(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A fresh array: with blocksize 1 the reshapes could hand back a view of the input."""
    return out.copy() if np.may_share_memory(out, x) else out


def _check(op: str, x, blocksize: int, channels: bool) -> None:
    if x.ndim != 4 or blocksize < 1:
        raise UnsupportedOpError(f"{op} takes a 4-D NCHW input and blocksize >= 1, got {x.shape}, "
                                 f"blocksize={blocksize}", fix="the model is malformed; re-export it")
    if channels and x.shape[1] % (blocksize * blocksize):
        raise UnsupportedOpError(f"{op}: {x.shape[1]} channels are not divisible by blocksize^2",
                                 fix="the model is malformed; re-export it")
    if not channels and (x.shape[2] % blocksize or x.shape[3] % blocksize):
        raise UnsupportedOpError(f"{op}: spatial size {x.shape[2:]} is not divisible by {blocksize}",
                                 fix="the model is malformed; re-export it")


@register("DepthToSpace", dtypes=ANY, values={"mode": ("DCR", "CRD")}, quant=Quant(DIRECT, shares_scale=True))
def depth_to_space(input, *, blocksize, mode="DCR"):
    """Move channel blocks to space: DCR (depth-column-row) or CRD (column-row-depth) order."""
    _check("DepthToSpace", input, blocksize, True)
    N, C, H, W = input.shape
    b = blocksize
    if as_str(mode) == "DCR":
        t = input.reshape(N, b, b, C // (b * b), H, W).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = input.reshape(N, C // (b * b), b, b, H, W).transpose(0, 1, 4, 2, 5, 3)
    return _own(t.reshape(N, C // (b * b), H * b, W * b), input)


@register("SpaceToDepth", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def space_to_depth(input, *, blocksize):
    """Move spatial blocks to channels (the inverse of DepthToSpace DCR)."""
    _check("SpaceToDepth", input, blocksize, False)
    N, C, H, W = input.shape
    b = blocksize
    t = input.reshape(N, C, H // b, b, W // b, b).transpose(0, 3, 5, 1, 2, 4)
    return _own(t.reshape(N, C * b * b, H // b, W // b), input)
