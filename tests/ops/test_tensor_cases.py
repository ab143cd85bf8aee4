"""Every case of fixtures/opcases/tensor.py: our kernels agree with onnxruntime."""

import pytest

from fixtures.opcases import tensor

from .tensor_harness import assert_agree

CASES = list(tensor.cases())


def _param(c):
    marks = [pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else []
    return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_agrees_with_onnxruntime(case):
    model, feeds = case.build()
    assert_agree(model, feeds, reference=case.reference)


def test_every_case_op_is_registered():
    from rknn_diag.ops import supported_ops
    missing = {c.op for c in CASES} - set(supported_ops())
    assert not missing


def test_each_op_has_several_cases():
    from fixtures.opcases import by_op
    few = {op: len(cs) for op, cs in by_op(CASES).items() if len(cs) < 4}
    assert not few, few


def test_every_tensor_kernel_has_conformance_cases():
    from .test_tensor_kernels import my_specs
    uncovered = set(my_specs()) - {c.op for c in CASES}
    assert not uncovered, sorted(uncovered)


def test_first_graph_input_is_the_data_tensor():
    # The suite may treat a 4-D float first input as an image, so the first graph input
    # is the node's data input (X for Where, whose first node input is the condition).
    bad = []
    for c in CASES:
        model, _ = c.build()
        if not model.graph.input or "runtime_int" in c.tags:
            continue
        node = model.graph.node[0]
        data_input = node.input[1] if c.op == "Where" else node.input[0]
        if model.graph.input[0].name != data_input:
            bad.append(c.id)
    assert not bad, bad
