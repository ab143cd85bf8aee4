"""Conv and ConvTranspose (1-D/2-D/3-D, groups, dilations, every auto_pad)."""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, check_rank, float32, out_dtype, pad_to, per_axis, resolve_pads, windows
from .registry import KERNEL, Quant, register

# Largest im2col block (elements) built at once; bigger convolutions go in blocks of output rows.
IM2COL_ELEMENTS = 1 << 24


def _check_groups(c_in: int, group: int, w: np.ndarray) -> None:
    if group < 1 or c_in % group or w.shape[1] * group != c_in or w.shape[0] % group:
        raise UnsupportedOpError(
            f"Conv: input has {c_in} channels, weight {tuple(w.shape)} (out, in/group, ...) with group={group}",
            fix="the model is malformed (input channels must be weight.shape[1] x group and weight.shape[0] "
                "a multiple of group); re-export it")


@register("Conv", quant=Quant(KERNEL, weights=True))
def conv(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
         strides=None):
    """N-D grouped convolution: im2col + batched matmul, with depthwise and pointwise fast paths."""
    check_rank("Conv", X, W)
    x, w = float32(X), float32(W)
    n = x.ndim - 2
    N, C = x.shape[:2]
    M = w.shape[0]
    kernel = list(w.shape[2:])
    if kernel_shape is not None and list(kernel_shape) != kernel:
        raise UnsupportedOpError(f"Conv kernel_shape={list(kernel_shape)} disagrees with weight shape {kernel}",
                                 fix="the model is malformed; re-export it")
    _check_groups(C, group, w)
    strides = per_axis(strides, n, 1, "strides")
    dilations = per_axis(dilations, n, 1, "dilations")
    pb, _, out = resolve_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    xp = pad_to(x, pb, [(o - 1) * s + e for o, s, e in zip(out, strides, ek)])
    G, Cg = group, C // group
    if Cg == 1 and M == G:
        y = _depthwise(xp, w, kernel, strides, dilations, out)
    elif G == 1 and all(k == 1 for k in kernel) and all(s == 1 for s in strides):
        y = np.matmul(w.reshape(M, C), xp.reshape(N, C, -1)).reshape(N, M, *out)   # pointwise: no im2col
    else:
        y = _im2col(xp, w, kernel, strides, dilations, out, G)
    if B is not None:
        y = y + float32(B).reshape(M, *([1] * n))
    return y.astype(out_dtype(X), copy=False)


