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

from rknn_diag.compare import REFERENCES
from rknn_diag.compare import Verdict
from rknn_diag import outcome
from rknn_diag.errors import RknnDiagError
from rknn_diag.targets import BuildSpec, RunResult, target_class


@dataclass
class Executed:
    result: RunResult
    refs: list[np.ndarray]
    output_names: list[str]
    feeds: dict[str, np.ndarray]


def nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _layout(inputs: list[np.ndarray], data_format: str) -> list[np.ndarray]:
    """Like the vendor's runtime, data_format applies to every 4-D float input."""
    if data_format != "nhwc":
        return inputs
    return [nhwc(x) if x.ndim == 4 and x.dtype.kind == "f" else x for x in inputs]


def run_case(target, record: dict, tmp_path: Path, model: onnx.ModelProto, feeds: dict[str, np.ndarray],
             spec: BuildSpec, reference_name: str = "onnxruntime") -> Executed:
    """Save the model, run it on the target, run the reference. A target's refusal (an op or
    setting it does not support) and a vendor finding (its simulator crashed, hung or failed)
    become expected failures carrying the target's own message; infrastructure trouble
    propagates and makes the case an error."""
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    record["_start"] = time.time()
    record["board"] = getattr(target, "serial", None)   # boards only: which one ran the case
    try:
        refs = REFERENCES[reference_name](str(path), feeds)
    except Exception as e:  # the reference's own errors: an older reference lacks the op/form
        import onnx as _onnx
        import onnxruntime
        version = onnxruntime.__version__ if reference_name == "onnxruntime" else _onnx.__version__
        record["category"] = outcome.REFERENCE
        pytest.xfail(f"the reference, {reference_name} {version}, cannot run this case: "
                     f"{str(e).splitlines()[0][:300]}")
    inputs = _layout(list(feeds.values()), spec.data_format)
    try:
        result = target.run(str(path), spec, inputs)
    except RknnDiagError as e:
        expected_or_raise(target, record, e)
        raise
    record["board"] = getattr(target, "serial", None)   # a pool may have moved the case to another board
    record["latency_ms"] = result.latency_ms
    record["versions"] = {k: str(v) for k, v in result.info.get("versions", {}).items()}
    return Executed(result, refs, [o.name for o in model.graph.output], feeds)


def expected_or_raise(target, record: dict, exc: BaseException) -> None:
    """A target's refusal or finding that is expected (the vendor's) ends the case as an
    expected failure with its category; anything else returns, for the caller to re-raise:
    ours (product) or infrastructure, which the plugin reports as such."""
    category = outcome.of_exception(exc)
    if not outcome.is_expected(category):
        return
    record["category"] = category
    what = "does not support this case" if category == outcome.UNSUPPORTED else "failed this case"
    pytest.xfail(f"{target.name} {what}: {exc}")


@pytest.fixture
def executed(job, target, record, tmp_path) -> Executed:
    model, feeds, spec, *reference_name = job   # an optional 4th item names the reference
    ex = run_case(target, record, tmp_path, model, feeds, spec, *reference_name)
    if target.compares_with_simulator and not getattr(target, "vendor", False):   # a vendor-built model has no twin of ours
        _board_against_simulator(ex, record, tmp_path, spec)
    return ex


def _board_against_simulator(ex: Executed, record: dict, tmp_path: Path, spec: BuildSpec) -> None:
    """A board runs the same built model as the simulator: where they disagree beyond the
    float16 rule it is a firmware/driver finding, apart from any conversion error."""
    from rknn_diag.compare import check_float16
    from rknn_diag.targets.simulator import SimulatorTarget

    sim = SimulatorTarget().run(str(tmp_path / "model.onnx"), spec,
                                _layout(list(ex.feeds.values()), spec.data_format)).outputs
    v = check_float16(ex.result.outputs, sim, ex.output_names)
    record.setdefault("metrics", {})["board_vs_simulator_max_abs"] = v.metrics.get("max_abs", 0.0)
    if not v.ok:
        record["category"] = outcome.VENDOR
        pytest.xfail(f"the board disagrees with the simulator on the same model (firmware/driver finding): "
                     f"{v.message}")


def judge(target, record: dict, verdict: Verdict) -> None:
    """Pass, or fail the case. Our own toolchain's wrong answer is a product failure; the
    vendor's wrong answer is a vendor finding (an expected failure the report lists)."""
    record.setdefault("metrics", {}).update(verdict.metrics)
    if verdict.ok:
        return
    category = outcome.of_wrong_answer(target.vendor)
    record["category"] = category
    if outcome.is_expected(category):
        pytest.xfail(f"{target.name} differs from onnxruntime: {verdict.message}")
    pytest.fail(verdict.message, pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Cases that take no `target` check our own toolchain (u8/int8 coupling, accuracy
    analysis): they belong to the simulator's run, not to another target's results."""
    cls = target_class(config.getoption("target"))
    if not cls.runs_real_models:   # a board: real models check conversion, not the board path
        real = [i for i in items if i.get_closest_marker("realmodel")]
        if real:
            config.hook.pytest_deselected(items=real)
            items[:] = [i for i in items if i not in real]
    if cls.own_toolchain:
        return
    own = [i for i in items if "target" not in getattr(i, "fixturenames", ())]
    if own:
        config.hook.pytest_deselected(items=own)
        items[:] = [i for i in items if i not in own]
        config.issue_config_time_warning(pytest.PytestWarning(
            f"{len(own)} toolchain-only cases (no target) run with --target simulator, not here"), stacklevel=2)
