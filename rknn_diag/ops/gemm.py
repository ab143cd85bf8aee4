"""Gemm, MatMul and Einsum."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import float32, out_dtype
from .registry import KERNEL, Quant, register


@register("Gemm", quant=Quant(KERNEL, weights=True))
def gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    """alpha * A' @ B' + beta * C, C broadcast to (M, N) and optional (opset 11+)."""
    a, b = float32(A), float32(B)
    if a.ndim != 2 or b.ndim != 2:
        raise UnsupportedOpError(f"Gemm takes 2-D A and B, got {A.shape} and {B.shape}",
                                 fix="use MatMul for batched products")
    a = a.T if transA else a
    b = b.T if transB else b
    y = np.float32(alpha) * (a @ b)
    if C is not None and beta != 0:
        y = y + np.float32(beta) * float32(C)
    return y.astype(out_dtype(A), copy=False)


@register("MatMul", quant=Quant(KERNEL, data=(0, 1), weights=True))
def matmul(A, B):
    """numpy.matmul semantics: N-D batch broadcasting, 1-D operands promoted and squeezed."""
    return np.matmul(float32(A), float32(B)).astype(out_dtype(A), copy=False)


@register("Einsum", dtypes=("float32", "float16", "float64", "int32", "int64"))
def einsum(*Inputs, equation):
    """numpy.einsum of the equation (explicit '->' or implicit output, '...' broadcasting);
    floats computed in float32 (float64 kept), integers exactly."""
    eq = equation.decode() if isinstance(equation, bytes) else str(equation)
    xs = [np.asarray(x) for x in Inputs]
    if xs[0].dtype.kind == "f":
        dt = out_dtype(xs[0])
        xs = [x if x.dtype == np.float64 else float32(x) for x in xs]
        return np.asarray(np.einsum(eq.replace(" ", ""), *xs)).astype(dt, copy=False)
    return np.asarray(np.einsum(eq.replace(" ", ""), *xs)).astype(xs[0].dtype, copy=False)