def _im2col(xp, w, kernel, strides, dilations, out, G):
    N, C, M, n = xp.shape[0], xp.shape[1], w.shape[0], len(kernel)
    Cg, K = C // G, int(np.prod(kernel))
    win = windows(xp, kernel, strides, dilations, out)            # (N, C, *out, *kernel) view
    wg = w.reshape(G, M // G, Cg * K)                              # (G, M/G, Cg*K)
    # The im2col matrix is materialised a block of output rows at a time to bound memory.
    step = max(1, IM2COL_ELEMENTS // max(N * C * K * int(np.prod(out[1:])), 1))
    blocks = [_im2col_rows(win[:, :, r:r + step], wg, G, Cg, K, n) for r in range(0, out[0], step)]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=2)


def _im2col_rows(win: np.ndarray, wg: np.ndarray, G: int, Cg: int, K: int, n: int) -> np.ndarray:
    """Output (N, M, *out) of a window view (N, C, *out, *kernel): one matmul per group for all pixels.

    Columns are laid out (Cg*K, P) — each output pixel a column — so the copy runs along
    contiguous output rows and the product comes out in NCHW order (about 2x faster than
    pixel-rows, which copy K-element runs and need a transpose after)."""
    N, out = win.shape[0], win.shape[2:2 + n]
    win = win.reshape(N, G, Cg, *win.shape[2:])
    perm = (0, 1, 2, *range(3 + n, 3 + 2 * n), *range(3, 3 + n))
    cols = win.transpose(perm).reshape(N, G, Cg * K, int(np.prod(out)))   # each output pixel a column
    y = np.matmul(wg, cols)                                                 # (N, G, M/G, P)
    return y.reshape(N, G * wg.shape[1], *out)


def _depthwise(xp, w, kernel, strides, dilations, out):
    """One filter per channel: a multiply-add per kernel tap over strided views of the input
    (im2col would copy every window to then multiply it by a single column)."""
    n = len(kernel)
    y = tmp = None
    for tap in itertools.product(*[range(k) for k in kernel]):     # loop over kernel taps only
        view = xp[(slice(None), slice(None), *[slice(t * d, t * d + (o - 1) * s + 1, s)
                                                for t, d, o, s in zip(tap, dilations, out, strides)])]
        wt = w[(slice(None), 0, *tap)].reshape(-1, *([1] * n))
        if y is None:
            y, tmp = view * wt, np.empty(view.shape, np.float32)
        else:
            np.multiply(view, wt, out=tmp)
            y += tmp
    return y


def _transpose_pads(in_sizes, kernel, strides, dilations, pads, auto_pad, output_padding, output_shape):
    """(pads_begin, pads_end, output sizes) of ConvTranspose, as onnxruntime computes them."""
    n = len(in_sizes)
    auto_pad = as_str(auto_pad)
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [s * (i - 1) + op + e for s, i, op, e in zip(strides, in_sizes, output_padding, ek)]
    if output_shape is not None and len(output_shape):
        out = [int(v) for v in output_shape][-n:]
        total = [f - o for f, o in zip(full, out)]  # negative: zeros appended (onnxruntime accepts it)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # in * stride, except that onnxruntime never pads negatively here: a full output smaller
        # than in * stride is returned whole.
        total = [max(0, f - i * s) for f, i, s in zip(full, in_sizes, strides)]
        out = [f - t for f, t in zip(full, total)]
    else:
        p = [0] * (2 * n) if auto_pad == "VALID" else per_axis(pads, 2 * n, 0, "pads")
        pb, pe = p[:n], p[n:]
        return pb, pe, [f - b - e for f, b, e in zip(full, pb, pe)]
    # SAME_UPPER puts the odd pixel at the end; SAME_LOWER, and onnxruntime for NOTSET with
    # output_shape, at the start.
    if auto_pad == "SAME_UPPER":
        pb = [t // 2 for t in total]
    else:
        pb = [t - t // 2 for t in total]
    return pb, [t - b for t, b in zip(total, pb)], out


@register("ConvTranspose", quant=Quant(weights=True))
def conv_transpose(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None):
    """N-D grouped transposed convolution: one matmul, then a scatter-add per kernel tap."""
    check_rank("ConvTranspose", X, W)
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
    # The full (unpadded) result starts at `off` in the buffer, so negative pads stay in bounds.
    off = [max(0, -b) for b in pb]
    size = [f + max(0, b + o - f) for f, b, o in
            zip([a + s * (i - 1) + e for a, s, i, e in zip(off, strides, in_sizes, ek)], pb, out)]
    buf = np.zeros((N, G, Mg, *size), np.float32)
    for tap in itertools.product(*[range(k) for k in kernel]):  # loop over kernel taps only
        dst = tuple(slice(a + t * d, a + t * d + s * (i - 1) + 1, s)
                    for a, t, d, s, i in zip(off, tap, dilations, strides, in_sizes))
        buf[(Ellipsis, *dst)] += cols[(Ellipsis, *[slice(None)] * n, *tap)]
    y = buf[(Ellipsis, *[slice(a + b, a + b + o) for a, b, o in zip(off, pb, out)])].reshape(N, G * Mg, *out)
    if B is not None:
        y = y + float32(B).reshape(G * Mg, *([1] * n))
    return np.ascontiguousarray(y).astype(out_dtype(X), copy=False)
