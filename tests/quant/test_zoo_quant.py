"""Zoo models (fixtures/zoo) in every quantized mode: every layer within 1 LSB of the QDQ
twin fed the same integers, the end-to-end twin close, cosine against
float at the mode's floor (tolerances.QUANT_MODEL_COSINE), accuracy_analysis on the outlier
variant names its planted bad layer first."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fixtures import zoo
from rknn_diag import tolerances
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics
from rknn_diag.quant.qdq import export_twin, layerwise_lsb, run_twin

from .conftest import MODES, gen_of

# Known, explained shortfalls (expected quantization error, not bugs): strict xfails.
EXPECTED_LOW = {
    ("ssd_like", "dynamic_fixed_point-i8"):
        "power-of-two scales waste up to one of 8 bits per tensor; over 6 conv layers the loc head "
        "accumulates to cosine ~0.988 (accuracy_analysis: each layer >= 0.998 individually)",
}
# The outlier variant is built to break per-layer 8-bit quantization (a 100x channel in one
# layer's weights and output); how badly depends on the calibration images (cosine 0.96-0.995
# for u8 with 4-8 images), so no floor applies there: accuracy_analysis must find the layer.
# Per-channel weights (w8a8, w8a16) and 16-bit modes must still hold their floors on it.
NO_FLOOR = {("mobilenetv2_like_outlier", "asymmetric_quantized-u8"),
            ("mobilenetv2_like_outlier", "dynamic_fixed_point-i8")}


def _build(name: str, mode: str, tmp: Path):
    model, feeds, meta = zoo.get(name)
    onnx.save(model, str(tmp / "m.onnx"))
    chip = MODES[mode]
    lines = []
    for i, im in enumerate(zoo.dataset_images(meta, 6)):
        a = im[None].astype(np.float32)
        if gen_of(chip) == "rknpu1":
            a = a.transpose(0, 2, 3, 1)
        np.save(tmp / f"s{i}.npy", a, allow_pickle=False)
        lines.append(f"s{i}.npy")
    (tmp / "ds.txt").write_text("\n".join(lines) + "\n")
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform=chip, quantized_dtype=mode) == 0
        assert r.load_onnx(str(tmp / "m.onnx")) == 0
        assert r.build(do_quantization=True, dataset=str(tmp / "ds.txt")) == 0, r.last_error
        assert r.init_runtime() == 0
    return r, feeds, meta


def _params():
    for name in zoo.names():
        for mode in MODES:
            marks = []
            if (name, mode) in EXPECTED_LOW:
                marks.append(pytest.mark.xfail(reason=EXPECTED_LOW[(name, mode)], strict=True))
            yield pytest.param(name, mode, id=f"{name}-{mode}", marks=marks)


@pytest.mark.parametrize("name,mode", list(_params()))
def test_zoo_model_quantized(name, mode, tmp_path):
    r, feeds, meta = _build(name, mode, tmp_path)
    x = list(feeds.values())
    got = r.runtime.run(x)
    # 1) every layer against the QDQ twin fed the same integers: within 1 LSB (CTS rule per layer)
    per_layer = layerwise_lsb(r.model.graph, r.model.quant, x)
    assert len(per_layer) >= len(r.model.graph.nodes) // 2
    bad = {t: d for t, d in per_layer.items() if d > tolerances.QUANT_LSB}
    assert not bad, f"layers beyond {tolerances.QUANT_LSB} LSB of the QDQ twin: {bad}"
    # 2) end to end, 1-LSB differences compound through the layers; the twin still agrees closely
    twin = run_twin(export_twin(r.model.graph, r.model.quant), x, list(feeds))
    for v, g, w in zip(r.model.graph.outputs, got, twin):
        assert metrics(g, w)["cosine"] >= tolerances.QUANT_TWIN_MODEL_COSINE, v.name
    # 3) the float model
    ref = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)
    floor = tolerances.QUANT_MODEL_COSINE[mode] if (name, mode) not in NO_FLOOR else -1.0
    for v, g, f in zip(r.model.graph.outputs, got, ref):
        cos = metrics(g, f)["cosine"]
        assert cos >= floor, f"{name} {mode} {v.name}: cosine {cos:.5f} < {floor}"


def test_accuracy_analysis_names_the_planted_bad_layer(tmp_path):
    r, feeds, meta = _build("mobilenetv2_like_outlier", "asymmetric_quantized-u8", tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.accuracy_analysis(list(feeds.values()), str(tmp_path / "snap")) == 0
    worst = r.analysis.iloc[0]
    assert worst["layer"] == meta["bad_layer"] or meta["bad_layer"] in worst["source"].split("+"), \
        r.analysis.head(3).to_string()


def test_layer_dump_on_a_zoo_model(tmp_path, monkeypatch):
    """NN_LAYER_DUMP=1 on a quantized zoo model: one dequantized file per layer, named by its
    output and every source layer merged into it (§2.2)."""
    import os
    import re

    r, feeds, meta = _build("resnet18_like", "w8a8", tmp_path)
    dump = tmp_path / "dump"
    dump.mkdir()
    monkeypatch.chdir(dump)
    monkeypatch.setenv("NN_LAYER_DUMP", "1")
    with contextlib.redirect_stdout(io.StringIO()):
        outs = r.inference(list(feeds.values()), data_format="nchw")
    assert outs is not None
    files = sorted(os.listdir(dump))
    assert len(files) == len(r.model.graph.nodes)
    merged = [n for n in r.model.graph.nodes if len(n.source) > 1]
    safe = [[re.sub(r"[^A-Za-z0-9_.-]", "_", src)[:80] for src in n.source] for n in merged]
    assert merged and all(any(all(src in f for src in srcs) for f in files) for srcs in safe)
    last = np.load(dump / files[-1], allow_pickle=False)
    np.testing.assert_array_equal(last, outs[-1])


@pytest.mark.parametrize("name", ["mobilenetv2_like", "yolo_like_head", "ssd_like"])
def test_u8_and_shifted_int8_simulations_are_identical(name, tmp_path):
    """NNAPI-style coupling on whole models: the u8 quantization and its int8 copy (zero points
    - 128) run through every integer kernel (conv, add, concat, pools, tables) to the same values."""
    from rknn_diag.quant.quantizer import shift_to_int8
    from rknn_diag.sim.int_sim import IntegerSimulator

    r, feeds, meta = _build(name, "asymmetric_quantized-u8", tmp_path)
    x = list(feeds.values())
    q8 = shift_to_int8(r.model.quant)
    assert all(v["dtype"] == "int8" for v in q8["tensors"].values())
    for a, b in zip(r.runtime.run(x), IntegerSimulator(r.model.graph, q8).run(x)):
        np.testing.assert_array_equal(a, b)
