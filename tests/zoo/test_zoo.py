"""The model zoo: valid ONNX, runs in onnxruntime, realistic activation ranges, deterministic."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from fixtures import zoo
from fixtures.zoo._builder import BN_EPS, smooth_field

NAMES = zoo.names()

# Ops each model must contain (what the model exists to exercise).
REQUIRED_OPS = {
    "mobilenetv2_like": {"Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Reshape", "Gemm",
                         "Softmax"},
    "mobilenetv2_like_outlier": {"Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Gemm",
                                 "Softmax"},
    "resnet18_like": {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Flatten",
                      "Gemm", "Softmax"},
    "yolo_like_head": {"Conv", "BatchNormalization", "Resize", "Concat", "Sigmoid", "Reshape", "Transpose"},
    "ssd_like": {"Conv", "BatchNormalization", "Transpose", "Reshape", "Concat", "Softmax", "Constant"},
}

_cache: dict[str, tuple] = {}


def built(name: str):
    """One build per model per session (the determinism test builds its own)."""
    if name not in _cache:
        _cache[name] = zoo.get(name)
    return _cache[name]


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor as written
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run_all_tensors(model: onnx.ModelProto, feeds: dict) -> dict[str, np.ndarray]:
    """Every node output, exposed by adding it to the graph outputs (all zoo tensors are float32)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    names = [o for n in m.graph.node for o in n.output]
    m.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None)
                          for t in names if t not in have)
    return dict(zip(names, session(m).run(names, feeds)))


def inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def test_registry_lists_the_models_and_get_rejects_unknown_names():
    assert set(NAMES) == set(REQUIRED_OPS)
    with pytest.raises(KeyError, match="mobilenetv2_like"):
        zoo.get("mobilenet_v9")


@pytest.mark.parametrize("name", NAMES)
def test_model_is_valid_onnx_with_the_agreed_interface(name):
    model, feeds, meta = built(name)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    (inp,) = model.graph.input
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.type.tensor_type.elem_type == TensorProto.FLOAT
    assert dims[:2] == [1, 3] and dims[2] == dims[3] and 64 <= dims[2] <= 128
    x = feeds[inp.name]
    assert set(feeds) == {inp.name} and x.dtype == np.float32 and list(x.shape) == dims
    assert -2.0 <= x.min() < x.max() <= 2.0 and x.std() > 0.3      # an image-like, normalised field
    assert isinstance(meta["classifier"], bool) and len(meta["description"]) > 40
    assert meta["outputs"] == [o.name for o in model.graph.output]
    ops = {n.op_type for n in model.graph.node}
    assert REQUIRED_OPS[name] <= ops, f"missing ops: {REQUIRED_OPS[name] - ops}"


@pytest.mark.parametrize("name", NAMES)
def test_every_tensor_is_finite_and_in_a_realistic_range(name):
    model, feeds, _ = built(name)
    acts = run_all_tensors(model, feeds)
    for t, v in acts.items():
        assert np.isfinite(v).all(), f"{name}: {t} has non-finite values"
        assert 1e-2 <= float(v.std()) <= 1e2, f"{name}: {t} std {v.std():.3g} (vanishing or exploding)"
    # Rectified maps must not be mostly dead: at most a quarter of channels constant over the image.
    for n in model.graph.node:
        if n.op_type in ("Relu", "Clip", "LeakyRelu"):
            v = acts[n.output[0]]
            flat = v.reshape(v.shape[1], -1) if v.shape[0] == 1 else v.swapaxes(0, 1).reshape(v.shape[1], -1)
            dead = np.mean(flat.max(axis=1) == flat.min(axis=1))
            assert dead <= 0.25, f"{name}: {n.name} has {dead:.0%} dead channels"


@pytest.mark.parametrize("name", NAMES)
def test_bn_statistics_were_measured_on_real_activations(name):
    """Running mean/var are not the 0/1 defaults, and on a fresh image each BN output
    channel spreads about as its gamma says (the statistics match the data)."""
    model, feeds, _ = built(name)
    w = inits(model)
    acts = run_all_tensors(model, feeds)
    bns = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    assert bns
    for n in bns:
        gamma, mean, var = w[n.input[1]], w[n.input[3]], w[n.input[4]]
        assert not np.allclose(var, 1.0) and not np.allclose(mean, 0.0), f"{n.name}: default statistics"
        assert gamma.std() > 0.05, f"{n.name}: gamma has no spread"
        y = acts[n.output[0]]
        ratio = y.std(axis=(0, 2, 3)) / np.abs(gamma)
        assert 0.5 <= float(np.median(ratio)) <= 2.0, f"{n.name}: post-BN std / gamma = {np.median(ratio):.3g}"


