"""Double-precision functions written once as a sequence of elementary IEEE operations, so that
the numpy reference and the onnxruntime lowering compute the very same doubles.

Each step is one operation that IEEE 754 defines exactly for both engines: +, -, ×, / (correctly
rounded), round half to even, min/max/clip and a table lookup (exact). A function here takes an
`Arith` — `NUMPY` runs the steps on arrays (int_sim), `ort_int`'s emitter arithmetic writes each
step as one ONNX node — so the two cannot drift apart: there is no second copy of the formula.
(Library exp differs between numpy and onnxruntime in the last bit, which moves a quantized
output by one LSB now and then; that is why exp is built here from the steps above.)
"""

from __future__ import annotations

import numpy as np

# exp(x) = 2^(k/64) · p(r), k = round(x·64/ln2), r = x - k·ln2/64 (|r| <= ln2/128 + tiny).
EXP_STEPS = 64
# ln2 / 64 in two parts (fdlibm's ln2_hi/ln2_lo divided by 64, exact): LN2_HI has 32 significant
# bits, so k·LN2_HI is exact for |k| < 2^21 and x - k·LN2_HI is exact (Sterbenz).
LN2_HI = 6.93147180369123816490e-01 / EXP_STEPS
LN2_LO = 1.90821492927058770002e-10 / EXP_STEPS
INV_STEP = EXP_STEPS / 0.6931471805599453
# Taylor coefficients of degree 5: the remainder r^6/720 < 3.5e-17 relative on |r| <= ln2/128
# (0.3 ULP); Horner's rounding adds about one ULP.
EXP_POLY = (1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0)
# Arguments are clipped to ±EXP_CLIP. Below -40 exp(x) < 4.3e-18 < 2^-53, so 1 + exp(x) is exactly
# 1 as with the true value; callers that use exp(x) beyond +40 on its own say why that is harmless.
EXP_CLIP = 40.0
_KMAX = int(np.ceil(EXP_CLIP * INV_STEP)) + 1


def _pow2_table() -> np.ndarray:
    """2^(k/64) for k in [-KMAX, KMAX], laid out for a lookup by k itself: k >= 0 at index k, k < 0
    at index size + k (numpy indexing and ONNX Gather both take negative indices that way).
    From long double exp2, then rounded once to double (within 0.5 ULP plus a long-double ULP)."""
    size = 2 * _KMAX + 1
    k = np.arange(size, dtype=np.int64)
    k = np.where(k <= _KMAX, k, k - size)
    return np.exp2(k.astype(np.longdouble) / EXP_STEPS).astype(np.float64)


POW2_TABLE = _pow2_table()


class NumpyArith:
    """The steps on numpy float64 arrays (the reference)."""

    def const(self, v, hint: str = "c"):
        return np.asarray(v, np.float64)

    def add(self, a, b):
        return np.add(a, b)

    def sub(self, a, b):
        return np.subtract(a, b)

    def mul(self, a, b):
        return np.multiply(a, b)

    def div(self, a, b):
        return np.divide(a, b)

    def round(self, a):
        return np.rint(a)

    def maximum(self, a, b):
        return np.maximum(a, b)

    def minimum(self, a, b):
        return np.minimum(a, b)

    def clip(self, a, lo, hi):
        return np.minimum(np.maximum(a, lo), hi)

    def where_negative(self, t, neg, pos):
        return np.where(t < 0.0, neg, pos)

    def lookup(self, table: np.ndarray, k):
        """table[k] for float64 `k` holding integers."""
        return table[np.asarray(k).astype(np.int64)]


NUMPY = NumpyArith()


def exp(ar, x):
    """exp(clip(x, ±40)) to within about 2 ULP of the true value (tests/sim check it against
    numpy's exp), in 20 elementary steps."""
    x = ar.clip(x, ar.const(-EXP_CLIP, "lo"), ar.const(EXP_CLIP, "hi"))
    k = ar.round(ar.mul(x, ar.const(INV_STEP, "inv")))
    r = ar.sub(ar.sub(x, ar.mul(k, ar.const(LN2_HI, "ln2hi"))), ar.mul(k, ar.const(LN2_LO, "ln2lo")))
    p = ar.const(EXP_POLY[0], "p")
    for c in EXP_POLY[1:]:
        p = ar.add(ar.mul(p, r), ar.const(c, "p"))
    return ar.mul(ar.lookup(POW2_TABLE, k), p)


def swish(ar, t, alpha: float):
    """t · sigmoid(alpha·t) as t / (1 + exp(-alpha·t)). exp's clip at +40 (t far negative): the
    result is then t·e^-40 instead of t·e^(-alpha·t), both below |t|·4.3e-18: zero after any
    quantization whose step exceeds 8.6e-18·|t|."""
    e = exp(ar, ar.mul(t, ar.const(-np.float64(np.float32(alpha)), "alpha")))
    return ar.div(t, ar.add(ar.const(1.0, "one"), e))
