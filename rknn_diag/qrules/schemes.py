"""Quantization formulas, mode table and rounding rules: the ONE place for them.

Rounding rules (every other module calls these functions, none re-implements them):

* float -> integer (`quantize`): ``q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)``.
  Half-to-even is what ONNX QuantizeLinear does, so the QDQ twin and the integer
  simulator quantize inputs and constants to the very same integers. The guide's
  §1.4.1 formula (`round(x/scale) + zero_point`, saturate) is this with that tie rule;
  dynamic fixed point is the special case ``scale = 2**-fl``, ``zero_point = 0``.
* NaN has no integer: it quantizes to the range's lowest code (qmin), as onnxruntime's
  QuantizeLinear gives on x86; +inf to qmax, -inf to qmin. Layers whose answer depends on NaN
  or infinity (IsNaN, IsInf: `roles.NONFINITE_OPS`) are kept in float16 in a quantized build.
* integer -> float (`dequantize`): ``x = scale * (q - zero_point)`` in float32 (§1.4.1).
* requantization inside the integer simulator (`requantize`): a real multiplier M is
  written as ``m0 * 2**-n`` with ``m0`` an integer of at most 31 bits (fewer when the
  accumulator is wide, so that ``acc * m0`` provably fits in int64); the result is
  ``acc * m0 / 2**n`` rounded to nearest with ties to even (computed with shifts and
  masks on int64), then ``+ zero_point`` and saturation. Ties to even here too, so one tie
  rule holds everywhere: with power-of-two scales (dynamic fixed point) ties are frequent,
  and this makes the integer simulator agree with QuantizeLinear on every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# dtype -> (qmin, qmax) for asymmetric use. Symmetric (weights, dynamic fixed point)
# drops the most negative value so the range is ±(2^(bw-1)-1) (§1.4.1).
RANGES: dict[str, tuple[int, int]] = {
    "uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767), "int4": (-8, 7),
    "int32": (-(2 ** 31), 2 ** 31 - 1),
}
NUMPY: dict[str, Any] = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int4": np.int8,
                         "int32": np.int32}


@dataclass(frozen=True)
class Scheme:
    """How one kind of tensor is quantized."""

    dtype: str                 # uint8 / int8 / int16 / int4
    symmetric: bool            # zero point 0, range ±(2^(bw-1)-1)
    pow2: bool = False         # dynamic fixed point: scale = 2^-fl

    @property
    def qrange(self) -> tuple[int, int]:
        lo, hi = RANGES[self.dtype]
        return (-hi, hi) if self.symmetric else (lo, hi)


@dataclass(frozen=True)
class Mode:
    """A quantized_dtype: activation and weight schemes and the weight granularity."""

    name: str
    act: Scheme
    weight: Scheme
    granularity: str           # 'layer', 'channel' or 'group' (default; config may override)
    # 8-bit RKNPU2: tensors inside a layer the NPU fuses (an Add's conv operand, an attention's
    # scores and probabilities: roles.wide_tensors) stay at 16 bits; read from the vendor's
    # simulator, unknown for RKNPU1
    wide_fused: bool = False


MODES: dict[str, Mode] = {
    # RKNPU1 (§1.4.1): asymmetric u8 everywhere, weights per layer.
    "asymmetric_quantized-u8": Mode("asymmetric_quantized-u8", Scheme("uint8", False),
                                    Scheme("uint8", False), "layer"),
    "dynamic_fixed_point-i8": Mode("dynamic_fixed_point-i8", Scheme("int8", True, True),
                                   Scheme("int8", True, True), "layer"),
    "dynamic_fixed_point-i16": Mode("dynamic_fixed_point-i16", Scheme("int16", True, True),
                                    Scheme("int16", True, True), "layer"),
    # RKNPU2: int8 asymmetric activations and weights, weights per channel with a zero point each
    # (the vendor's per-layer errors match this to 4 digits on every conv layer, not symmetric).
    "w8a8": Mode("w8a8", Scheme("int8", False), Scheme("int8", False), "channel", wide_fused=True),
    "w8a16": Mode("w8a16", Scheme("int16", True), Scheme("int8", True), "channel"),
    "w16a16i_dfp": Mode("w16a16i_dfp", Scheme("int16", True, True), Scheme("int16", True, True), "layer"),
    "w4a16": Mode("w4a16", Scheme("int16", True), Scheme("int4", True), "group"),
}

BIAS = Scheme("int32", True)

# Ops whose answer needs NaN/infinity, which no integer holds: float16 layers in quantized builds.


@dataclass
class QParams:
    """Parameters of one quantized tensor. `scale`/`zero_point` are scalars (per tensor) or
    arrays broadcast along `axis` (per channel) or `(axis, group)` (per group on axis 1)."""

    scale: np.ndarray
    zero_point: np.ndarray
    dtype: str
    axis: int | None = None
    group: int | None = None
    symmetric: bool = False

    @property
    def qrange(self) -> tuple[int, int]:
        lo, hi = RANGES[self.dtype]
        return (-hi, hi) if self.symmetric else (lo, hi)

    @property
    def per_tensor(self) -> bool:
        return self.axis is None

    def same(self, other: "QParams | None") -> bool:
        return (other is not None and self.dtype == other.dtype and self.axis == other.axis
                and np.array_equal(self.scale, other.scale) and np.array_equal(self.zero_point, other.zero_point))

    def to_dict(self) -> dict[str, Any]:
        return {"scale": np.asarray(self.scale, np.float32), "zero_point": np.asarray(self.zero_point, np.int32),
                "dtype": self.dtype, "axis": self.axis, "group": self.group, "symmetric": self.symmetric}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QParams":
        return cls(np.asarray(d["scale"], np.float32), np.asarray(d["zero_point"], np.int32), str(d["dtype"]),
                   None if d.get("axis") is None else int(d["axis"]),
                   None if d.get("group") is None else int(d["group"]), bool(d.get("symmetric", False)))

    def broadcast(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        """scale and zero point shaped to broadcast against a tensor of rank `ndim`."""
        s, z = np.asarray(self.scale, np.float32), np.asarray(self.zero_point, np.int64)
        if self.axis is None:
            return s.reshape(()), z.reshape(())
        if self.group is not None:   # (channels, groups): expand groups along axis 1
            s = np.repeat(s, self.group, axis=1)
            z = np.repeat(z, self.group, axis=1)
            shape = (s.shape[0], s.shape[1]) + (1,) * (ndim - 2)
            return s.reshape(shape), z.reshape(shape)
        axis = self.axis % ndim
        shape = [1] * ndim
        shape[axis] = -1
        return s.reshape(shape), z.reshape(shape)


def storage(dtype: str):
    return NUMPY[dtype]


def quantize(x: np.ndarray, qp: QParams) -> np.ndarray:
    """float -> integers of `qp.dtype` (half-to-even, saturate). See the module docstring."""
    x = np.asarray(x, np.float32)
    s, z = qp.broadcast(x.ndim)
    if qp.group is not None:
        s, z = s[:, : x.shape[1]], z[:, : x.shape[1]]
    lo, hi = qp.qrange
    # in place after the first division: one float32 and one float64 temporary, not five
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.rint(x / s).astype(np.float64)
        q += z
    inplace = isinstance(q, np.ndarray)   # (a 0-d input gives numpy scalars)
    q = np.nan_to_num(q, copy=not inplace, nan=lo, posinf=hi, neginf=lo)   # the NaN rule: see the module docstring
    return np.clip(q, lo, hi, out=q if inplace else None).astype(NUMPY[qp.dtype])


def dequantize(q: np.ndarray, qp: QParams) -> np.ndarray:
    """integers -> float32: scale * (q - zero_point)."""
    q = np.asarray(q)
    s, z = qp.broadcast(q.ndim)
    if qp.group is not None:
        s, z = s[:, : q.shape[1]], z[:, : q.shape[1]]
    if q.ndim and q.dtype.kind in "iu" and q.dtype.itemsize <= 2 and np.broadcast_shapes(q.shape, s.shape) == q.shape:
        # 8/16-bit codes: q - z is an integer below 2^24 in magnitude, so float32 holds it exactly:
        # the same float32 values as below, in one array instead of two int64 temporaries
        c = q.astype(np.float32)
        if np.any(z):
            c -= z.astype(np.float32)
        c *= s
        return c
    return (s * (q.astype(np.int64) - z).astype(np.float32)).astype(np.float32)


# ---- choosing parameters from a float range --------------------------------------------------
def params_from_range(lo: np.ndarray | float, hi: np.ndarray | float, scheme: Scheme, axis: int | None = None,
                      group: int | None = None) -> QParams:
    """QParams covering [lo, hi] (scalars, or arrays per channel/group) under `scheme`.

    Asymmetric: the range is widened to contain 0 (so 0 is exact, as padding needs);
    symmetric: scale = max|x| / qmax; dynamic fixed point: the largest fl with
    max|x| * 2^fl <= qmax, scale = 2^-fl.
    """
    lo = np.minimum(np.asarray(lo, np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, np.float64), 0.0)
    qlo, qhi = scheme.qrange
    if scheme.symmetric:
        amax = np.maximum(-lo, hi)
        amax = np.where(amax > 0, amax, 1.0)
        if scheme.pow2:
            fl = np.floor(np.log2(qhi / amax))
            scale = np.exp2(-fl)
        else:
            scale = amax / qhi
        zp = np.zeros_like(scale)
    else:
        span = hi - lo
        scale = np.where(span > 0, span / (qhi - qlo), 1.0)
        zp = np.clip(np.rint(qlo - lo / scale), qlo, qhi)
    return QParams(np.asarray(scale, np.float32), np.asarray(zp, np.int32), scheme.dtype, axis, group,
                   scheme.symmetric)


def weight_params(w: np.ndarray, scheme: Scheme, granularity: str, axis: int) -> QParams:
    """Per-layer, per-channel (`axis`) or per-group (groups of `g` along axis 1) weight parameters."""
    w = np.asarray(w, np.float32)
    if granularity == "layer" or w.ndim < 2:
        return params_from_range(w.min(initial=0.0), w.max(initial=0.0), scheme)
    if granularity.startswith("group"):
        g = int(granularity[5:])
        cin = w.shape[1]
        ng = -(-cin // g)
        if ng == 1:   # one group per output channel: that is per-channel quantization
            return weight_params(w, scheme, "channel", 0)
        pad = np.zeros((w.shape[0], ng * g - cin, *w.shape[2:]), np.float32)
        wg = np.concatenate([w, pad], axis=1).reshape(w.shape[0], ng, -1)
        return params_from_range(wg.min(axis=2), wg.max(axis=2), scheme, axis=0, group=g)
    axis = axis % w.ndim
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    return params_from_range(moved.min(axis=1), moved.max(axis=1), scheme, axis=axis)


def bias_params(in_scale: np.ndarray, w_qp: QParams, alpha: float = 1.0) -> QParams:
    """int32 bias at scale in_scale * w_scale (per output channel), zero point 0."""
    s = np.asarray(w_qp.scale, np.float64)
    if w_qp.group is not None:
        raise ValueError("grouped weights have no single bias scale")
    scale = (np.float64(in_scale) * s * alpha).astype(np.float32)
    return QParams(scale, np.zeros(scale.shape, np.int32), "int32", 0 if scale.ndim else None, None, True)


# ---- fixed-point requantization ------------------------------------------------------------------
INT64_HEADROOM = 62


def fixed_point(mult: np.ndarray, acc_bound: float) -> tuple[np.ndarray, np.ndarray]:
    """M -> (m0, n) with M ≈ m0 * 2^-n, m0 < 2^bits, bits = min(31, 62 - log2(acc_bound)),
    so |acc| * m0 < 2^62 for every |acc| <= acc_bound: the product provably fits int64."""
    mult = np.asarray(mult, np.float64)
    acc_bits = int(np.ceil(np.log2(max(float(acc_bound), 1.0) + 1)))
    bits = min(31, INT64_HEADROOM - acc_bits)
    if bits < 12:
        raise OverflowError(f"accumulator bound {acc_bound:g} leaves only {bits} multiplier bits")
    safe = np.where(mult > 0, mult, 1.0)
    e = np.floor(np.log2(safe)).astype(np.int64)
    n = (bits - 1) - e
    m0 = np.rint(safe * np.exp2(n.astype(np.float64))).astype(np.int64)
    # rint may round up to 2^bits: renormalise
    over = m0 >= (1 << bits)
    m0 = np.where(over, m0 >> 1, m0)
    n = np.where(over, n - 1, n)
    m0 = np.where(mult > 0, m0, 0)
    return m0, n


def shift_round(prod: np.ndarray, n: np.ndarray) -> np.ndarray:
    """round(prod / 2^n), ties to even, for int64 `prod` and shifts n (scalar or broadcastable,
    may be <= 0)."""
    prod = np.asarray(prod, np.int64)
    n = np.asarray(n, np.int64)
    if (n > 62).any():   # |prod| < 2^62 <= 2^(n-1): the result is 0 (dead channels' tiny multipliers)
        return np.where(n > 62, np.int64(0), shift_round(prod, np.minimum(n, 62)))
    if (n <= 0).any():   # rare (multipliers >= 2^30): exact left shifts where n <= 0
        pos = np.maximum(n, 1)
        return np.where(n > 0, shift_round(prod, pos), np.left_shift(prod, np.maximum(-n, 0)))
    one = np.int64(1)
    half = np.left_shift(one, n - 1)                   # per channel, not per element
    q = np.right_shift(prod + half, n)                 # round half up ...
    tie = (prod & (np.left_shift(one, n) - 1)) == half
    q -= tie & ((q & one) == one)                      # ... and ties back down to even
    return q


def requantize(acc: np.ndarray, mult: np.ndarray, acc_bound: float, out: QParams,
               clamp: tuple[int, int] | None = None) -> np.ndarray:
    """int accumulator (int64) at real scale `mult * out.scale` -> integers of `out`.
    `mult` broadcasts against acc (per channel multipliers already shaped); `clamp` narrows
    the output range (fused Relu/Clip in the integer domain)."""
    m0, n = fixed_point(mult, acc_bound)
    return apply_fixed_point(acc, m0, n, out, clamp)


FLOAT64_EXACT = 2.0 ** 53


def apply_fixed_point(acc: np.ndarray, m0: np.ndarray, n: np.ndarray, out: QParams,
                      clamp: tuple[int, int] | None = None, acc_bound: float | None = None) -> np.ndarray:
    """The second half of `requantize`, with the multiplier already in fixed point.

    When |acc|·m0 < 2^53 for every admissible acc (`acc_bound` given), the same number is
    computed in float64: acc·m0 is then exact, scaling by 2^-n is exact, and np.rint rounds
    half to even — identical integers to the int64 shift path, in fewer passes."""
    lo, hi = clamp if clamp is not None else out.qrange
    zp = np.int64(out.zero_point) if out.per_tensor else out.broadcast(np.ndim(acc))[1]
    if acc_bound is not None and acc_bound * float(np.max(m0, initial=0)) < FLOAT64_EXACT and (np.asarray(n) > 0).all():
        y = np.asarray(acc, np.float64) * (np.asarray(m0, np.float64) * np.exp2(-np.asarray(n, np.float64)))
        y = np.rint(y) + zp
        return np.clip(y, lo, hi).astype(NUMPY[out.dtype])
    acc = np.asarray(acc, np.int64)
    y = shift_round(acc * m0, n)
    y += zp
    return np.clip(y, lo, hi).astype(NUMPY[out.dtype])
