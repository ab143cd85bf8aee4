"""Every case of fixtures/opcases/nn.py: onnxruntime runs it and the float kernels agree."""

import pytest

from fixtures.opcases import nn

from ._kernel_check import assert_matches_ort

CASES = list(nn.cases())


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_case_matches_onnxruntime(case):
    model, feeds = case.build()
    assert_matches_ort(model, feeds, reference=case.reference)


def test_every_nn_op_has_cases():
    ops = {c.op for c in CASES}
    for op in ("Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
               "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "LRN",
               "Softmax", "LogSoftmax", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth", "LpPool", "GlobalLpPool",
               "LpNormalization", "MeanVarianceNormalization", "GroupNormalization"):
        assert op in ops, op
