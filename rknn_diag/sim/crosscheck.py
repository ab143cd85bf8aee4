"""The onnxruntime backend against the numpy reference, value by value.

    float16   every layer run by onnxruntime on the reference's own inputs (so errors do not
              carry from layer to layer) gives float16 values (on the half-precision grid) within
              one float16 ULP of the reference's: the float32 arithmetic inside a layer may differ
              (accumulation order, exp/tanh implementations), the rounding at its boundary may not.
              One exception, where a float32 sum cancels to far below the layer's magnitude: the
              order-dependent float32 error (about K·2^-24 of the summed magnitudes) is then larger
              than the small result's own ULP, so such elements are held to CANCEL of the layer's
              largest magnitude instead.
    integer   every value onnxruntime computes is the reference's, bit for bit (0 LSB), dtype
              and parameters included.

Each function returns the problems found (empty: the backends agree) and how much ran on
onnxruntime, so a check that compared nothing is visible.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph
from .float_sim import FloatSimulator, to_fp16
from .ort_lower import LoweringError, is_ort_refusal, session

ULP = 1
CANCEL = 2.0 ** -19   # 16 float32 epsilons of the layer's largest magnitude


def _ordered_half(x: np.ndarray) -> np.ndarray:
    """float16 bit patterns as integers in the order of the values (-0 and +0 both 0)."""
    b = np.asarray(x, np.float32).astype(np.float16).view(np.int16).astype(np.int32)
    return np.where(b < 0, -(b & 0x7FFF), b)


def half_ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float16 steps apart two arrays of float16 values are (NaN vs NaN: 0)."""
    d = np.abs(_ordered_half(a) - _ordered_half(b))
    both_nan = np.isnan(a) & np.isnan(b)
    return np.where(both_nan, 0, np.where(np.isnan(a) | np.isnan(b), 1 << 20, d))


# `float16_layers` compared nothing because onnxruntime refuses the lowered model when it runs.
REFUSED_AT_RUN = -1


def float16_layers(graph: Graph, feeds: list[np.ndarray], ulp: int = ULP) -> tuple[list[str], int]:
    """(problems, values compared); (problems, 0) when the model runs on numpy only."""
    from .ort_float import lower_float16

    if not graph.nodes:   # everything folded into constants: nothing runs
        return [], 0
    ref = FloatSimulator(graph)
    env: dict[str, np.ndarray] = {v.name: to_fp16(np.asarray(x)) for v, x in zip(graph.inputs, feeds)}
    ref.run(feeds, lambda node, outs: env.update({o: v for o, v in zip(node.outputs, outs) if o}))
    try:
        model, _ = lower_float16(graph, ref.constants, isolate=True)
        sess = session(model, 1)
    except LoweringError:   # the ort backend runs such a model on the numpy kernels too
        return [], 0
    fd = {i.name: np.asarray(env[i.name[:-len("::in")]]) for i in sess.get_inputs()}
    names = [o.name for o in sess.get_outputs()]
    problems = []
    try:
        got_all = sess.run(names, fd)
    except Exception as e:  # noqa: BLE001
        if not is_ort_refusal(e):
            raise
        return [], REFUSED_AT_RUN   # the backend falls back to the numpy kernels at run time too
    for name, got in zip(names, got_all):
        want = np.asarray(env[name])
        if got.shape != want.shape or got.dtype != want.dtype:
            problems.append(f"{name}: {got.dtype}{list(got.shape)} against the reference's {want.dtype}{list(want.shape)}")
        elif want.dtype.kind == "f":
            off_grid = ~np.isnan(got) & (to_fp16(got) != got)
            if off_grid.any():
                problems.append(f"{name}: {int(off_grid.sum())} value(s) not rounded to float16")
            far = half_ulps(got, want)
            with np.errstate(invalid="ignore"):
                scale = float(np.nanmax(np.abs(want[np.isfinite(want)]), initial=0.0))
                near = np.abs(got.astype(np.float64) - want) <= CANCEL * scale
            far = np.where(near, 0, far)
            if far.max(initial=0) > ulp:
                i = int(np.argmax(far))
                problems.append(f"{name}: {int(far.max())} float16 ULP from the reference at flat index {i} "
                                f"({got.reshape(-1)[i]!r} vs {want.reshape(-1)[i]!r})")
        elif not np.array_equal(got, want):
            problems.append(f"{name}: non-float values differ from the reference")
    return problems, len(names)


def integer_values(graph: Graph, quant: dict, feeds: list[np.ndarray]) -> tuple[list[str], int]:
    """(problems, values compared); (problems, 0) when the model runs on numpy only."""
    from .int_sim import IntegerSimulator
    from .ort_int import OrtIntegerSimulator

    try:
        fast = OrtIntegerSimulator(graph, quant, expose=True)
    except LoweringError:
        return [], 0
    trace: dict = {}
    IntegerSimulator(graph, quant).run(feeds, trace=trace)
    got = fast.values(feeds)
    computed = {o for kind, step in fast.steps if kind == "ort" for o in step[2]}
    problems = []
    for name in sorted(computed):
        (a, qa), (b, qb) = got[name], trace[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {a.dtype}{list(a.shape)} against the reference's {b.dtype}{list(b.shape)}")
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            problems.append(f"{name}: {int((d > 0).sum())} element(s) differ, up to {d.max():g} LSB")
        elif (qa is None) != (qb is None) or (qa is not None and not qa.same(qb)):
            problems.append(f"{name}: quantization parameters differ from the reference's")
    return problems, len(computed)
