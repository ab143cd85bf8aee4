"""Every supported op × its generated spread of attributes and shapes, on the target,
against onnxruntime. Cases come from fixtures/opcases (one spec per op, many variations)."""

from __future__ import annotations

import pytest

from fixtures.opcases import all_cases
from rknn_diag.compare import check_float16
from rknn_diag.ops import supported_ops
from rknn_diag.targets import BuildSpec

from .conftest import judge

CASES = all_cases()
SPEC = {"target_platform": "rk3588"}


def _layout(index: int, case) -> str:
    """4-D float first inputs are images: every other such case is fed NHWC (through the
    layout conversion), the rest NCHW, so both paths run on every op family."""
    _, feeds = case.build()
    first = next(iter(feeds.values()), None)
    is_image = first is not None and first.ndim == 4 and first.dtype.kind == "f"
    return "nhwc" if is_image and index % 2 == 0 else "nchw"


def _params():
    for index, case in enumerate(CASES):
        layout = _layout(index, case)
        marks = [pytest.mark.rknn_case(case=f"ops/{case.id}/float16/{layout}", op=case.op, mode="float16")]
        if case.xfail:
            marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
        yield pytest.param(case, layout, id=f"{case.id}-{layout}", marks=marks)


@pytest.fixture
def job(case, layout):
    model, feeds = case.build()
    return model, feeds, BuildSpec(config=SPEC, data_format=layout), case.reference


@pytest.mark.parametrize("case,layout", list(_params()))
def test_op_float16(executed, target, record):
    judge(target, record, check_float16(executed.result.outputs, executed.refs, executed.output_names))


def test_every_supported_op_has_cases():
    """The suite covers the registry: an op added without conformance cases fails here."""
    covered = {c.op for c in CASES}
    missing = sorted(set(supported_ops()) - covered)
    assert not missing, f"ops without conformance cases in fixtures/opcases: {missing}"
