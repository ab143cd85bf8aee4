"""Shared helpers of the windowed NN kernels (Conv, ConvTranspose, pools):
ONNX padding rules, output sizes and strided window views."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import UnsupportedOpError

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def as_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def per_axis(v: Sequence[int] | None, n: int, default: int, name: str) -> list[int]:
    """An ONNX per-spatial-axis list attribute, defaulted and length-checked."""
    if v is None or len(v) == 0:
        return [default] * n
    v = [int(a) for a in v]
    if len(v) != n:
        raise UnsupportedOpError(f"attribute {name}={v} has {len(v)} values for {n} spatial axes",
                                 fix="the model is malformed; re-export it")
    return v


def check_rank(op: str, x: np.ndarray, w: np.ndarray | None = None) -> None:
    """Windowed ops take (N, C, D1, ...) with at least one spatial axis (and a weight of the same rank)."""
    if x.ndim < 3 or (w is not None and w.ndim != x.ndim):
        got = f"input {x.shape}" + ("" if w is None else f" and weight {w.shape}")
        raise UnsupportedOpError(f"{op} needs an (N, C, D1, ...) input with at least one spatial axis"
                                 f"{'' if w is None else ' and a weight of the same rank'}; got {got}",
                                 fix="check the input shape given at load time (input_size_list) or the model")


def float32(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float32 else x.astype(np.float32)


def out_dtype(x: np.ndarray):
    """Float kernels compute in float32 and hand back the input's float dtype."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32


def resolve_pads(in_sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads: Sequence[int] | None, auto_pad: str,
                 ceil_mode: int = 0, pool: bool = False) -> tuple[list[int], list[int], list[int]]:
    """(pads_begin, pads_end, output sizes) per spatial axis, per the ONNX rules of Conv and the pools.

    With ceil_mode a window that would start inside the end padding is dropped
    (ONNX/onnxruntime rule), so `pads_end` may be exceeded only by the last window.
    """
    n = len(in_sizes)
    auto_pad = as_str(auto_pad)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-i // s) for i, s in zip(in_sizes, strides)]
        # onnxruntime's pools size the SAME padding by the undilated kernel, then slide the dilated
        # one (with ceil_mode) over it: with dilations the output may differ from ceil(in / stride).
        reach = kernel if pool else ek
        total = [max(0, (o - 1) * s + k - i) for o, s, k, i in zip(out, strides, reach, in_sizes)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        pb, pe = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        if not pool:
            return pb, pe, out
    elif auto_pad == "VALID":
        pb = pe = [0] * n
    elif auto_pad == "NOTSET":
        p = per_axis(pads, 2 * n, 0, "pads")
        pb, pe = p[:n], p[n:]
    else:
        raise UnsupportedOpError(f"auto_pad={auto_pad!r} is not an ONNX value",
                                 fix=f"use one of {', '.join(AUTO_PADS)}")
    out = []
    for i, b, e, k, s in zip(in_sizes, pb, pe, ek, strides):
        span = i + b + e - k
        if span < 0:
            raise UnsupportedOpError(f"kernel extent {k} is larger than the padded input {i + b + e}",
                                     fix="check kernel_shape, dilations and pads of the node")
        if ceil_mode:
            o = -(-span // s) + 1
            if (o - 1) * s >= i + b:  # the last window would start in the end padding
                o -= 1
        else:
            o = span // s + 1
        out.append(o)
    return pb, pe, out


def pad_to(x: np.ndarray, begin: Sequence[int], lengths: Sequence[int], value=0) -> np.ndarray:
    """Pad (or crop) the trailing len(begin) axes of x: `begin` before, up to `lengths` in total."""
    n = len(begin)
    lead = x.ndim - n
    widths = [(0, 0)] * lead
    crop = [slice(None)] * lead
    for b, L, s in zip(begin, lengths, x.shape[lead:]):
        end = L - s - b
        widths.append((b, max(end, 0)))
        crop.append(slice(0, L))
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, constant_values=value)
    return x[tuple(crop)]


def windows(xp: np.ndarray, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
            out: Sequence[int]) -> np.ndarray:
    """View of shape (*lead, *out, *kernel) over the trailing spatial axes of the padded `xp`."""
    n = len(kernel)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    lead = xp.ndim - n
    v = sliding_window_view(xp, ek, axis=tuple(range(lead, lead + n)))
    sl = ([slice(None)] * lead + [slice(0, (o - 1) * s + 1, s) for o, s in zip(out, strides)]
          + [slice(None, None, d) for d in dilations])
    return v[tuple(sl)]


__all__ = ["as_str", "per_axis", "check_rank", "float32", "out_dtype", "resolve_pads", "pad_to", "windows"]
