"""Conformance fixtures: run a case on the target during setup (so target trouble is an
error, not a failure) and hand the test the outputs and the onnxruntime reference.

A test module provides a `job` fixture — (onnx model, feeds, BuildSpec) — and takes
`executed`; the test body only compares, so a failing body is a product failure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest

from rknn_diag.compare import reference
from rknn_diag.compare import Verdict
from rknn_diag.errors import RknnDiagError
from rknn_diag.targets import BuildSpec, RunResult


@dataclass
class Executed:
    result: RunResult
    refs: list[np.ndarray]
    output_names: list[str]


def nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def run_case(target, record: dict, tmp_path: Path, model: onnx.ModelProto, feeds: dict[str, np.ndarray],
             spec: BuildSpec) -> Executed:
    """Save the model, run it on the target, run the reference. A target's refusal (an op or
    setting it does not support) and a vendor finding (its simulator crashed, hung or failed)
    become expected failures carrying the target's own message; infrastructure trouble
    propagates and makes the case an error."""
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    record["_start"] = time.time()
    record["board"] = getattr(target, "serial", None)   # boards only: which one ran the case
    try:
        refs = reference(str(path), feeds)
    except Exception as e:  # onnxruntime's own errors: an older reference lacks the op/form
        import onnxruntime
        record["category"] = "unsupported"
        pytest.xfail(f"the reference, onnxruntime {onnxruntime.__version__}, cannot run this case: "
                     f"{str(e).splitlines()[0][:300]}")
    inputs = list(feeds.values())
    if spec.data_format == "nhwc":
        # Like the vendor's runtime, data_format applies to every 4-D float input.
        inputs = [nhwc(x) if x.ndim == 4 and x.dtype.kind == "f" else x for x in inputs]
    try:
        result = target.run(str(path), spec, inputs)
    except RknnDiagError as e:
        if e.category not in ("unsupported", "vendor"):
            raise
        record["category"] = e.category
        what = "does not support this case" if e.category == "unsupported" else "failed this case"
        pytest.xfail(f"{target.name} {what}: {e}")
    record["latency_ms"] = result.latency_ms
    record["versions"] = {k: str(v) for k, v in result.info.get("versions", {}).items()}
    return Executed(result, refs, [o.name for o in model.graph.output])


@pytest.fixture
def executed(job, target, record, tmp_path) -> Executed:
    model, feeds, spec = job
    return run_case(target, record, tmp_path, model, feeds, spec)


def judge(target, record: dict, verdict: Verdict) -> None:
    """Pass, or fail the case. Our own toolchain's wrong answer is a product failure; the
    vendor's wrong answer is a vendor finding (an expected failure the report lists)."""
    record["metrics"] = verdict.metrics
    if verdict.ok:
        return
    if getattr(target, "vendor", False):
        record["category"] = "vendor"
        pytest.xfail(f"{target.name} differs from onnxruntime: {verdict.message}")
    pytest.fail(verdict.message, pytrace=False)
