"""accuracy_analysis and hybrid quantization (the fix path of guide §2.1)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import yaml

from rknn_diag.api import RKNN
from rknn_diag.compare import metrics
from rknn_diag.quant.quantizer import run_float32

from . import _models
from .conftest import build

SHAPE = [[1, 3, 12, 12]]


@pytest.mark.parametrize("bad", ["conv_b", "conv_c"])
def test_accuracy_analysis_names_the_layer_with_an_outlier_channel_first(bad, tmp_path):
    r, samples = build(_models.outlier_cnn(bad=bad), tmp_path, SHAPE, "rk1808",
                       quantized_dtype="asymmetric_quantized-u8")
    out = tmp_path / "snapshot"
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.accuracy_analysis([samples[0][0]], str(out)) == 0
    df = r.analysis
    assert df.attrs["worst"][0] == bad
    assert df.iloc[0]["layer"] == bad and df.iloc[0]["individual_cosine"] < df.iloc[1]["individual_cosine"]
    for d in ("fp32", "entire_qnt", "individual_qnt"):
        assert len(list((out / d).glob("*.npy"))) == len(r.model.graph.nodes)
    order = (out / "order.txt").read_text().splitlines()
    assert [line.split()[1] for line in order] == [n.name for n in r.model.graph.nodes]
    for kind in ("entire", "individual"):
        lines = (out / f"{kind}_qnt_error_analysis.txt").read_text().splitlines()[1:]
        assert len(lines) == len(r.model.graph.nodes)
        cos = {line.split()[0]: float(line.split()[2]) for line in lines}
        assert cos[bad] == pytest.approx(df.set_index("layer").loc[bad, f"{kind}_cosine"], abs=1e-6)
    # entire accumulates: the last layer is no better in 'entire' than in 'individual'
    last = df.set_index("layer").loc[r.model.graph.nodes[-1].name]
    assert last["entire_cosine"] <= last["individual_cosine"] + 1e-6
    # individual = that layer fed float inputs: recompute one and compare with the file
    fenv = run_float32(r.model.graph, [samples[0][0]])
    name = r.model.graph.nodes[0].outputs[0]
    f = np.load(out / "fp32" / f"0000_{name}.npy")
    np.testing.assert_array_equal(f, fenv[name])


def test_accuracy_analysis_needs_a_quantized_model(tmp_path):
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.accuracy_analysis([np.zeros((1, 3, 12, 12), np.float32)], str(tmp_path)) != 0
    assert "quantized model" in str(r.last_error)


def _step1(tmp_path, monkeypatch, mode="asymmetric_quantized-u8", chip="rk1808"):
    import onnx

    from fixtures.datasets import npy_dataset
    onnx.save(_models.outlier_cnn(), str(tmp_path / "outlier.onnx"))
    ds = npy_dataset(tmp_path / "ds", SHAPE, count=6, generation="rknpu1" if chip == "rk1808" else "rknpu2")
    monkeypatch.chdir(tmp_path)
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform=chip, quantized_dtype=mode) == 0
        assert r.load_onnx(str(tmp_path / "outlier.onnx")) == 0
        assert r.hybrid_quantization_step1(dataset=str(ds)) == 0, r.last_error
    return ds


def _step2(tmp_path, expect_ok=True):
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        ret = r.hybrid_quantization_step2("m.json", "m.data", "m.quantization.cfg")
        if expect_ok:
            assert ret == 0, r.last_error
            assert r.init_runtime() == 0
    return r, ret


def test_hybrid_round_trip_moves_the_bad_layer_to_float16_and_int16(tmp_path, monkeypatch):
    from fixtures.datasets import samples_from
    ds = _step1(tmp_path, monkeypatch)
    cfg = tmp_path / "m.quantization.cfg"
    doc = yaml.safe_load(cfg.read_text())
    assert doc["customized_quantize_layers"] == {} and "x" in doc["quantize_parameters"]
    assert json.loads((tmp_path / "m.json").read_text())["mode"] == "asymmetric_quantized-u8"
    x = samples_from(ds, SHAPE, "rknpu1")[0][0]
    ref = run_float32(_step2(tmp_path)[0].model.graph, [x])["r2"]
    base, _ = _step2(tmp_path)            # unedited cfg: the same model as step 1
    base_out = base.runtime.run([x])[0]
    cos = {}
    for dtype in ("float16", "int16"):
        cfg.write_text(cfg.read_text().replace("customized_quantize_layers: {}",
                                               f"customized_quantize_layers: {{conv_b: {dtype}}}")
                       .replace("customized_quantize_layers: {conv_b: float16}",
                                f"customized_quantize_layers: {{conv_b: {dtype}}}"))
        r, _ = _step2(tmp_path)
        assert r.model.quant["layers"] == {"conv_b": dtype}
        out = r.runtime.run([x])[0]
        cos[dtype] = metrics(out, ref)["cosine"]
        if dtype == "int16":
            assert r.model.quant["tensors"]["r1"]["dtype"] == "int16"
            assert r.model.quant["weights"]["w1"]["dtype"] == "int16"
        else:
            assert "w1" not in r.model.quant["weights"]
    base_cos = metrics(base_out, ref)["cosine"]
    assert cos["float16"] > base_cos and cos["int16"] > base_cos, (base_cos, cos)


def test_hybrid_edited_scale_is_used(tmp_path, monkeypatch):
    _step1(tmp_path, monkeypatch)
    cfg = tmp_path / "m.quantization.cfg"
    doc = yaml.safe_load(cfg.read_text())
    old = doc["quantize_parameters"]["r0"]["scale"][0]
    text = cfg.read_text().replace(json.dumps([old]), json.dumps([old * 2]), 1)
    cfg.write_text(text)
    r, _ = _step2(tmp_path)
    assert float(r.model.quant["tensors"]["r0"]["scale"]) == pytest.approx(old * 2, rel=1e-6)


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace("customized_quantize_layers: {}", "customized_quantize_layers: {conv_b: int3}"),
     "dtype 'int3'"),
    (lambda t: t.replace("customized_quantize_layers: {}", "customized_quantize_layers: {nope: float16}"),
     "unknown layer 'nope'"),
    (lambda t: t.replace("    zero_point: [", "    zero_point: [9999, ", 1), "zero_point"),
    (lambda t: t.replace("    scale: [", "    scale: [-", 1), "scale must be a positive"),
    (lambda t: t.replace("quantize_parameters:", "quantize_parameters:\n bad: [", 1), "not valid YAML"),
    (lambda t: t + "surprise: 1\n", "unknown cfg key 'surprise'"),
])
def test_malformed_cfg_fails_naming_the_line(tmp_path, monkeypatch, edit, needle):
    _step1(tmp_path, monkeypatch)
    cfg = tmp_path / "m.quantization.cfg"
    cfg.write_text(edit(cfg.read_text()))
    r, ret = _step2(tmp_path, expect_ok=False)
    assert ret != 0
    msg = str(r.last_error)
    assert needle in msg and ", line " in msg, msg


def test_mismatched_json_and_data_are_refused(tmp_path, monkeypatch):
    _step1(tmp_path, monkeypatch)
    data = bytearray((tmp_path / "m.data").read_bytes())
    data[-1] ^= 0xFF   # flipped, not set: a last byte that is already 0 would leave the file intact
    (tmp_path / "m.data").write_bytes(bytes(data))
    r, ret = _step2(tmp_path, expect_ok=False)
    assert ret != 0 and "do not belong together" in str(r.last_error)


@pytest.mark.parametrize("dtype", ["float16", "int16"])
def test_hybrid_model_still_matches_its_qdq_twin(dtype, tmp_path, monkeypatch):
    """A layer moved to float16 (inputs/weights/outputs rounded to half precision) or int16: the
    twin follows, so every layer and the output stay within 1 LSB."""
    from fixtures.datasets import samples_from
    from rknn_diag import tolerances
    from rknn_diag.quant.qdq import export_twin, layerwise_lsb, run_twin
    from rknn_diag.qrules.schemes import QParams

    ds = _step1(tmp_path, monkeypatch)
    cfg = tmp_path / "m.quantization.cfg"
    cfg.write_text(cfg.read_text().replace("customized_quantize_layers: {}",
                                           f"customized_quantize_layers: {{conv_b: {dtype}}}"))
    r, _ = _step2(tmp_path)
    x = samples_from(ds, SHAPE, "rknpu1")[1]
    assert max(layerwise_lsb(r.model.graph, r.model.quant, x).values()) <= tolerances.QUANT_LSB
    got = r.runtime.run(x)[0]
    want = run_twin(export_twin(r.model.graph, r.model.quant), x, ["x"])[0]
    scale = float(QParams.from_dict(r.model.quant["tensors"]["r2"]).scale)
    assert np.rint(np.abs(got - want) / scale).max() <= tolerances.QUANT_LSB


def test_an_unedited_hybrid_round_trip_gives_what_build_gives(tmp_path, monkeypatch):
    """Step 1 then step 2 with the cfg as written: the same layers and outputs as a plain build,
    including the rule that keeps a final Softmax float16 in an 8-bit build (it was lost in
    step 2: the cfg does not list it)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from fixtures.datasets import npy_dataset
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.5, (10, 3, 3, 3)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"]),
                           helper.make_node("GlobalAveragePool", ["c"], ["p"]),
                           helper.make_node("Flatten", ["p"], ["f"]),
                           helper.make_node("Softmax", ["f"], ["y"], axis=1)], "sm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "m.onnx"))
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 8, 8]], count=6, generation="rknpu2")
    x = rng.uniform(0, 255, (1, 3, 8, 8)).astype(np.float32)
    monkeypatch.chdir(tmp_path)
    outs, layers = [], []
    for hybrid in (False, True):
        r = RKNN()
        with contextlib.redirect_stdout(io.StringIO()):
            assert r.config(target_platform="rk3588", quantized_dtype="w8a8") == 0
            assert r.load_onnx(str(tmp_path / "m.onnx")) == 0
            if hybrid:
                assert r.hybrid_quantization_step1(dataset=str(ds)) == 0, r.last_error
                r = RKNN()
                assert r.hybrid_quantization_step2("m.model", "m.data", "m.quantization.cfg") == 0, r.last_error
            else:
                assert r.build(do_quantization=True, dataset=str(ds)) == 0, r.last_error
            assert r.init_runtime() == 0
            outs.append(r.inference([x], data_format="nchw")[0])
        layers.append(r.model.quant["layers"])
    assert "float16" in layers[0].values() and layers[1] == layers[0]
    np.testing.assert_array_equal(outs[1], outs[0])
