"""The integer simulator: every mode against the QDQ twin (1 LSB) and the float model,
integer dtypes, determinism, model-file round trip, shared scales, layer dumps."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

from rknn_diag import tolerances
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics
from rknn_diag.quant.qdq import export_twin, layerwise_lsb, run_twin
from rknn_diag.qrules import roles
from rknn_diag.qrules.schemes import MODES, QParams
from rknn_diag.sim.int_sim import IntegerSimulator

from . import _models
from .conftest import MODES as CHIPS, build

SHAPE = [[1, 3, 16, 16]]


def _lsb_diff(got, want, scale):
    return np.rint(np.abs(np.asarray(got, np.float64) - want) / scale)


@pytest.mark.parametrize("mode", list(CHIPS))
def test_every_mode_matches_its_qdq_twin_and_the_float_model(mode, tmp_path):
    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, CHIPS[mode], quantized_dtype=mode)
    m = r.model
    twin = export_twin(m.graph, m.quant)
    float_sess = ort.InferenceSession(str(tmp_path / "m.onnx").encode() and str(tmp_path / "m.onnx"))
    names = [v.name for v in m.graph.outputs]
    exact = total = 0
    for (x,) in samples[:3]:
        got = r.runtime.run([x])
        want = run_twin(twin, [x], ["x"])
        ref = float_sess.run(None, {"x": x})
        for name, g, w, f in zip(names, got, want, ref):
            scale = float(QParams.from_dict(m.quant["tensors"][name]).scale)
            d = _lsb_diff(g, w, scale)
            assert d.max() <= tolerances.QUANT_LSB, f"{mode} {name}: {d.max()} LSB from the twin"
            exact += int((d == 0).sum())
            total += d.size
            if name != "prob":
                assert metrics(g, f)["cosine"] >= tolerances.QUANT_OP_COSINE[mode], (mode, name)
    # the 1-LSB allowance is for rounding ties and float32 twin arithmetic, not a habit
    assert exact / total >= 0.97, f"only {exact}/{total} elements bit-exact against the twin"


def m_layers(r) -> dict:
    return r.model.quant.get("layers") or {}


@pytest.mark.parametrize("mode", ["asymmetric_quantized-u8", "w8a8", "dynamic_fixed_point-i16", "w4a16"])
def test_integer_tensors_end_to_end(mode, tmp_path):
    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, CHIPS[mode], quantized_dtype=mode)
    sim: IntegerSimulator = r.runtime.reference   # the numpy kernels themselves
    act = MODES[mode].act.dtype
    seen = {}
    orig = sim.run_node

    def spy(node, env):
        outs = orig(node, env)
        seen[node.name] = [a.dtype for a, qp in outs if qp is not None]
        return outs

    sim.run_node = spy
    raw = sim.run([samples[0][0]], raw=True)
    # with 8-bit activations the final Softmax stays float16, as the vendor returns it (quantizer.float_only_layers)
    floats = {n.name for n in r.model.graph.nodes if m_layers(r).get(n.name) == "float16"}
    ints = [o for o, v in zip(raw, r.model.graph.outputs) if not floats & {p.name for p in r.model.graph.nodes
                                                                            if v.name in p.outputs}]
    assert ints and all(o.dtype == np.dtype(act if act != "int4" else "int8") for o in ints)
    assert (len(ints) < len(raw)) == (act in ("int8", "uint8"))
    # the mode's activation dtype everywhere else, but 16 bits for a conv output an Add fuses into
    # its accumulator (w8a8: roles.wide_tensors)
    wide = roles.wide_tensors(r.model.graph) if MODES[mode].wide_fused else set()
    for node in r.model.graph.nodes:
        if node.name in floats:
            continue
        want = ["int16" if o in wide else act for o in node.outputs]
        assert [str(d) for d in seen.get(node.name, [])] in (want, []), (node.name, seen[node.name], want)
    assert bool(wide) == (mode == "w8a8")     # small_cnn has a residual Add
    # integer kernels, not fallbacks, for the layers that have them (the float16 final Softmax aside)
    assert sim.fallback_ops == (["Softmax"] if act in ("int8", "uint8") else [])
    # biases are int32, weights of the mode's weight dtype
    assert all(b.dtype == np.int32 for b, _ in sim.biases.values())
    wdt = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int4": np.int8}[MODES[mode].weight.dtype]
    assert all(q.dtype == wdt for q in sim.qweights.values())
    if mode == "w4a16":   # int4 values in int8 storage, groups of 32 input channels where there are more
        assert all(q.min() >= -7 and q.max() <= 7 for q in sim.qweights.values())
        assert any(qp.group == 32 for qp in sim.weights.values()) or all(
            q.shape[1] <= 32 for q in sim.qweights.values())


def test_fused_activations_and_shared_scales(tmp_path):
    r, _ = build(_models.small_cnn(), tmp_path, SHAPE, "rk3588", quantized_dtype="w8a8")
    t = r.model.quant["tensors"]
    g = r.model.graph
    conv1 = next(n for n in g.nodes if n.name == "conv1")
    assert [p.op_type for p in conv1.post_ops] == ["Relu"] and "relu1" in conv1.source
    pool = next(n for n in g.nodes if n.op_type == "MaxPool")
    assert QParams.from_dict(t[pool.outputs[0]]).same(QParams.from_dict(t[pool.inputs[0]]))
    concat = next(n for n in g.nodes if n.op_type == "Concat")
    out = QParams.from_dict(t[concat.outputs[0]])
    assert all(QParams.from_dict(t[i]).same(out) for i in concat.inputs)   # producers unified to it


def test_deterministic_and_model_file_round_trip(tmp_path, quiet):
    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, "rk3588", quantized_dtype="w8a8")
    x = samples[0][0]
    a = r.inference([x], data_format="nchw")
    b = r.inference([x], data_format="nchw")
    assert r.export_rknn(str(tmp_path / "m.rknn")) == 0
    r2 = RKNN()
    assert r2.load_rknn(str(tmp_path / "m.rknn")) == 0 and r2.init_runtime() == 0
    c = r2.inference([x], data_format="nchw")
    for u, v, w in zip(a, b, c):
        assert u.tobytes() == v.tobytes() == w.tobytes()
    # the build itself is deterministic too
    r3, _ = build(_models.small_cnn(), tmp_path / "again", SHAPE, "rk3588", quantized_dtype="w8a8")
    for k, v in r.model.quant["tensors"].items():
        assert QParams.from_dict(v).same(QParams.from_dict(r3.model.quant["tensors"][k])), k


def test_two_inputs_matmul_of_activations_and_elementwise(tmp_path):
    model = _models.two_input_mlp()
    for mode in ("asymmetric_quantized-u8", "w8a8", "w8a16"):
        r, samples = build(model, tmp_path / mode, [[1, 3, 8, 8], [1, 12]], CHIPS[mode], quantized_dtype=mode)
        assert r.runtime.fallback_ops == []
        twin = export_twin(r.model.graph, r.model.quant)
        for feeds in samples[:3]:
            got = r.runtime.run(feeds)
            want = run_twin(twin, feeds, ["img", "vec"])
            for name, g, w in zip(["gram", "d"], got, want):
                scale = float(QParams.from_dict(r.model.quant["tensors"][name]).scale)
                assert _lsb_diff(g, w, scale).max() <= tolerances.QUANT_LSB, (mode, name)


def test_default_mode_follows_the_platform_and_foreign_modes_are_refused(tmp_path, quiet):
    r1, _ = build(_models.outlier_cnn(), tmp_path / "a", [[1, 3, 12, 12]], "rv1126")
    assert r1.model.mode == "asymmetric_quantized-u8"
    r2, _ = build(_models.outlier_cnn(), tmp_path / "b", [[1, 3, 12, 12]], "rk3566")
    assert r2.model.mode == "w8a8"
    r = RKNN()
    assert r.config(target_platform="rk3588", quantized_dtype="w4a16") != 0
    assert "not available on rk3588" in str(r.last_error)
    assert r.config(target_platform="rk3588", quantized_dtype="asymmetric_quantized-u8") != 0


def test_layer_granularity_and_calibration_algorithms_change_parameters(tmp_path):
    model = _models.outlier_cnn()
    chan, _ = build(model, tmp_path / "c", [[1, 3, 12, 12]], "rk3588", quantized_dtype="w8a8")
    layer, _ = build(model, tmp_path / "l", [[1, 3, 12, 12]], "rk3588", quantized_dtype="w8a8",
                     quantized_method="layer")
    w = "w1"
    assert np.size(chan.model.quant["weights"][w]["scale"]) == 8
    assert np.size(layer.model.quant["weights"][w]["scale"]) == 1
    ranges = {}
    for algo in ("normal", "kl_divergence", "mmse"):
        r, _ = build(model, tmp_path / algo, [[1, 3, 12, 12]], "rk3588", count=8, quantized_algorithm=algo)
        ranges[algo] = r.model.quant["ranges"]
        assert r.model.quant["algorithm"] == algo
    x = "x"   # clipping algorithms never widen the min/max range
    for algo in ("kl_divergence", "mmse"):
        lo, hi = ranges[algo][x]
        assert ranges["normal"][x][0] <= lo <= hi <= ranges["normal"][x][1]
    assert ranges["kl_divergence"] != ranges["normal"] or ranges["mmse"] != ranges["normal"]


def test_nn_layer_dump_writes_every_layer_dequantized(tmp_path, monkeypatch, quiet):
    r, samples = build(_models.small_cnn(), tmp_path / "b", SHAPE, "rk3588", quantized_dtype="w8a8")
    dump = tmp_path / "dump"
    dump.mkdir()
    monkeypatch.chdir(dump)
    monkeypatch.setenv("NN_LAYER_DUMP", "1")
    outs = r.inference([samples[0][0]], data_format="nchw")
    files = sorted(os.listdir(dump))
    assert len(files) == len(r.model.graph.nodes) + 0 * len(outs)
    conv1 = next(f for f in files if "conv1" in f)
    assert "relu1" in conv1     # merged layers map back to the source model (§2.2)
    arr = np.load(dump / conv1, allow_pickle=False)
    assert arr.dtype == np.float32 and arr.min() >= 0


def test_exactness_limit_is_enforced():
    from rknn_diag.ir import Node
    from rknn_diag.sim.int_sim import _check_exact

    _check_exact(2.0 ** 53 - 1, Node("Conv", "c", [], []))
    with pytest.raises(OverflowError, match="2\\^53"):
        _check_exact(2.0 ** 53, Node("Conv", "c", [], []))


@pytest.mark.parametrize("method", ["group32", "group64"])
def test_w4a16_groups_run_on_the_grouped_integer_kernel(method, tmp_path):
    r, samples = build(_models.wide_cnn(), tmp_path, [[1, 4, 8, 8]], "rk3576", quantized_dtype="w4a16",
                       quantized_method=method)
    sim = r.runtime
    g = int(method[5:])
    assert sim.weights["w2"].group == g and sim.weights["wf"].group == g   # 80 and 100 channels: several groups
    assert np.shape(sim.weights["w2"].scale) == (24, -(-80 // g))
    assert "Conv" not in sim.fallback_ops and "Gemm" not in sim.fallback_ops
    per_layer = layerwise_lsb(r.model.graph, r.model.quant, samples[0])
    assert per_layer and max(per_layer.values()) <= tolerances.QUANT_LSB, per_layer
    ref = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": samples[0][0]})
    for got, want in zip(sim.run(samples[0]), ref):
        assert metrics(got, want)["cosine"] >= tolerances.QUANT_OP_COSINE["w4a16"]


@pytest.mark.parametrize("alias,chip,canon", [
    ("asymmetric_affine-u8", "rv1126", "asymmetric_quantized-u8"),
    ("dynamic_fixed_point-8", "rk1808", "dynamic_fixed_point-i8"),
    ("dynamic_fixed_point-16", "rk3399pro", "dynamic_fixed_point-i16"),
    ("asymmetric_quantized-8", "rk3566", "w8a8"),
    ("w16a16i", "rv1103", "w16a16i_dfp"),
])
def test_mode_aliases_build_their_canonical_mode(alias, chip, canon, tmp_path):
    r, samples = build(_models.outlier_cnn(), tmp_path, [[1, 3, 12, 12]], chip, quantized_dtype=alias)
    assert r.model.mode == canon and r.model.quant["mode"] == canon
    assert r.runtime.run(samples[0])[0].shape == (1, 8, 12, 12)


def test_pass_through_input_takes_the_quantized_integers(tmp_path, quiet):
    from rknn_diag.qrules.schemes import quantize

    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, "rk3588", quantized_dtype="w8a8")
    x = samples[0][0]
    q = quantize(x, QParams.from_dict(r.model.quant["tensors"]["x"]))
    normal = r.inference([x], data_format="nchw")
    through = r.inference([q], data_format="nchw", inputs_pass_through=[1])
    for a, b in zip(normal, through):
        np.testing.assert_array_equal(a, b)


def test_accuracy_analysis_takes_sample_files(tmp_path, quiet):
    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, "rk3588", quantized_dtype="w8a8")
    np.save(tmp_path / "one.npy", samples[1][0], allow_pickle=False)
    assert r.accuracy_analysis([str(tmp_path / "one.npy")], str(tmp_path / "snap")) == 0
    by_file = r.analysis.set_index("tensor")["entire_cosine"]
    assert r.accuracy_analysis([samples[1][0]], str(tmp_path / "snap2")) == 0
    assert (r.analysis.set_index("tensor")["entire_cosine"] == by_file).all()
    assert r.accuracy_analysis([str(tmp_path / "missing.npy")], str(tmp_path / "snap3")) != 0
    assert "missing.npy" in str(r.last_error)


def test_grouped_int4_model_file_round_trip(tmp_path, quiet):
    r, samples = build(_models.wide_cnn(), tmp_path, [[1, 4, 8, 8]], "rk3576", quantized_dtype="w4a16",
                       quantized_method="group32")
    assert r.export_rknn(str(tmp_path / "m.rknn")) == 0
    r2 = RKNN()
    assert r2.load_rknn(str(tmp_path / "m.rknn")) == 0 and r2.init_runtime() == 0
    assert r2.model.quant["weights"]["w2"]["group"] == 32
    for a, b in zip(r.inference(samples[0], data_format="nchw"), r2.inference(samples[0], data_format="nchw")):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("mode", ["w8a8", "w8a16"])
def test_lookup_tables_give_the_fallback_formula(mode, tmp_path):
    """Sigmoid runs as a table over every input code; the table is DQ -> sigmoid -> Q per code, so
    on any input it gives what the per-element fallback gives (up to 1 LSB where float32 libm
    differs between a vector lane and a scalar)."""
    r, samples = build(_models.small_cnn(), tmp_path, SHAPE, CHIPS[mode], quantized_dtype=mode)
    sim = r.runtime.reference   # the numpy kernels themselves
    node = next(n for n in r.model.graph.nodes if n.op_type == "Sigmoid")
    assert sim._lut_ok(node) and sim._integer(node)
    env = dict(sim.base)
    trace: dict = {}
    sim.run(samples[0], trace=trace)
    env[node.inputs[0]] = trace[node.inputs[0]]
    lut = sim.run_node(node, env)[0][0]
    fb = sim._fallback(node, env)[0][0]
    assert lut.dtype == fb.dtype
    d = np.abs(lut.astype(np.int64) - fb)
    assert d.max() <= 1 and (d == 0).mean() >= 0.999


def test_rknn_batch_size_and_nhwc_inputs_on_a_quantized_model(tmp_path, quiet):
    import onnx

    from fixtures.datasets import npy_dataset
    onnx.save(_models.outlier_cnn(), str(tmp_path / "m.onnx"))
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 12, 12]], count=4)
    r = RKNN()
    assert r.config(target_platform="rk3588") == 0 and r.load_onnx(str(tmp_path / "m.onnx")) == 0
    assert r.build(do_quantization=True, dataset=str(ds), rknn_batch_size=2) == 0 and r.init_runtime() == 0
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1, 12, 12, 3)).astype(np.float32) for _ in range(2))
    both = r.inference([np.concatenate([a, b])])[0]          # NHWC, the default data_format
    single = r.runtime.run([a.transpose(0, 3, 1, 2)])[0]
    np.testing.assert_array_equal(both[:1], single)