CLASSIFIERS = ["mobilenetv2_like", "mobilenetv2_like_outlier", "resnet18_like"]


@pytest.mark.parametrize("name", NAMES)
def test_meta_says_which_models_are_classifiers(name):
    assert built(name)[2]["classifier"] is (name in CLASSIFIERS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_outputs_a_peaked_probability_vector(name):
    model, feeds, _ = built(name)
    (probs,) = session(model).run(None, feeds)
    assert probs.ndim == 2 and probs.shape[0] == 1 and probs.shape[1] >= 10
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    assert probs.max() > 10.0 / probs.shape[1], "softmax is flat: logits carry no ranking"


def test_ssd_priors_do_not_depend_on_the_input():
    model, feeds, meta = built("ssd_like")
    (name,) = meta["constant_outputs"]
    sess = session(model)
    x = next(iter(feeds.values()))
    other = smooth_field(np.random.default_rng(99), x.shape)
    a = dict(zip(meta["outputs"], sess.run(None, feeds)))
    b = dict(zip(meta["outputs"], sess.run(None, {model.graph.input[0].name: other})))
    assert np.array_equal(a[name], b[name])
    assert not np.allclose(a["loc"], b["loc"]), "the other input did not change the image-dependent outputs"
    assert a[name].shape == a["loc"].shape and a["conf"].shape[:2] == a["loc"].shape[:2]
    # Structurally: no path from the graph input to the prior output.
    producer = {o: n for n in model.graph.node for o in n.output}
    stack, seen = [name], set()
    while stack:
        t = stack.pop()
        assert t != model.graph.input[0].name, "the prior branch reads the input"
        n = producer.get(t)
        if n is not None and n.name not in seen:
            seen.add(n.name)
            stack.extend(i for i in n.input if i)


def test_yolo_head_concatenates_both_scales():
    model, feeds, meta = built("yolo_like_head")
    (det,) = session(model).run(None, feeds)
    size = meta["input_shape"][2]
    boxes = meta["anchors"] * ((size // 16) ** 2 + (size // 8) ** 2)
    assert det.shape == (1, boxes, 5 + meta["classes"])
    assert 0.0 < det.min() and det.max() < 1.0          # after Sigmoid
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    assert helper.get_attribute_value(next(a for a in resize.attribute if a.name == "mode")) == b"nearest"
    assert np.array_equal(inits(model)[resize.input[2]], [1, 1, 2, 2])


def test_outlier_variant_has_an_outlier_channel_that_survives_bn_folding():
    clean, feeds, _ = built("mobilenetv2_like")
    bad, bad_feeds, meta = built("mobilenetv2_like_outlier")
    w = inits(bad)
    conv = next(n for n in bad.graph.node if n.name == meta["bad_layer"])
    bn = next(n for n in bad.graph.node if n.name == meta["bad_bn"])
    assert conv.op_type == "Conv" and bn.op_type == "BatchNormalization" and bn.input[0] == conv.output[0]
    k = meta["outlier_channel"]

    def outlier_ratio(weight: np.ndarray) -> float:
        per_channel = np.abs(weight).reshape(weight.shape[0], -1).max(axis=1)
        return float(per_channel[k] / np.median(np.delete(per_channel, k)))

    weight = w[conv.input[1]]
    gamma, var = w[bn.input[1]], w[bn.input[4]]
    folded = weight * (gamma / np.sqrt(var + BN_EPS))[:, None, None, None]   # what a converter computes
    assert outlier_ratio(weight) > 30 and outlier_ratio(folded) > 30
    # The clean model's same layer has no outlier, and the float outputs agree.
    clean_w = inits(clean)[conv.input[1]]
    assert outlier_ratio(clean_w) < 5
    np.testing.assert_array_equal(feeds[clean.graph.input[0].name], bad_feeds[bad.graph.input[0].name])
    (p_clean,) = session(clean).run(None, feeds)
    (p_bad,) = session(bad).run(None, bad_feeds)
    np.testing.assert_allclose(p_bad, p_clean, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_building_twice_gives_byte_identical_models(name):
    m1, f1, meta1 = zoo.get(name)
    m2, f2, meta2 = zoo.get(name)
    assert m1.SerializeToString() == m2.SerializeToString()
    assert meta1 == meta2 and f1.keys() == f2.keys()
    for k in f1:
        assert np.array_equal(f1[k], f2[k])


def test_size_can_be_raised_for_benchmarks_and_bad_sizes_are_refused():
    model, feeds, meta = zoo.get("yolo_like_head", size=128)
    onnx.checker.check_model(model, full_check=True)
    assert meta["input_shape"] == [1, 3, 128, 128] and next(iter(feeds.values())).shape == (1, 3, 128, 128)
    (det,) = session(model).run(None, feeds)
    assert det.shape == (1, 3 * (8 * 8 + 16 * 16), 15)
    with pytest.raises(ValueError, match="multiple of 32"):
        zoo.get("resnet18_like", size=80)


def test_dataset_images_are_new_images_of_the_feed_kind():
    _, feeds, meta = built("ssd_like")
    feed = next(iter(feeds.values()))
    imgs = zoo.dataset_images(meta, 3)
    assert imgs.shape == (3, *feed.shape[1:]) and imgs.dtype == np.float32
    assert -2.0 <= imgs.min() and imgs.max() <= 2.0
    assert not any(np.allclose(im, feed[0]) for im in imgs)
    assert np.array_equal(imgs, zoo.dataset_images(meta, 3))


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def test_mobilenet_has_depthwise_convs_at_both_strides_and_residuals():
    model, _, _ = built("mobilenetv2_like")
    w = inits(model)
    dw_strides = {tuple(_attrs(n)["strides"]) for n in model.graph.node
                  if n.op_type == "Conv" and _attrs(n)["group"] > 1
                  and _attrs(n)["group"] == w[n.input[1]].shape[0] and w[n.input[1]].shape[1] == 1}
    assert dw_strides == {(1, 1), (2, 2)}
    assert sum(n.op_type == "Add" for n in model.graph.node) >= 3
    clip = next(n for n in model.graph.node if n.op_type == "Clip")
    assert len(clip.input) == 3 and (w[clip.input[1]], w[clip.input[2]]) == (0.0, 6.0)   # opset-13 form


def test_resnet_has_the_stem_pool_and_strided_1x1_shortcuts():
    model, _, _ = built("resnet18_like")
    pool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    assert _attrs(pool) == {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    shortcuts = [n for n in model.graph.node if n.op_type == "Conv" and "downsample" in n.name]
    assert len(shortcuts) == 3
    assert all(_attrs(n)["kernel_shape"] == [1, 1] and _attrs(n)["strides"] == [2, 2] for n in shortcuts)


def test_cli_writes_model_feed_meta_and_dataset(tmp_path):
    import json

    from fixtures.zoo.__main__ import main
    assert main(["--out", str(tmp_path), "--dataset", "2", "ssd_like"]) == 0
    model = onnx.load(str(tmp_path / "ssd_like.onnx"))
    _, feeds, meta = built("ssd_like")
    assert model.SerializeToString() == built("ssd_like")[0].SerializeToString()
    x = np.load(tmp_path / "ssd_like.input.npy", allow_pickle=False)
    assert np.array_equal(x, next(iter(feeds.values())))
    assert json.loads((tmp_path / "ssd_like.meta.json").read_text()) == meta
    listed = (tmp_path / "ssd_like.dataset" / "dataset.txt").read_text().split()
    assert len(listed) == 2
    imgs = [np.load(f, allow_pickle=False) for f in listed]
    assert all(im.shape == x.shape for im in imgs)
    assert main(["--out", str(tmp_path), "--size", "100", "ssd_like"]) == 2


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", NAMES)
def test_int8_is_meaningful_and_the_outlier_variant_is_not(name):
    """Per-tensor int8 (weights) / uint8 (activations) keeps the clean models' outputs
    (their ranges suit 8 bits); the outlier variant's 100x channel wrecks its output."""
    from .fake_quant import fake_quant_twin
    model, feeds, meta = built(name)
    twin = fake_quant_twin(model, zoo.dataset_images(meta, 8))
    onnx.checker.check_model(twin)
    ref, out = session(model).run(None, feeds), session(twin).run(None, feeds)
    worst = min(_cosine(r, o) for r, o in zip(ref, out))
    if "bad_layer" in meta:
        assert worst < 0.9, f"{name}: outlier survives per-tensor int8 (cosine {worst:.4f})"
    else:
        assert worst > 0.99, f"{name}: per-tensor int8 cosine {worst:.4f}"
        if meta["classifier"]:
            assert np.argmax(ref[0]) == np.argmax(out[0])
