"""QuantizeLinear and DequantizeLinear (ONNX QDQ models, e.g. from onnxruntime's
quantize_static): per tensor or per axis, uint8/int8/int16/int32, with ONNX's semantics
(half-to-even, saturate). Kernels depend on nothing above `ops`, so this does not import
`rknn_diag.qrules.schemes`; tests/quant/test_schemes.py checks the two agree. A model
containing these ops and built with do_quantization=False keeps its own parameters
(rknn_diag.quant.qdq_import)."""

from __future__ import annotations

import numpy as np

from .registry import register

_RANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127), np.dtype(np.int16): (-32768, 32767),
          np.dtype(np.int32): (-(2 ** 31), 2 ** 31 - 1), np.dtype(np.uint16): (0, 65535)}


def _shaped(v: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    v = np.asarray(v)
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = -1
    return v.reshape(shape)


@register("QuantizeLinear", dtypes=("float32", "float16"), values={"saturate": (1,), "block_size": (0,),
                                                                    "output_dtype": (0,)})
def quantize_linear(x, y_scale, y_zero_point=None, *, axis=1, saturate=1, block_size=0, output_dtype=0):
    """y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per axis."""
    zp = np.asarray(y_zero_point) if y_zero_point is not None else np.zeros((), np.uint8)
    lo, hi = _RANGE[zp.dtype]
    x = np.asarray(x, np.float32)
    s = _shaped(np.asarray(y_scale, np.float32), x.ndim, axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.rint(x / s).astype(np.float64) + _shaped(zp.astype(np.int64), x.ndim, axis)
    q = np.nan_to_num(q, nan=0.0, posinf=hi, neginf=lo)
    return np.clip(q, lo, hi).astype(zp.dtype)


@register("DequantizeLinear", dtypes=("uint8", "int8", "int16", "uint16", "int32"), values={"block_size": (0,)})
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0):
    """y = (x - x_zero_point) * x_scale in float32, per tensor or per axis."""
    x = np.asarray(x)
    s = _shaped(np.asarray(x_scale, np.float32), x.ndim, axis)
    z = _shaped(np.asarray(x_zero_point if x_zero_point is not None else 0).astype(np.int64), x.ndim, axis)
    return ((x.astype(np.int64) - z).astype(np.float32) * s).astype(np.float32)


@register("DynamicQuantizeLinear", dtypes=("float32",))
def dynamic_quantize_linear(x):
    """uint8 quantization of x over [min(x, 0), max(x, 0)]: y, y_scale, y_zero_point (ties to even)."""
    x = np.asarray(x, np.float32)
    lo = np.float32(min(float(x.min(initial=0.0)), 0.0))
    hi = np.float32(max(float(x.max(initial=0.0)), 0.0))
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        return np.zeros(x.shape, np.uint8), np.array(scale, np.float32), np.array(0, np.uint8)
    zp = np.uint8(np.clip(np.rint(np.float32(0) - lo / scale), 0, 255))
    y = np.clip(np.rint(x / scale) + np.float32(zp), 0, 255).astype(np.uint8)
    return y, np.array(scale, np.float32), np.array(zp, np.uint8)


@register("QLinearMatMul", dtypes=("uint8", "int8"))
def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    """Quantized MatMul: exact integer products of (a - a_zp)(b - b_zp), rescaled by
    a_scale * b_scale / y_scale (per tensor, or per row of a / column of b), ties to even, saturated."""
    A = np.asarray(a).astype(np.int64) - _col(a_zero_point, 1)
    B = np.asarray(b).astype(np.int64) - _col(b_zero_point, 0)
    acc = np.matmul(A, B).astype(np.float64)
    mult = _col(a_scale, 1, np.float32) * _col(b_scale, 0, np.float32) / np.asarray(y_scale, np.float32)
    zp = np.asarray(y_zero_point)
    lo, hi = _RANGE[zp.dtype]
    y = np.rint((acc * mult.astype(np.float32)).astype(np.float32)) + zp.astype(np.float32)
    return np.clip(y, lo, hi).astype(zp.dtype)


def _col(v, side: int, dtype=np.int64) -> np.ndarray:
    """A per-tensor scalar, or a per-row (a: side 1 -> [M, 1]) / per-column (b: side 0 -> [N]) vector."""
    v = np.asarray(v).astype(dtype)
    if v.size == 1:
        return v.reshape(())
    return v.reshape(-1, 1) if side == 1 else v.reshape(-1)
