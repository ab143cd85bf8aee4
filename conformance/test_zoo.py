"""Zoo models (fixtures/zoo: realistic BN statistics, built in code) on the target,
against onnxruntime float32: the float16 path on real value ranges."""

from __future__ import annotations

import pytest

from fixtures import zoo
from rknn_diag import tolerances
from rknn_diag.compare import check_float16
from rknn_diag.targets import BuildSpec

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
def test_zoo_float16(zoo_model, executed, record):
    ex, meta = executed, zoo_model[2]
    verdict = check_float16(ex.result.outputs, ex.refs, ex.output_names, classifier=meta["classifier"])
    record["metrics"] = verdict.metrics
    # Whole networks: the elementwise 5-ULP rule holds, and the model-level cosine floor.
    assert verdict.ok, verdict.message
    assert verdict.metrics["cosine"] >= tolerances.FLOAT16_MODEL_COSINE, verdict.metrics
    if meta.get("classifier"):
        assert verdict.metrics.get("top1") == 1.0, f"top-1 changed: {verdict.metrics}"
