"""Conv and ConvTranspose (1-D/2-D/3-D, groups, dilations, every auto_pad)."""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, float32, out_dtype, pad_to, per_axis, resolve_pads, windows
from .registry import register


def _check_groups(op: str, c_in: int, group: int, w_dim: int, w_axis_c: int) -> None:
    if group < 1 or c_in % group or w_dim * (group if w_axis_c == 1 else 1) != c_in:
        raise UnsupportedOpError(
            f"{op}: input has {c_in} channels, weight expects {w_dim} per group with group={group}",
            fix="the model is malformed (channels must equal weight channels x group); re-export it")


@register("Conv")
def conv(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
         strides=None):
    """N-D grouped convolution by im2col + batched matmul."""
    x, w = float32(X), float32(W)
    n = x.ndim - 2
    N, C = x.shape[:2]
    M = w.shape[0]
    kernel = list(w.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise UnsupportedOpError(f"Conv kernel_shape={list(kernel_shape)} disagrees with weight shape {kernel}",
                                 fix="the model is malformed; re-export it")
    _check_groups("Conv", C, group, w.shape[1], 1)
    strides = per_axis(strides, n, 1, "strides")
    dilations = per_axis(dilations, n, 1, "dilations")
    pb, _, out = resolve_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    xp = pad_to(x, pb, [(o - 1) * s + e for o, s, e in zip(out, strides, ek)])
    win = windows(xp, kernel, strides, dilations, out)            # (N, C, *out, *kernel)
    G, Cg = group, C // group
    win = win.reshape(N, G, Cg, *out, *kernel)
    # -> (N, G, P, Cg*K): each output pixel a row, so one matmul per group does all pixels.
    perm = (0, 1, *range(3, 3 + n), 2, *range(3 + n, 3 + 2 * n))
    P, K = int(np.prod(out)), int(np.prod(kernel))
    cols = win.transpose(perm).reshape(N, G, P, Cg * K)
    wg = w.reshape(G, M // G, Cg * K).transpose(0, 2, 1)          # (G, Cg*K, M/G)
    y = np.matmul(cols, wg)                                        # (N, G, P, M/G)
    y = y.transpose(0, 1, 3, 2).reshape(N, M, *out)
    if B is not None:
        y = y + float32(B).reshape(M, *([1] * n))
    return y.astype(out_dtype(X), copy=False)


def _transpose_pads(in_sizes, kernel, strides, dilations, pads, auto_pad, output_padding, output_shape):
    """(pads_begin, pads_end, output sizes) of ConvTranspose, as onnxruntime computes them."""
    n = len(in_sizes)
    auto_pad = as_str(auto_pad)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [s * (i - 1) + op + e for s, i, op, e in zip(strides, in_sizes, output_padding, ek)]
    if output_shape is not None and len(output_shape):
        out = [int(v) for v in output_shape][-n:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [i * s for i, s in zip(in_sizes, strides)]
    else:
        p = [0] * (2 * n) if auto_pad == "VALID" else per_axis(pads, 2 * n, 0, "pads")
        pb, pe = p[:n], p[n:]
        return pb, pe, [f - b - e for f, b, e in zip(full, pb, pe)]
    total = [f - o for f, o in zip(full, out)]
    if any(t < 0 for t in total):
        raise UnsupportedOpError(f"ConvTranspose output_shape {out} is larger than the full output {full}",
                                 fix="the model is malformed; re-export it")
    # SAME_UPPER puts the odd pixel at the end; SAME_LOWER, and onnxruntime for NOTSET with
    # output_shape, at the start.
    if auto_pad == "SAME_UPPER":
        pb = [t // 2 for t in total]
    else:
        pb = [t - t // 2 for t in total]
    return pb, [t - b for t, b in zip(total, pb)], out


@register("ConvTranspose")
def conv_transpose(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None):
    """N-D grouped transposed convolution: one matmul, then a scatter-add per kernel tap."""
    x, w = float32(X), float32(W)
    n = x.ndim - 2
    N, C = x.shape[:2]
    G = group
    Mg = w.shape[1]
    kernel = list(w.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise UnsupportedOpError(f"ConvTranspose kernel_shape={list(kernel_shape)} disagrees with weight "
                                 f"shape {kernel}", fix="the model is malformed; re-export it")
    if G < 1 or C % G or w.shape[0] != C:
        raise UnsupportedOpError(f"ConvTranspose: input has {C} channels, weight {w.shape[0]}, group={G}",
                                 fix="the model is malformed; re-export it")
    strides = per_axis(strides, n, 1, "strides")
    dilations = per_axis(dilations, n, 1, "dilations")
    output_padding = per_axis(output_padding, n, 0, "output_padding")
    in_sizes = list(x.shape[2:])
    pb, _, out = _transpose_pads(in_sizes, kernel, strides, dilations, pads, auto_pad, output_padding,
                                 output_shape)
    Cg = C // G
    # cols[n, g, m, *in, *k] = sum_c x[n, g, c, *in] * w[g, c, m, *k]
    xg = x.reshape(N, G, Cg, -1).transpose(0, 1, 3, 2)            # (N, G, I, Cg)
    wg = w.reshape(G, Cg, Mg * int(np.prod(kernel)))              # (G, Cg, Mg*K)
    cols = np.matmul(xg, wg).reshape(N, G, *in_sizes, Mg, *kernel)
    cols = np.moveaxis(cols, 2 + n, 2)                            # (N, G, Mg, *in, *k)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    size = [max(s * (i - 1) + e, b + o) for s, i, e, b, o in zip(strides, in_sizes, ek, pb, out)]
    buf = np.zeros((N, G, Mg, *size), np.float32)
    for tap in itertools.product(*[range(k) for k in kernel]):  # loop over kernel taps only
        dst = tuple(slice(t * d, t * d + s * (i - 1) + 1, s)
                    for t, d, s, i in zip(tap, dilations, strides, in_sizes))
        buf[(Ellipsis, *dst)] += cols[(Ellipsis, *[slice(None)] * n, *tap)]
    y = buf[(Ellipsis, *[slice(b, b + o) for b, o in zip(pb, out)])].reshape(N, G * Mg, *out)
    if B is not None:
        y = y + float32(B).reshape(G * Mg, *([1] * n))
    return np.ascontiguousarray(y).astype(out_dtype(X), copy=False)
