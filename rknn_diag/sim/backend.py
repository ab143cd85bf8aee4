"""The simulator's execution backends, chosen in one place.

    numpy   the reference: `FloatSimulator` / `IntegerSimulator`, one small numpy kernel per op,
            the oracle every other backend is checked against.
    ort     the built model lowered to ONNX and run by onnxruntime (one thread by default):
            float16 layer boundaries as Cast pairs (`ort_float`), integer layers as integer ops
            with the project's fixed-point requantization (`ort_int`). Whatever has no exact
            onnxruntime form runs on the numpy kernels (per node for integer models, per model
            for float16 ones), so results are the reference's.

`RKNN_DIAG_BACKEND=numpy` selects the reference for everything; the default is `ort`.
Both backends offer `run(feeds, dump=None)`; quantized ones also `passed_through(feeds, flags)`
and `fallback_ops`. A `dump` hook (NN_LAYER_DUMP, eval_perf) is served by the numpy reference.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError
from ..ir import Graph
from .ort_lower import LoweringError

BACKENDS = ("ort", "numpy")
ENV = "RKNN_DIAG_BACKEND"
THREADS_ENV = "RKNN_DIAG_ORT_THREADS"


def chosen() -> str:
    name = os.environ.get(ENV, "ort").strip().lower() or "ort"
    if name not in BACKENDS:
        raise ConfigError(f"{ENV}={name!r} is not a simulator backend", where=f"environment variable {ENV}",
                          fix=f"set it to one of {', '.join(BACKENDS)} (or unset it for ort)")
    return name


def threads() -> int:
    raw = os.environ.get(THREADS_ENV, "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"{THREADS_ENV}={raw!r} is not a thread count", where=f"environment variable {THREADS_ENV}",
                          fix="set it to a positive integer (default 1)")
    return n


def simulator(graph: Graph, mode: str, quant: dict[str, Any] | None = None, backend: str | None = None,
              log=None):
    """The runtime for a built model: float16 (`mode == 'float16'`) or integer."""
    backend = backend or chosen()
    if backend == "ort":
        try:
            if mode == "float16":
                from .ort_float import OrtFloatSimulator
                return OrtFloatSimulator(graph, threads())
            from .ort_int import OrtIntegerSimulator
            return OrtIntegerSimulator(graph, quant or {}, threads())
        except LoweringError as e:
            if log is not None:
                log.d(f"simulator: the onnxruntime backend cannot run this model ({e.message}); "
                      f"using the numpy kernels")
    if mode == "float16":
        from .float_sim import FloatSimulator
        return FloatSimulator(graph)
    from .int_sim import IntegerSimulator
    return IntegerSimulator(graph, quant or {})
