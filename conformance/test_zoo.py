"""Zoo models (fixtures/zoo: realistic BN statistics, built in code) on the target,
against onnxruntime float32: the float16 path on real value ranges."""

from __future__ import annotations

import pytest

from fixtures import zoo
from rknn_diag import tolerances
from rknn_diag.compare import Verdict, check_float16
from rknn_diag.targets import BuildSpec

from .conftest import judge

# The outlier variant exists for quantization accuracy analysis; in float it is a normal model.
MODELS = zoo.names()


@pytest.fixture
def zoo_model(name):
    return zoo.get(name)


@pytest.fixture
def job(zoo_model):
    model, feeds, _ = zoo_model
    return model, feeds, BuildSpec(config={"target_platform": "rk3588"}, data_format="nchw")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.rknn_case(case=f"zoo/{n}/float16", model=n,
                                                                                mode="float16"))
                                  for n in MODELS])
def test_zoo_float16(zoo_model, executed, target, record):
    meta = zoo_model[2]
    v = check_float16(executed.result.outputs, executed.refs, executed.output_names, classifier=meta["classifier"])
    # Whole networks: the elementwise 5-ULP rule, the model-level cosine floor, the same top-1.
    problems = [v.message] if not v.ok else []
    if v.metrics.get("cosine", 0) < tolerances.FLOAT16_MODEL_COSINE:
        problems.append(f"cosine {v.metrics.get('cosine')} < {tolerances.FLOAT16_MODEL_COSINE}")
    if meta["classifier"] and v.metrics.get("top1") != 1.0:
        problems.append(f"top-1 changed (agreement {v.metrics.get('top1')})")
    judge(target, record, Verdict(not problems, v.metrics, "; ".join(problems)))
