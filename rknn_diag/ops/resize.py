"""Resize (opset 10-19) and the deprecated Upsample.

Every resize mode is separable, so each resized axis is done on its own: nearest
by a gather, linear and cubic by a (out x in) weight matrix applied with
tensordot. Coordinates are computed in float32, as onnxruntime does, so that
rounding ties in nearest mode fall the same way.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, float32
from .registry import DIRECT, FLOAT, Quant, register

COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
               "tf_half_pixel_for_nn", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
F = np.float32
# Integer tensors only in nearest mode (a gather); linear and cubic refuse them.
NN_DTYPES = FLOAT + ("int8", "uint8", "int32", "int64")


def _original_coords(n_out: int, n_in: int, scale, mode: str, start, end, length=None) -> np.ndarray:
    """x_original for each output index along one axis (float32).

    `length` is ONNX's length_resized: n_in * scale when scales are given (not rounded to the
    integer output size), n_out when sizes are. align_corners and tf_crop_and_resize divide by
    it in align_corners mode, so a downsampling by 0.6 of 4 pixels spans 2.4, not 2 (the ONNX
    spec and its reference evaluator; onnxruntime and torch use the integer size 2)."""
    length = F(n_out) if length is None else F(length)
    x = np.arange(n_out, dtype=F)
    scale = F(scale)
    if mode == "half_pixel":
        return (x + F(0.5)) / scale - F(0.5)
    if mode == "half_pixel_symmetric":
        adjustment = F(n_out) / (scale * F(n_in))
        offset = F(n_in) / F(2) * (F(1) - adjustment)
        # onnxruntime evaluates this sum in double precision, then rounds to float.
        return (np.float64(offset) + (x.astype(np.float64) + 0.5) / np.float64(scale) - 0.5).astype(F)
    if mode == "pytorch_half_pixel":
        return (x + F(0.5)) / scale - F(0.5) if n_out > 1 else np.zeros(n_out, F)
    if mode == "align_corners":
        return x * F(n_in - 1) / (length - F(1)) if length != 1 else np.zeros(n_out, F)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + F(0.5)) / scale
    if mode == "tf_crop_and_resize":
        start, end = F(start), F(end)
        if n_out > 1:
            return start * F(n_in - 1) + x * (end - start) * F(n_in - 1) / F(n_out - 1)
        return np.full(n_out, 0.5 * np.float64(start + end) * (n_in - 1), F)
    raise UnsupportedOpError(f"coordinate_transformation_mode={mode!r} is not an ONNX value",
                             fix=f"use one of {', '.join(COORD_MODES)}")


def _nearest_index(x: np.ndarray, n_in: int, mode: str, downsampling: bool) -> np.ndarray:
    fl = np.floor(x)
    frac = x - fl
    # onnxruntime (>= 1.2x) counts a fraction within 1e-6 of 0.5 as a tie, so that e.g. 1 / (2/7)
    # = 3.4999998 in float32 rounds as the 3.5 it stands for.
    tie = np.abs(frac - F(0.5)) <= F(1e-6)
    if mode == "round_prefer_floor":
        i = np.where(tie, fl, np.where(frac < F(0.5), fl, fl + 1))
    elif mode == "round_prefer_ceil":
        i = np.where(tie, fl + 1, np.where(frac < F(0.5), fl, fl + 1))
    elif mode == "floor":
        i = fl
    elif mode == "ceil":
        i = np.ceil(x)
    elif mode == "legacy":  # opset 10 Resize and Upsample: ceil when shrinking, truncate when growing
        i = np.ceil(x) if downsampling else np.trunc(x)
    else:
        raise UnsupportedOpError(f"nearest_mode={mode!r} is not an ONNX value",
                                 fix=f"use one of {', '.join(NEAREST_MODES)}")
    return np.clip(i, 0, n_in - 1).astype(np.int64)


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    d = np.abs(d)
    a = F(a)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, F(0))).astype(F)


def _weights(x: np.ndarray, n_in: int, scale: float, mode: str, a: float, exclude_outside: int,
             antialias: int) -> np.ndarray:
    """(n_out, n_in) interpolation matrix of one axis for linear or cubic mode."""
    n_out = x.shape[0]
    rows = np.arange(n_out)
    m = np.zeros((n_out, n_in), F)
    if antialias:
        # The filter is stretched by 1/scale when shrinking; out-of-range taps repeat the edge
        # pixel (or are dropped with exclude_outside); the coefficients are normalised.
        half = 1.0 if mode == "linear" else 2.0
        sc = F(min(float(scale), 1.0))
        start = int(np.floor(-half / sc)) + 1
        x0 = np.floor(x)
        ratio = x - x0
        x0 = x0.astype(np.int64)
        taps = []
        for k in range(start, 2 - start):  # loop over filter taps
            d = (F(k) - ratio) * sc
            w = np.clip(F(1) - np.abs(d), F(0), F(1)) if mode == "linear" else _cubic(d, a)
            taps.append((x0 + k, w))
        total = sum(w for _, w in taps)
        for j, w in taps:
            w = w / total
            if exclude_outside:
                w = np.where((j >= 0) & (j < n_in), w, F(0))
            np.add.at(m, (rows, np.clip(j, 0, n_in - 1)), w)
        if exclude_outside:
            s = m.sum(1, keepdims=True)
            m = m / np.where(s == 0, F(1), s)
        return m
    if mode == "linear":
        xc = np.clip(x, F(0), F(n_in - 1))
        x0 = np.floor(xc).astype(np.int64)
        x1 = np.minimum(x0 + 1, n_in - 1)
        w1 = xc - x0.astype(F)
        np.add.at(m, (rows, x0), F(1) - w1)
        np.add.at(m, (rows, x1), w1)
        return m
    x0 = np.floor(x)
    t = x - x0
    x0 = x0.astype(np.int64)
    for k in (-1, 0, 1, 2):  # the 4 cubic taps
        j = x0 + k
        w = _cubic(t - F(k), a)
        inside = (j >= 0) & (j < n_in)
        if exclude_outside:
            w = np.where(inside, w, F(0))
        np.add.at(m, (rows, np.clip(j, 0, n_in - 1)), w)
    if exclude_outside:
        s = m.sum(1, keepdims=True)
        m = m / np.where(s == 0, F(1), s)
    return m


def _resize(X, out_shape, scales, roi_lo, roi_hi, *, mode, coord_mode, nearest_mode, cubic_coeff_a,
            exclude_outside, extrapolation_value, antialias, lengths=None):
    if tuple(int(o) for o in out_shape) == X.shape:
        return X.copy()  # onnxruntime copies the input whenever the shape does not change, whatever the scales
    floating = np.issubdtype(X.dtype, np.floating)
    if not floating and mode != "nearest":
        # onnxruntime interpolates integer tensors in its own fixed point; we do not reproduce it.
        raise UnsupportedOpError(f"Resize mode={mode!r} on a {X.dtype} tensor is not supported",
                                 fix="resize the float tensor (before quantization), or use mode='nearest'")
    y = X if mode == "nearest" else float32(X)
    outside = None
    for ax in range(X.ndim):
        n_in, n_out, s = X.shape[ax], int(out_shape[ax]), scales[ax]
        if n_in == n_out and (s == 1 or (antialias and mode != "nearest")):
            # Untouched, even by a tf_crop_and_resize roi: onnxruntime (the reference we are
            # compared with) copies every axis whose scale is 1, and with antialias every axis
            # whose size does not change.
            continue
        x = _original_coords(n_out, n_in, s, coord_mode, roi_lo[ax], roi_hi[ax],
                             None if lengths is None else lengths[ax])
        if coord_mode == "tf_crop_and_resize":
            o = (x < 0) | (x > n_in - 1)
            o = o.reshape([-1 if i == ax else 1 for i in range(X.ndim)])
            outside = o if outside is None else (outside | o)
        if mode == "nearest":
            y = np.take(y, _nearest_index(x, n_in, nearest_mode, s < 1), axis=ax)
        else:
            m = _weights(x, n_in, s, mode, cubic_coeff_a, exclude_outside, antialias)
            y = np.moveaxis(np.tensordot(m, np.moveaxis(y, ax, 0), axes=(1, 0)), 0, ax)
    if outside is not None:
        y = np.where(outside, np.asarray(extrapolation_value, dtype=y.dtype if floating else F), y)
    return np.ascontiguousarray(y).astype(X.dtype, copy=False)


def _full(values, axes, rank, fill, what):
    """Per-axis values of length `rank` from values given for `axes` (all axes if None)."""
    values = [v for v in np.asarray(values).reshape(-1).tolist()]
    axes = list(range(rank)) if axes is None or len(axes) == 0 else [a % rank for a in axes]
    if len(values) != len(axes):
        raise UnsupportedOpError(f"Resize {what} has {len(values)} values for {len(axes)} axes",
                                 fix="give one value per axis (per listed axis when 'axes' is set)")
    out = [fill] * rank
    for a, v in zip(axes, values):
        out[a] = v
    return out, axes


def _nearest(attrs: dict) -> bool:
    """Quantized builds: nearest-neighbour resizing only picks input values, so it runs on the
    integers as they are — except tf_crop_and_resize, which writes extrapolation_value (a float)
    outside the box."""
    def attr(k, d):
        v = attrs.get(k, d)
        return v.decode() if isinstance(v, bytes) else str(v)
    return (attr("mode", "nearest") == "nearest"
            and attr("coordinate_transformation_mode", "half_pixel") != "tf_crop_and_resize")


@register("Resize", dtypes=NN_DTYPES, params=("roi", "scales", "sizes"),
          values={"mode": ("nearest", "linear", "cubic"), "coordinate_transformation_mode": COORD_MODES,
                  "nearest_mode": NEAREST_MODES,
                  "keep_aspect_ratio_policy": ("stretch", "not_larger", "not_smaller")},
          quant=Quant(DIRECT, shares_scale=True, direct_if=_nearest))
def resize(X, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
           nearest_mode="round_prefer_floor", opset=19):
    """Resize by scales or sizes, any coordinate transformation, nearest/linear/cubic, antialias."""
    mode, coord, nm = as_str(mode), as_str(coordinate_transformation_mode), as_str(nearest_mode)
    policy = as_str(keep_aspect_ratio_policy)
    if opset < 11:
        # Opset 10 takes (X, scales) and has asymmetric coordinates with legacy nearest rounding.
        scales, roi, coord, nm = roi, None, "asymmetric", "legacy"
    rank = X.ndim
    lo, hi = [0.0] * rank, [1.0] * rank
    if coord == "tf_crop_and_resize":
        if roi is None or np.asarray(roi).size == 0:
            raise UnsupportedOpError("Resize tf_crop_and_resize needs the roi input",
                                     fix="give roi = [starts..., ends...] (normalised)")
        r = np.asarray(roi, F).reshape(-1)
        half = r.size // 2
        lo, _ = _full(r[:half], axes, rank, 0.0, "roi")
        hi, _ = _full(r[half:], axes, rank, 1.0, "roi")
    if scales is not None and np.asarray(scales).size > 0:
        sc, _ = _full(np.asarray(scales, F), axes, rank, 1.0, "scales")
        sc = [F(v) for v in sc]
        if min(sc) <= 0:
            raise UnsupportedOpError(f"Resize scales {sc} must be positive", fix="fix the scales input")
        out = [int(np.floor(F(n) * s)) for n, s in zip(X.shape, sc)]
        lengths = [F(n) * s for n, s in zip(X.shape, sc)]
    elif sizes is not None and np.asarray(sizes).size > 0:
        sz, ax_list = _full(np.asarray(sizes, np.int64), axes, rank, None, "sizes")
        sz = [X.shape[i] if v is None else int(v) for i, v in enumerate(sz)]
        if policy == "stretch":
            out = sz
            sc = [F(o) / F(n) for o, n in zip(out, X.shape)]
        else:
            ratios = [F(sz[a]) / F(X.shape[a]) for a in ax_list]
            common = min(ratios) if policy == "not_larger" else max(ratios)
            out, sc = list(X.shape), [F(1)] * rank
            for a in ax_list:
                out[a] = int(np.floor(F(X.shape[a]) * common + F(0.5)))
                sc[a] = F(common)
        lengths = None
    else:
        raise UnsupportedOpError("Resize needs scales or sizes", fix="give exactly one of scales, sizes")
    return _resize(X, out, sc, lo, hi, mode=mode, coord_mode=coord, nearest_mode=nm,
                   cubic_coeff_a=cubic_coeff_a, exclude_outside=exclude_outside,
                   extrapolation_value=extrapolation_value, antialias=antialias, lengths=lengths)


@register("Upsample", dtypes=NN_DTYPES, values={"mode": ("nearest", "linear")}, params=("scales_",),
          quant=Quant(DIRECT, shares_scale=True, direct_if=_nearest))
def upsample(X, scales_=None, /, *, mode="nearest", scales=None):
    """Deprecated Resize: asymmetric coordinates; scales an attribute (opset 7-8) or input (opset 9)."""
    sc = scales_ if scales_ is not None else scales  # input (opset 9) or attribute (opset 7-8)
    if sc is None:
        raise UnsupportedOpError("Upsample needs scales", fix="the model is malformed; re-export it")
    sc = [F(v) for v in np.asarray(sc, F).reshape(-1)]
    rank = X.ndim
    if len(sc) != rank:
        raise UnsupportedOpError(f"Upsample has {len(sc)} scales for a rank-{rank} input",
                                 fix="give one scale per input axis")
    out = [int(np.floor(F(n) * s)) for n, s in zip(X.shape, sc)]
    return _resize(X, out, sc, [0.0] * rank, [1.0] * rank, mode=as_str(mode), coord_mode="asymmetric",
                   nearest_mode="legacy", cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
                   antialias=0)
