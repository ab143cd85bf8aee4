"""Every framework frontend on the user's path, against the framework's own runtime.

config(mean/std) -> load_<framework> -> build -> export_rknn -> load_rknn -> init_runtime ->
inference on a pixel-range image, compared with the framework reference on the same
normalised input: OpenCV DNN for Caffe and Darknet, torch for TorchScript. Single layers
are judged by the float16 elementwise rule, whole models by cosine >= FLOAT16_MODEL_COSINE
(and the same top-1 for classifiers). The guide's conversion failures (chapters 3 and 5)
are refused with the guide's fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures import frontends as fx
from fixtures.datasets import _image, image_dataset
from rknn_diag import outcome, tolerances
from rknn_diag.api import RKNN
from rknn_diag.compare import check_float16, metrics
from rknn_diag.errors import RknnDiagError
from rknn_diag.frontends import darknet_loader
from rknn_diag.targets import BuildSpec

cv2 = pytest.importorskip("cv2", reason="the frontends extra (opencv-python-headless<5) is not installed")

MEAN, STD = [103.94, 116.78, 123.68], [58.4, 57.1, 57.4]


def _needs_tflite():
    """The .tflite writer of the fixtures and the interpreter (absent where the frontends extra is, e.g. the
    vendor's environment)."""
    pytest.importorskip("tflite", reason="the frontends extra (tflite) is not installed")
    pytest.importorskip("ai_edge_litert.interpreter", reason="the frontends extra (ai-edge-litert) is not installed")


def run_public(target, tmp_path: Path, load: tuple[str, dict], shape_nchw, seed: int = 0,
               dataset: Path | None = None):
    """The user's path, on the --target: config(mean/std) -> load -> build -> export_rknn ->
    load_rknn -> init_runtime -> inference on a pixel-range NHWC image. `load` is the loader and its
    arguments, e.g. ("load_caffe", {"model": ..., "blobs": ...}); with a dataset the build quantizes.
    Returns (outputs, the normalised NCHW input the reference gets, our RKNN of the build or None
    on another target). A vendor's refusal or crash is its finding: an expected failure."""
    n, c, h, w = shape_nchw
    img = _image(np.random.default_rng(seed), h, w, c)[None].astype(np.float32)
    x = ((img - np.float32(MEAN[:c])) / np.float32(STD[:c])).transpose(0, 3, 1, 2).copy()
    config = dict(mean_values=[MEAN[:c]], std_values=[STD[:c]], target_platform="rk3588")
    if not target.own_toolchain:
        spec = BuildSpec(config=config, do_quantization=dataset is not None,
                         dataset=str(dataset) if dataset else None, data_format="nhwc", load=load)
        try:
            return target.run(str(load[1].get("model") or load[1].get("tf_pb")), spec, [img]).outputs, x, None
        except RknnDiagError as e:
            if not outcome.is_expected(outcome.of_exception(e)):
                raise
            pytest.xfail(f"{target.name} {load[0]}: {e}")   # the plugin records its category
    method, kwargs = load
    rknn = RKNN()
    assert rknn.config(**config) == 0
    assert getattr(rknn, method)(**kwargs) == 0, rknn.last_error
    assert rknn.build(do_quantization=dataset is not None, dataset=str(dataset) if dataset else None) == 0, \
        rknn.last_error
    assert dataset is None or rknn.model.mode != "float16"
    path = str(tmp_path / "model.rknn")
    assert rknn.export_rknn(path) == 0
    runner = RKNN()
    assert runner.load_rknn(path) == 0
    assert runner.init_runtime() == 0
    outs = runner.inference(inputs=[img])
    assert outs is not None, runner.last_error
    return outs, x, rknn


def _verdict(target, problems: list[str]) -> None:
    """Our wrong answer fails the case; the vendor's is a finding (expected failure, listed)."""
    if not problems:
        return
    if getattr(target, "vendor", False):
        pytest.xfail(f"{target.name} differs from the framework: {'; '.join(problems)}")
    pytest.fail("; ".join(problems), pytrace=False)


def judge_layer(target, outs, refs):
    v = check_float16(outs, refs)
    _verdict(target, [] if v.ok else [v.message])


def judge_model(target, outs, refs, classifier: bool):
    problems = [] if len(outs) == len(refs) else [f"{len(outs)} outputs, the framework has {len(refs)}"]
    for got, ref in zip(outs, refs):
        if got.shape != ref.shape:
            problems.append(f"shape {got.shape} != {ref.shape}")
            continue
        m = metrics(got, ref, classifier=classifier)
        if m["cosine"] < tolerances.FLOAT16_MODEL_COSINE:
            problems.append(f"cosine {m['cosine']:.6f} < {tolerances.FLOAT16_MODEL_COSINE}")
        if classifier and m["top1"] != 1.0:
            problems.append(f"top-1 changed ({m['top1']})")
    _verdict(target, problems)


def fails_with(load, *needles: str, code: int | None = None):
    """A refused load (a callable on RKNN, or (loader, kwargs)): a vendor return code, and a message
    carrying each needle (the fix, the §)."""
    rknn = RKNN()
    rc = getattr(rknn, load[0])(**load[1]) if isinstance(load, tuple) else load(rknn)
    assert rc < 0
    if code is not None:
        assert rc == code
    text = str(rknn.last_error)
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    return text


# ---- Caffe -------------------------------------------------------------------------------------------
def _caffe(proto, weights):
    return "load_caffe", {"model": str(proto), "blobs": str(weights)}


def _opencv_caffe(proto, weights, x):
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.setInput(x)
    names = net.getUnconnectedOutLayersNames()
    return [np.asarray(o) for o in net.forward(names)]


def _stem(n, ch=6):
    return n.relu("stem_relu", n.conv("stem", "data", ch, k=3))


CAFFE_LAYERS = {
    "conv_k3_s1_p1": lambda n: n.conv("c", "data", 8, k=3),
    "conv_k3_s2_p0_nobias": lambda n: n.conv("c", "data", 8, k=3, s=2, p=0, bias=False),
    "conv_k5_group3": lambda n: n.conv("c", "data", 6, k=5, group=3),
    "conv_depthwise": lambda n: n.conv("c", _stem(n), 6, k=3, group=6),
    "conv_dilation2": lambda n: n.conv("c", "data", 8, k=3, dilation=2),
    "conv_k1_s2": lambda n: n.conv("c", "data", 8, k=1, s=2, p=0),
    "deconv_k4_s2_p1": lambda n: n.conv("d", "data", 4, k=4, s=2, p=1, deconv=True),
    "deconv_group3": lambda n: n.conv("d", "data", 6, k=3, s=2, p=1, group=3, deconv=True),
    "batchnorm_scale": lambda n: n.bn_scale("bn", _stem(n), factor=999.98),
    "relu_leaky": lambda n: n.relu("r", _stem(n), slope=0.1),
    "eltwise_sum": lambda n: n.layer("e", "Eltwise", [_stem(n), n.conv("b", "data", 6, k=1)], "e"),
    "eltwise_sum_coeff": lambda n: n.layer("e", "Eltwise", [_stem(n), n.conv("b", "data", 6, k=1)], "e",
                                           "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }"),
    "eltwise_prod3": lambda n: n.layer("e", "Eltwise", [_stem(n), n.conv("b", "data", 6, k=1),
                                                        n.conv("c", "data", 6, k=1)], "e",
                                       "eltwise_param { operation: PROD }"),
    "eltwise_max": lambda n: n.layer("e", "Eltwise", [_stem(n), n.conv("b", "data", 6, k=1)], "e",
                                     "eltwise_param { operation: MAX }"),
    "concat": lambda n: n.concat("cat", [_stem(n), n.conv("b", "data", 4, k=1)]),
    "maxpool_ceil_k3_s2": lambda n: n.pool("p", _stem(n), k=3, s=2),
    "maxpool_ceil_k3_s2_p1": lambda n: n.pool("p", _stem(n), k=3, s=2, p=1),
    "maxpool_floor": lambda n: n.pool("p", _stem(n), k=3, s=2, ceil=False),
    "avepool_ceil_k3_s2": lambda n: n.pool("p", _stem(n), kind="AVE", k=3, s=2),
    "avepool_k3_s2_p1": lambda n: n.pool("p", _stem(n), kind="AVE", k=3, s=2, p=1),
    "global_avepool": lambda n: n.pool("p", _stem(n), kind="AVE", global_=True),
    "global_maxpool": lambda n: n.pool("p", _stem(n), global_=True),
    "innerproduct": lambda n: n.fc("fc", _stem(n), 10),
    "softmax": lambda n: n.layer("s", "Softmax", n.fc("fc", _stem(n), 10), "s"),
    "softmax_channels": lambda n: n.layer("s", "Softmax", _stem(n), "s"),
    "permute_flatten": lambda n: n.layer("f", "Flatten", n.layer("p", "Permute", _stem(n), "p",
                                                                  "permute_param { order: 0 order: 2 order: 3 "
                                                                  "order: 1 }",
                                                                  shape=[1, 16, 16, 6]), "f", shape=[1, 1536]),
    "flatten_end_axis": lambda n: n.layer("f", "Flatten", _stem(n), "f", "flatten_param { axis: 1 end_axis: 2 }",
                                          shape=[1, 96, 16]),
    "reshape": lambda n: n.layer("r", "Reshape", _stem(n), "r", "reshape_param { shape { dim: 0 dim: 3 dim: -1 } }",
                                 shape=[1, 3, 512]),
    "slice": lambda n: n.concat("cat", ["s3", "s1", "s2"]) if n.layer(
        "s", "Slice", _stem(n), ["s1", "s2", "s3"], "slice_param { axis: 1 slice_point: 1 slice_point: 4 }") else None,
    "lrn": lambda n: n.layer("l", "LRN", _stem(n), "l", "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"),
    "prelu": lambda n: n.layer("p", "PReLU", n.conv("c", "data", 6, k=3), "p",
                               blobs=[np.linspace(-0.5, 0.5, 6)]),
    "sigmoid": lambda n: n.layer("s", "Sigmoid", n.conv("c", "data", 6, k=3), "s"),
    "absval_bnll": lambda n: n.layer("b", "BNLL", n.layer("a", "AbsVal", n.conv("c", "data", 6, k=3), "a"), "b"),
    "tanh": lambda n: n.layer("t", "TanH", n.conv("c", "data", 6, k=3), "t"),
    "elu": lambda n: n.layer("e", "ELU", n.conv("c", "data", 6, k=3), "e", "elu_param { alpha: 0.5 }"),
    "power": lambda n: n.layer("p", "Power", _stem(n), "p", "power_param { power: 2 scale: 0.5 shift: 1 }"),
    # on the input itself: a conv before it would feed it float16 conv rounding amplified 20/|x| times
    "normalize_ssd": lambda n: n.layer("norm", "Normalize", "data", "norm",
                                       "norm_param { across_spatial: false channel_shared: false }",
                                       blobs=[np.array([20.0, 10.0, 5.0])]),
    "priorbox_ssd": lambda n: n.layer("pb", "PriorBox", [n.conv("c", "data", 6, k=3, s=4, p=1), "data"], "pb",
                                      "prior_box_param { min_size: 8 max_size: 16 aspect_ratio: 2 flip: true "
                                      "clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 }"),
    "dropout_split": lambda n: n.layer("e", "Eltwise", ["a", n.conv("c", "b", 4, k=1)], "e",
                                       "eltwise_param { operation: MAX }") if n.layer(
        "sp", "Split", n.layer("d", "Dropout", _stem(n, 4), "d"), ["a", "b"]) else None,
}


@pytest.mark.parametrize("case", sorted(CAFFE_LAYERS))
def test_caffe_layer(case, target, tmp_path):
    net = fx.CaffeNet(case, (1, 3, 16, 16), seed=sum(map(ord, case)))
    CAFFE_LAYERS[case](net)
    proto, weights = net.write(tmp_path)
    outs, x, _ = run_public(target, tmp_path, _caffe(proto, weights),
                            (1, 3, 16, 16))
    judge_layer(target, outs, _opencv_caffe(proto, weights, x))


# Caffe LSTM (the LSTM fork, proto='lstm_caffe', §1.3.1 note 3): a CRNN-style head on image columns.
# OpenCV's Caffe importer takes LSTM blobs in its own order (Wh, Wx, b), not Caffe's (W_xc, b_c, W_hc),
# so the reference is torch.nn.LSTM with Caffe's weights mapped to torch's gate order.
LSTM_CASES = {   # name: (permute order of the NCHW input -> (T, N, ...), hidden sizes, fc outputs)
    "lstm_columns": ((3, 0, 1, 2), [8], 0),            # T = W, N = 1, features C*H
    "lstm_rows_batch8": ((2, 3, 0, 1), [6], 0),       # T = H, N = W (8 sequences), features C
    "lstm_stacked_fc_axis2": ((3, 0, 1, 2), [8, 5], 11),   # warpctc-caffe's lstm_ctc head
}


def _caffe_lstm_net(case, seed):
    order, hiddens, classes = LSTM_CASES[case]
    net = fx.CaffeNet(case, (1, 3, 8, 16), seed=seed)
    x = net.layer("perm", "Permute", "data", "perm", "permute_param { " + " ".join(f"order: {o}" for o in order) +
                  " }", shape=[[1, 3, 8, 16][o] for o in order])
    steps, batch = net.shapes[x][:2]
    net.text.append(f'layer {{ name: "indicator" type: "ContinuationIndicator" top: "indicator" '
                    f'continuation_indicator_param {{ time_step: {steps} batch_size: {batch} }} }}')
    for i, hidden in enumerate(hiddens):
        feat = int(np.prod(net.shapes[x][2:]))
        blobs = [net.rng.normal(0, 1 / np.sqrt(feat), (4 * hidden, feat)), net.rng.normal(0, 0.3, 4 * hidden),
                 net.rng.normal(0, 1 / np.sqrt(hidden), (4 * hidden, hidden))]
        x = net.layer(f"lstm{i + 1}", "LSTM", [x, "indicator"], f"lstm{i + 1}",
                      f"recurrent_param {{ num_output: {hidden} }}", blobs, shape=[steps, batch, hidden])
    if classes:
        net.layer("fc1", "InnerProduct", x, "fc1", f"inner_product_param {{ num_output: {classes} axis: 2 }}",
                  [net.rng.normal(0, 0.3, (classes, hiddens[-1])), net.rng.normal(0, 0.1, classes)],
                  shape=[steps, batch, classes])
    return net


def _torch_caffe_lstm(net, case, x):
    """torch's LSTM (gates i, f, g, o) with Caffe's blobs (gates i, f, o, g), on the same normalised input."""
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    order, hiddens, classes = LSTM_CASES[case]
    y = torch.from_numpy(x).permute(*order)
    y = y.reshape(y.shape[0], y.shape[1], -1)
    with torch.no_grad():
        for i, hidden in enumerate(hiddens):
            w_x, b_c, w_h = (torch.from_numpy(b) for b in net.blobs[f"lstm{i + 1}"])
            ifgo = torch.cat([torch.arange(0, 2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                              torch.arange(2 * hidden, 3 * hidden)])
            lstm = torch.nn.LSTM(y.shape[2], hidden)
            lstm.weight_ih_l0.copy_(w_x[ifgo])
            lstm.weight_hh_l0.copy_(w_h[ifgo])
            lstm.bias_ih_l0.copy_(b_c[ifgo])
            lstm.bias_hh_l0.zero_()
            y = lstm(y)[0]
        if classes:
            w, b = (torch.from_numpy(a) for a in net.blobs["fc1"])
            y = torch.nn.functional.linear(y, w, b)
    return [y.numpy()]


@pytest.mark.parametrize("case", sorted(LSTM_CASES))
def test_caffe_lstm(case, target, tmp_path):
    net = _caffe_lstm_net(case, seed=sum(map(ord, case)))
    proto, weights = net.write(tmp_path)
    outs, x, rknn = run_public(target, tmp_path, ("load_caffe", {"model": str(proto), "blobs": str(weights),
                                                                 "proto": "lstm_caffe"}), (1, 3, 8, 16))
    judge_layer(target, outs, _torch_caffe_lstm(net, case, x))
    if rknn is not None:   # the merge record names the Caffe layer
        assert any(n.op_type == "LSTM" and n.source == ["lstm1"] for n in rknn.model.graph.nodes)


def test_caffe_bias_layer(target, tmp_path):
    """OpenCV has no Bias layer: its reference is the same net with Bias written as Caffe defines it, a Scale
    of ones with that bias."""
    def net(kind):
        n = fx.CaffeNet("bias", (1, 3, 16, 16), seed=5)
        bias = np.linspace(-1, 1, 6)
        if kind == "Bias":
            n.layer("b", "Bias", n.conv("c", "data", 6, k=3), "b", "bias_param { axis: 1 }", blobs=[bias])
        else:
            n.layer("b", "Scale", n.conv("c", "data", 6, k=3), "b", "scale_param { bias_term: true }",
                    blobs=[np.ones(6), bias])
        return n.write(tmp_path / kind)
    (tmp_path / "Bias").mkdir()
    (tmp_path / "Scale").mkdir()
    proto, weights = net("Bias")
    outs, x, _ = run_public(target, tmp_path, _caffe(proto, weights), (1, 3, 16, 16))
    judge_layer(target, outs, _opencv_caffe(*net("Scale"), x))


def test_caffe_lstm_with_a_data_dependent_indicator_is_refused(tmp_path):
    """Resets inside a sequence (cont fed as an input) cannot be one LSTM: refused by name with the fix."""
    net = fx.CaffeNet("lstm", (4, 1, 6))
    net.text.append('layer { name: "cont" type: "Input" top: "cont" input_param { shape { dim: 4 dim: 1 } } }')
    net.layer("lstm1", "LSTM", ["data", "cont"], "lstm1", "recurrent_param { num_output: 3 }",
              [np.zeros((12, 6)), np.zeros(12), np.zeros((12, 3))])
    proto, weights = net.write(tmp_path)
    fails_with(lambda r: r.load_caffe(str(proto), str(weights), proto="lstm_caffe"), "lstm1", "'cont'",
               "ContinuationIndicator", "time_step: 4 batch_size: 1")


def test_caffe_other_recurrent_layers_are_refused_by_name(tmp_path):
    net = fx.CaffeNet("rnn", (4, 1, 6))
    net.layer("rnn1", "RNN", ["data", "data"], "rnn1", "recurrent_param { num_output: 3 }")
    proto, weights = net.write(tmp_path)
    fails_with(lambda r: r.load_caffe(str(proto), str(weights), proto="lstm_caffe"), "'RNN'", "rnn1",
               "only LSTM")


@pytest.mark.parametrize("build", [fx.squeezenet_like, fx.mobilenet_like], ids=lambda f: f.__name__)
def test_caffe_model(build, target, tmp_path):
    net = build(seed=7)
    proto, weights = net.write(tmp_path)
    shape = net.shapes["data"]
    outs, x, rknn = run_public(target, tmp_path, _caffe(proto, weights), shape)
    judge_model(target, [o.reshape(o.shape[0], -1) for o in outs],
                [r.reshape(r.shape[0], -1) for r in _opencv_caffe(proto, weights, x)], classifier=True)
    if rknn is None:
        return
    # The merge record names the user's layers (layer dumps, accuracy_analysis): conv + BN + Scale + ReLU.
    sources = {s for n in rknn.model.graph.nodes for s in n.source}
    layer_names = {str(ln.split('name: "')[1].split('"')[0]) for ln in proto.read_text().splitlines()[2:]}
    assert sources <= layer_names
    if build is fx.mobilenet_like:
        conv1 = next(n for n in rknn.model.graph.nodes if "conv1" in n.source)
        assert {"conv1", "conv1_bn", "conv1_scale", "conv1/relu"} <= set(conv1.source)


def test_caffe_toolkit1_argument_order(tmp_path):
    """Toolkit 1.x scripts call load_caffe(model, proto, blobs)."""
    proto, weights = fx.squeezenet_like().write(tmp_path)
    rknn = RKNN()
    assert rknn.load_caffe(str(proto), "caffe", str(weights)) == 0


# The guide's chapter 3, each refusal with its fix.
def _edit(tmp_path, build, old: str, new: str):
    proto, weights = build().write(tmp_path)
    text = proto.read_text()
    assert old in text
    proto.write_text(text.replace(old, new, 1))
    return proto, weights


def test_caffe_deprecated_input_syntax(tmp_path):  # §3.1
    proto, weights = _edit(tmp_path, fx.squeezenet_like,
                           'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 '
                           'dim: 48 dim: 48 } } }',
                           'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 48\ninput_dim: 48')
    # toolkit 1.x refuses the old spelling (the guide's §3.1); toolkit2 reads it (tests/dropin/test_caffe_examples.py)
    text = fails_with(lambda r: r.config(target_platform="rv1126") or r.load_caffe(str(proto), str(weights)),
                      "Deprecated caffe input usage", 'type: "Input"', "input_param", "§3.1")
    assert f"{proto}:2" in text   # the line of the deprecated field


def test_caffe_round_mode(tmp_path):  # §3.2
    proto, weights = _edit(tmp_path, fx.squeezenet_like, "pool: MAX kernel_size: 3", "pool: MAX round_mode: CEIL "
                                                                                     "kernel_size: 3")
    fails_with(_caffe(proto, weights), "round_mode", "ceil_mode: true", "pool1", "§3.2")


def test_caffe_invalid_scope_name(tmp_path):  # §3.3
    proto, weights = _edit(tmp_path, fx.squeezenet_like, 'name: "fire2/concat"', 'name: "_plus0_17"')
    fails_with(_caffe(proto, weights), "'_plus0_17' is not a valid scope name",
               "start with a letter, digit or '.'", "§3.3")


def test_caffe_ssd_detection_output(tmp_path):  # §3.4
    net = fx.CaffeNet("ssd", (1, 3, 16, 16))
    loc, conf = net.conv("mbox_loc", "data", 8, k=3), net.conv("mbox_conf", "data", 4, k=3)
    net.layer("detection_out", "DetectionOutput", [loc, conf, "data"], "detection_out",
              "detection_output_param { num_classes: 2 }")
    proto, weights = net.write(tmp_path)
    fails_with(_caffe(proto, weights), "DetectionOutput", "detection_out",
               "delete the DetectionOutput layer", "CPU", "§3.4")


def test_caffe_ssd_head_without_detection_output_returns_loc_and_conf(target, tmp_path):  # §3.5
    """After deleting DetectionOutput, loc and conf are the outputs: the prior boxes, the same for
    every input, are not returned (the guide's §3.5; rknn-toolkit2's caffe/vgg-ssd reads outputs[0]
    and outputs[1] as loc and conf)."""
    net = fx.CaffeNet("ssd_head", (1, 3, 32, 32), seed=3)
    feat = _stem(net)
    net.layer("mbox_loc_perm", "Permute", net.conv("mbox_loc", feat, 16, k=3), "mbox_loc_perm",
              "permute_param { order: 0 order: 2 order: 3 order: 1 }", shape=[1, 32, 32, 16])
    net.layer("mbox_conf_perm", "Permute", net.conv("mbox_conf", feat, 8, k=3), "mbox_conf_perm",
              "permute_param { order: 0 order: 2 order: 3 order: 1 }", shape=[1, 32, 32, 8])
    net.layer("mbox_priorbox", "PriorBox", [feat, "data"], "mbox_priorbox",
              "prior_box_param { min_size: 4 max_size: 9 aspect_ratio: 2 flip: true clip: true variance: 0.1 "
              "variance: 0.1 variance: 0.2 variance: 0.2 step: 1 offset: 0.5 }")
    proto, weights = net.write(tmp_path)
    outs, x, _ = run_public(target, tmp_path, _caffe(proto, weights),
                            (1, 3, 32, 32))
    loc, conf, priors = _opencv_caffe(proto, weights, x)          # OpenCV returns the priors as well
    assert priors.shape[1] == 2
    judge_layer(target, outs, [loc, conf])


def test_caffe_python_proposal_layer(tmp_path):  # §3.6
    net = fx.CaffeNet("frcnn", (1, 3, 16, 16))
    net.layer("proposal", "Python", [net.conv("rpn_cls_prob_reshape", "data", 18, k=1),
                                     net.conv("rpn_bbox_pred", "data", 36, k=1)], "rois",
              "python_param { module: 'rpn.proposal_layer' layer: 'ProposalLayer' }")
    proto, weights = net.write(tmp_path)
    fails_with(_caffe(proto, weights), "proposal", "type: 'proposal'", "feat_stride",
               "§3.6")


def test_caffe_v1_layers(tmp_path):  # §3.7
    proto = tmp_path / "vgg_v1.prototxt"
    proto.write_text('name: "vgg"\ninput: "data"\nlayers {\n  name: "conv1" type: CONVOLUTION bottom: "data" '
                     'top: "conv1"\n}\n'.replace('input: "data"\n', ""))
    fails_with(lambda r: r.load_caffe(str(proto), None), "v0 layer or v1 layer", "upgrade_net_proto_text",
               "upgrade_net_proto_binary", "§3.7")


def test_caffe_v1_caffemodel(tmp_path):  # §3.7, the binary side
    from rknn_diag.frontends.caffe_proto import message_class
    proto, _ = fx.squeezenet_like().write(tmp_path)
    old = message_class("NetParameter")(name="old")
    old.layers.add(name="conv1").blobs.add().data.extend([1.0])
    weights = tmp_path / "old.caffemodel"
    weights.write_bytes(old.SerializeToString())
    fails_with(_caffe(proto, weights), "upgrade_net_proto_binary", "§3.7")


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "text", "other_net"])
def test_caffe_bad_weights_are_refused_with_the_file(damage, tmp_path):
    proto, weights = fx.squeezenet_like().write(tmp_path)
    if damage == "missing":
        weights = tmp_path / "nope.caffemodel"
    elif damage == "empty":
        weights.write_bytes(b"")
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "text":
        weights.write_bytes(proto.read_bytes())
    else:
        _, weights = fx.mobilenet_like().write(tmp_path)
    text = fails_with(_caffe(proto, weights))
    assert (str(weights) in text or str(proto) in text) and "Fix:" in text


# ---- Darknet ---------------------------------------------------------------------------------------
def _opencv_darknet(cfg, weights, x, outputs: list[str]):
    """OpenCV's outputs for ours: a [yolo] head is compared before OpenCV's decoding (the layer
    before its permute_<i>), anything else with OpenCV's final output."""
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    names = list(net.getLayerNames())
    wanted = [names[names.index(f"permute_{o.split('_')[1]}") - 1] if o.startswith(("yolo_", "region_")) else None
              for o in outputs]
    net.setInput(x)
    if None in wanted:
        return [np.asarray(net.forward())]
    return [np.asarray(o) for o in net.forward(wanted)]


def _darknet_case(target, tmp_path, name, cfg, seed=0):
    cfg_path, weights = fx.darknet_files(tmp_path, name, cfg, seed)
    secs = cfg.split("[net]", 1)[1]
    size = int(secs.split("width=")[1].split()[0])
    outs, x, _ = run_public(target, tmp_path, ("load_darknet", {"model": str(cfg_path), "weight": str(weights)}),
                            (1, 3, size, size))
    names = [v.name for v in darknet_loader.load(cfg_path, weights).outputs]
    return outs, _opencv_darknet(cfg_path, weights, x, names), names


def test_darknet_yolov3_tiny(target, tmp_path):
    outs, refs, names = _darknet_case(target, tmp_path, "yolov3-tiny", fx.yolov3_tiny_cfg(), seed=5)
    assert names == ["yolo_16", "yolo_23"]
    judge_model(target, outs, refs, classifier=False)


_NET = "[net]\nwidth=32\nheight=32\nchannels=3\n\n"
DARKNET_LAYERS = {
    "conv_bn_leaky": fx._conv(16),
    "conv_bias_linear": fx._conv(16, bn=0, act="linear"),
    "conv_stride2": fx._conv(16, stride=2),
    "conv_1x1_relu": fx._conv(16, size=1, act="relu"),
    "conv_groups_mish": fx._conv(6, groups=3, act="mish"),
    "conv_swish": fx._conv(8, act="swish"),
    "conv_logistic": fx._conv(8, bn=0, act="logistic"),
    "maxpool_2_2": fx._conv(8) + "[maxpool]\nsize=2\nstride=2\n\n",
    "maxpool_2_1": fx._conv(8) + "[maxpool]\nsize=2\nstride=1\n\n",
    "maxpool_3_1": fx._conv(8) + "[maxpool]\nsize=3\nstride=1\n\n",
    "maxpool_5_1": fx._conv(8) + "[maxpool]\nsize=5\nstride=1\n\n",
    "route_concat": fx._conv(8) + fx._conv(4, size=1) + "[route]\nlayers=-1,-2\n\n",
    "route_groups": fx._conv(8) + "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n\n" + fx._conv(4),
    "shortcut": fx._conv(8) + fx._conv(8, size=1) + "[shortcut]\nfrom=-2\nactivation=linear\n\n",
    "shortcut_leaky": fx._conv(8) + fx._conv(8) + "[shortcut]\nfrom=-2\nactivation=leaky\n\n",
    "upsample": fx._conv(8) + "[upsample]\nstride=2\n\n",
    "avgpool_connected_softmax": fx._conv(8, stride=2) + "[avgpool]\n\n[connected]\noutput=10\nactivation=linear\n\n"
                                 "[softmax]\ngroups=1\n\n",
    "dropout": fx._conv(8) + "[dropout]\nprobability=.5\n\n",
}


@pytest.mark.parametrize("case", sorted(DARKNET_LAYERS))
def test_darknet_layer(case, target, tmp_path):
    outs, refs, _ = _darknet_case(target, tmp_path, case, _NET + DARKNET_LAYERS[case], seed=sum(map(ord, case)))
    judge_layer(target, [o.reshape(refs[0].shape) if o.size == refs[0].size else o for o in outs], refs)


def test_darknet_yolo_head_outputs_raw_tensors(target, tmp_path):
    """[yolo]: the model outputs the head tensor before decoding, named after the yolo layer."""
    cfg = _NET + fx._conv(16) + fx._conv(18, size=1, bn=0, act="linear") + \
        "[yolo]\nmask=0,1,2\nanchors=10,14, 23,27, 37,58\nclasses=1\nnum=3\n\n"
    outs, refs, names = _darknet_case(target, tmp_path, "yolo_head", cfg, seed=2)
    assert names == ["yolo_2"]
    judge_layer(target, outs, refs)


def test_darknet_region_head_outputs_raw_tensors(target, tmp_path):
    """[region] (YOLOv2): like [yolo], the model outputs the head tensor before decoding."""
    cfg = _NET + fx._conv(16) + fx._conv(18, size=1, bn=0, act="linear") + \
        "[region]\nanchors=1.08,1.19, 3.42,4.41, 6.63,11.38\nclasses=1\ncoords=4\nnum=3\nsoftmax=1\n\n"
    outs, refs, names = _darknet_case(target, tmp_path, "region_head", cfg, seed=6)
    assert names == ["region_2"]
    judge_layer(target, outs, refs)


@pytest.mark.parametrize("damage", ["short", "long", "missing"])
def test_darknet_weights_that_do_not_match_the_cfg(damage, tmp_path):
    cfg, weights = fx.darknet_files(tmp_path, "m", _NET + fx._conv(8) + fx._conv(4), seed=0)
    data = weights.read_bytes()
    if damage == "missing":
        weights = tmp_path / "nope.weights"
    else:
        weights.write_bytes(data[:-40] if damage == "short" else data + b"\0" * 40)
    text = fails_with(lambda r: r.load_darknet(str(cfg), str(weights)), str(weights), "Fix:")
    if damage != "missing":
        assert "trained with this .cfg" in text


def test_darknet_unknown_layer_is_named(tmp_path):
    cfg, weights = fx.darknet_files(tmp_path, "m", _NET + fx._conv(8), seed=0)
    cfg.write_text(cfg.read_text() + "[reorg3d]\nstride=2\n")
    fails_with(lambda r: r.load_darknet(str(cfg), str(weights)), "[reorg3d]", "layer 1", f"{cfg}:")


# ---- PyTorch (TorchScript) -------------------------------------------------------------------------
def _torch_run(target, tmp_path, name, module, shape, seed=0):
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    pt = fx.torch_script(tmp_path, name, module, shape)
    outs, x, rknn = run_public(target, tmp_path, ("load_pytorch", {"model": str(pt), "input_size_list": [list(shape)]}),
                               shape, seed)
    with torch.no_grad():
        ref = module(torch.from_numpy(x))
    refs = [t.numpy() for t in (ref if isinstance(ref, (tuple, list)) else [ref])]
    return outs, refs, rknn


def _torch_layers():
    import torch
    from torch import nn
    F = nn.functional

    class Fn(nn.Module):
        def __init__(self, fn, *mods):
            super().__init__()
            self.fn, self.mods = fn, nn.ModuleList(mods)

        def forward(self, x):
            return self.fn(x, *self.mods)

    conv = lambda cin=3, cout=8, **k: nn.Conv2d(cin, cout, k.pop("k", 3), padding=k.pop("p", 1), **k)  # noqa: E731
    return {
        "conv2d": lambda: conv(),
        "conv2d_stride2_nopad": lambda: conv(k=3, p=0, stride=2),
        "conv2d_groups": lambda: conv(3, 6, groups=3),
        "conv2d_dilation": lambda: conv(k=3, p=2, dilation=2),
        "conv_transpose2d": lambda: nn.ConvTranspose2d(3, 4, 4, 2, 1),
        "batchnorm2d": lambda: nn.Sequential(conv(), nn.BatchNorm2d(8)),
        "relu6_leaky_prelu": lambda: nn.Sequential(conv(), nn.ReLU6(), conv(8, 8), nn.LeakyReLU(0.1), conv(8, 8),
                                                   nn.PReLU(8)),
        "silu_hardswish_hardsigmoid": lambda: nn.Sequential(conv(), nn.SiLU(), conv(8, 8), nn.Hardswish(),
                                                            conv(8, 8), nn.Hardsigmoid()),
        "gelu_elu_tanh_sigmoid": lambda: nn.Sequential(conv(), nn.GELU(), conv(8, 8), nn.ELU(), conv(8, 8),
                                                       nn.Tanh(), conv(8, 8), nn.Sigmoid()),
        "maxpool_ceil": lambda: nn.Sequential(conv(), nn.MaxPool2d(3, 2, ceil_mode=True)),
        "avgpool_pad": lambda: nn.Sequential(conv(), nn.AvgPool2d(3, 2, 1)),
        "adaptive_avgpool_linear": lambda: Fn(lambda x, c, l: l(torch.flatten(F.adaptive_avg_pool2d(c(x), 1), 1)),
                                              conv(), nn.Linear(8, 5)),
        "view_size0": lambda: Fn(lambda x, c: c(x).view(x.size(0), -1), conv(k=3, p=0, stride=2)),  # §5.1
        "cat_add_mul": lambda: Fn(lambda x, a, b: torch.cat([a(x) + b(x), a(x) * b(x)], 1), conv(), conv()),
        "permute_reshape_softmax": lambda: Fn(lambda x, c: torch.softmax(
            c(x).permute(0, 2, 3, 1).reshape(1, -1, 8), dim=-1), conv()),
        "interpolate_nearest": lambda: Fn(lambda x, c: F.interpolate(c(x), scale_factor=2, mode="nearest"), conv()),
        "interpolate_bilinear": lambda: Fn(lambda x, c: F.interpolate(c(x), scale_factor=2, mode="bilinear",
                                                                      align_corners=False), conv()),
        "interpolate_bilinear_align": lambda: Fn(lambda x, c: F.interpolate(c(x), size=(20, 20), mode="bilinear",
                                                                            align_corners=True), conv()),
        "pad_chunk_mean": lambda: Fn(lambda x, c: sum(t.mean(dim=(2, 3), keepdim=True) for t in torch.chunk(
            F.pad(c(x), (1, 2, 0, 1)), 2, dim=1)), conv()),
        "layernorm_matmul": lambda: Fn(lambda x, c, ln: torch.matmul(ln(c(x).flatten(2).transpose(1, 2)),
                                                                     c(x).flatten(2)), conv(), nn.LayerNorm(8)),
    }


TORCH_LAYERS = ["adaptive_avgpool_linear", "avgpool_pad", "batchnorm2d", "cat_add_mul", "conv2d", "conv2d_dilation",
                "conv2d_groups", "conv2d_stride2_nopad", "conv_transpose2d", "gelu_elu_tanh_sigmoid",
                "interpolate_bilinear", "interpolate_bilinear_align", "interpolate_nearest", "layernorm_matmul",
                "maxpool_ceil", "pad_chunk_mean", "permute_reshape_softmax", "relu6_leaky_prelu",
                "silu_hardswish_hardsigmoid", "view_size0"]


@pytest.mark.parametrize("case", TORCH_LAYERS)
def test_pytorch_layer(case, target, tmp_path):
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    torch.manual_seed(sum(map(ord, case)))
    module = fx.torch_seeded(_torch_layers()[case]())
    outs, refs, _ = _torch_run(target, tmp_path, case, module, (1, 3, 16, 16))
    judge_layer(target, outs, refs)


@pytest.mark.parametrize("build", [fx.resnet_like, fx.mobilenetv2_like], ids=lambda f: f.__name__)
def test_pytorch_model(build, target, tmp_path):
    pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    outs, refs, rknn = _torch_run(target, tmp_path, build.__name__, build(), (1, 3, 64, 64), seed=4)
    judge_model(target, outs, refs, classifier=True)
    if rknn is None:
        return
    # layer names are the module paths the user wrote
    sources = {s for n in rknn.model.graph.nodes for s in n.source}
    assert any(s.startswith("/layer1/") or s.startswith("/features/") for s in sources), sorted(sources)[:10]


def test_pytorch_weights_only_pth(tmp_path):  # §5.2
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    pth = tmp_path / "mobilenet0.25_Final.pth"
    torch.save(fx.resnet_like().state_dict(), str(pth))
    fails_with(lambda r: r.load_pytorch(str(pth), [[1, 3, 64, 64]]), "weights only", "load_state_dict",
               "torch.jit.trace", "§5.2")


def test_pytorch_legacy_or_damaged_file(tmp_path):  # §5.2
    pt = tmp_path / "old.pt"
    pt.write_bytes(b"\x80\x02legacy torch.save stream" * 10)
    fails_with(lambda r: r.load_pytorch(str(pt), [[1, 3, 64, 64]]), "PytorchStreamReader failed reading zip archive",
               "torch.jit.trace", "§5.2")


def test_pytorch_unknown_aten_op(tmp_path):  # §5.3
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")

    class Hist(torch.nn.Module):
        def forward(self, x):
            return torch.histc(x, 4)

    pt = fx.torch_script(tmp_path, "hist", Hist(), (1, 3, 8, 8))
    fails_with(lambda r: r.load_pytorch(str(pt), [[1, 3, 8, 8]]), "aten::histc", "replace it in forward()", "§5.3")


def test_pytorch_op_the_registry_lacks_is_named(tmp_path):
    """torch exports it, this toolkit has no kernel for it: the ONNX op is named (Unique: data-dependent shape)."""
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")

    class Uniq(torch.nn.Module):
        def forward(self, x):
            return torch.unique(torch.round(x * 4))

    pt = fx.torch_script(tmp_path, "uniq", Uniq(), (1, 3, 8, 8))
    fails_with(lambda r: r.load_pytorch(str(pt), [[1, 3, 8, 8]]), "Unique")


# ---- TensorFlow Lite ----------------------------------------------------------------------------------
def _litert(path, x_nhwc):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="the frontends extra (ai-edge-litert) is "
                                                                       "not installed")
    it = litert.Interpreter(str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x_nhwc)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()], it.get_output_details()


def _tflite_run(target, tmp_path, path, shape_nhwc, seed=0):
    n, h, w, c = shape_nhwc
    outs, x, rknn = run_public(target, tmp_path, ("load_tflite", {"model": str(path)}), (n, c, h, w), seed)
    refs, _ = _litert(path, x.transpose(0, 2, 3, 1).copy())
    return outs, refs, rknn


def _tfl_stem(n, filters=6):
    return n.conv("stem/Relu", "input", filters, act="RELU")


TFLITE_LAYERS = {
    "conv_same_relu": lambda n: n.conv("c", "input", 8, act="RELU"),
    "conv_valid_stride2": lambda n: n.conv("c", "input", 8, s=2, padding="VALID", act="NONE"),
    "conv_same_stride2_relu6": lambda n: n.conv("c", "input", 8, s=2, act="RELU6"),
    "conv_dilation2": lambda n: n.conv("c", "input", 8, dilation=2, act="NONE"),
    "conv_1x1_relu_n1_to_1": lambda n: n.conv("c", "input", 8, k=1, act="RELU_N1_TO_1"),
    "conv_then_tanh": lambda n: n.unary("t", "TANH", n.conv("c", "input", 8, k=1, act="NONE")),
    "depthwise": lambda n: n.conv("dw", _tfl_stem(n), 0, depthwise=True, act="RELU6"),
    "depthwise_mult2_stride2": lambda n: n.conv("dw", "input", 0, depthwise=True, mult=2, s=2, act="NONE"),
    "maxpool_valid": lambda n: n.pool("p", _tfl_stem(n)),
    "maxpool_same_k3s2": lambda n: n.pool("p", _tfl_stem(n), k=3, s=2, padding="SAME"),
    "avgpool_same_k3s2": lambda n: n.pool("p", _tfl_stem(n), kind="AVG", k=3, s=2, padding="SAME"),
    "fully_connected_relu": lambda n: n.fc("fc", n.reshape("flat", _tfl_stem(n), [1, 1536]), 10, act="RELU"),
    "add_relu": lambda n: n.binary("a", "ADD", _tfl_stem(n), n.conv("c", "input", 6, k=1, act="NONE"), act="RELU"),
    "mul_channel_constant": lambda n: n.binary("m", "MUL", _tfl_stem(n), np.linspace(0.5, 2.0, 6)),
    "sub_constant": lambda n: n.binary("s", "SUB", _tfl_stem(n), np.linspace(-1, 1, 6)),
    "concat_channels": lambda n: n.concat("cat", [_tfl_stem(n), n.conv("c", "input", 4, k=1)]),
    "reshape_softmax": lambda n: n.softmax("sm", n.reshape("r", _tfl_stem(n), [1, 256, 6])),
    "softmax_beta": lambda n: n.softmax("sm", n.fc("fc", n.reshape("flat", _tfl_stem(n), [1, 1536]), 10), beta=0.5),
    "mean_keepdims": lambda n: n.mean("m", _tfl_stem(n)),
    "mean_flat": lambda n: n.mean("m", _tfl_stem(n), keep=False),
    "pad": lambda n: n.pad("p", _tfl_stem(n), [[0, 0], [1, 2], [0, 1], [0, 0]]),
    "resize_nearest": lambda n: n.resize("r", _tfl_stem(n), [32, 32]),
    "resize_bilinear_half_pixel": lambda n: n.resize("r", _tfl_stem(n), [24, 24], mode="BILINEAR", half=True),
    "resize_bilinear_align": lambda n: n.resize("r", _tfl_stem(n), [31, 31], mode="BILINEAR", align=True),
    "logistic_hardswish": lambda n: n.unary("hs", "HARD_SWISH", n.unary("lg", "LOGISTIC", _tfl_stem(n))),
    "leaky_relu": lambda n: n.unary("lr", "LEAKY_RELU", n.conv("c", "input", 6, act="NONE"), Alpha=0.2),
    "strided_slice_begin_end_step": lambda n: n.strided_slice("ss", _tfl_stem(n), [0, 2, 1, 0], [1, 14, 15, 6],
                                                              [1, 1, 2, 1]),
    "strided_slice_masks_reverse": lambda n: n.strided_slice("ss", _tfl_stem(n), [0, 0, -1, 1], [0, 0, 0, 5],
                                                             [1, 2, -1, 2], begin_mask=0b0011, end_mask=0b0111),
    "strided_slice_negative_bounds": lambda n: n.strided_slice("ss", _tfl_stem(n), [0, -12, 3, -4], [1, -1, 100, 6],
                                                               [1, 3, 1, 1]),
    "strided_slice_shrink_axis": lambda n: n.strided_slice("ss", _tfl_stem(n), [0, 3, 0, 0], [1, 4, 16, 6],
                                                           [1, 1, 1, 1], shrink=0b0010),
    "gather_channels": lambda n: n.gather("g", _tfl_stem(n), [5, 0, 2, 2], axis=3),
    "gather_rows_axis1": lambda n: n.gather("g", _tfl_stem(n), [15, 0, 7], axis=1),
    "gather_axis0_after_reshape": lambda n: n.gather("g", n.reshape("r", _tfl_stem(n), [256, 6]), [3, 100, 255, 3],
                                                     axis=0),
    "div_maximum_minimum": lambda n: n.binary("mx", "MAXIMUM", n.binary("d", "DIV", _tfl_stem(n), np.linspace(
        0.5, 3, 6)), n.binary("mn", "MINIMUM", n.conv("c", "input", 6, k=1, act="NONE"), np.full(6, 0.25))),
    "relu_relu6_ops": lambda n: n.unary("r6", "RELU6", n.binary("m", "MUL", n.unary("r", "RELU", n.conv(
        "c", "input", 6, act="NONE")), np.full(6, 4.0))),
    "transpose_squeeze": lambda n: n.squeeze("sq", n.transpose("t", n.mean("m", _tfl_stem(n), axes=(1,)),
                                                               [0, 3, 1, 2]), [2]),
    "split_channels_3": lambda n: n.concat("cat", n.split(["s0", "s1", "s2"], _tfl_stem(n), axis=3)[::-1]),
    "split_height_2": lambda n: n.concat("cat", n.split(["s0", "s1"], _tfl_stem(n), axis=1)[::-1], axis=1),
    "split_v_minus1": lambda n: n.concat("cat", n.split(["s0", "s1", "s2"], _tfl_stem(n), axis=3,
                                                        sizes=[1, -1, 2])[::-1]),
    "split_v_negative_axis": lambda n: n.concat("cat", n.split(["s0", "s1"], _tfl_stem(n), axis=-3,
                                                               sizes=[4, 12])[::-1], axis=1),
}


@pytest.mark.parametrize("case", sorted(TFLITE_LAYERS))
def test_tflite_layer(case, target, tmp_path):
    _needs_tflite()
    net = fx.TFLiteNet(case, (1, 16, 16, 3), seed=sum(map(ord, case)))
    TFLITE_LAYERS[case](net)
    outs, refs, _ = _tflite_run(target, tmp_path, net.write(tmp_path), (1, 16, 16, 3))
    judge_layer(target, outs, refs)


def test_tflite_int8_model_keeps_its_own_quantization(target, tmp_path):
    """A full-integer model: build(do_quantization=False) imports its scales (guide §1.4.1) and
    matches the TFLite interpreter running the same int8 model."""
    _needs_tflite()
    net = fx.tflite_int8_net(seed=3)
    rng = np.random.default_rng(0)
    calib = [((_image(rng, 16, 16, 3)[None].astype(np.float32) - np.float32(MEAN)) / np.float32(STD))
             for _ in range(8)]
    path = net.write_int8(tmp_path, calib)
    outs, refs, rknn = _tflite_run(target, tmp_path, path, (1, 16, 16, 3), seed=11)
    assert rknn is None or rknn.model.mode != "float16"
    # End to end through a whole int8 net: the suite's rule for a quantized model against its twin.
    m = metrics(outs[0], refs[0])
    problems = [] if m["cosine"] >= tolerances.QUANT_TWIN_MODEL_COSINE else \
        [f"cosine {m['cosine']:.5f} < {tolerances.QUANT_TWIN_MODEL_COSINE} against the int8 interpreter"]
    _verdict(target, problems)


def test_tflite_not_a_flatbuffer(tmp_path):
    p = tmp_path / "model.tflite"
    p.write_bytes(b"\x08\x01garbage" * 20)
    fails_with(lambda r: r.load_tflite(str(p)), "TFL3", str(p), "Fix:")


def test_tflite_unsupported_op_is_named(tmp_path):
    _needs_tflite()
    m = fx.TFLiteModel()
    x = m.input("input", [1, 4, 4, 3])
    y = m.tensor("cos_out", [1, 4, 4, 3])
    m.op("COS", [x], [y])
    m.outputs = [y]
    path = m.write(tmp_path / "cos.tflite")
    fails_with(("load_tflite", {"model": str(path)}), "COS", "cos_out", "supported:")


@pytest.mark.parametrize("strides,masks", [([1, 0, 1, 1], {}), ([1, 1, 1], {}), ([1, 1, 1, 1], {"EllipsisMask": 2})],
                         ids=["zero_stride", "rank_mismatch", "ellipsis"])
def test_tflite_strided_slice_it_cannot_run_is_refused_at_load(strides, masks, tmp_path):
    _needs_tflite()
    m = fx.TFLiteModel()
    x = m.input("input", [1, 4, 4, 3])
    bounds = [m.tensor(k, [len(strides)], "int32", np.array(v, np.int32))
              for k, v in (("begin", [0] * len(strides)), ("end", [1, 4, 4, 3][:len(strides)]), ("strides", strides))]
    y = m.tensor("sliced", [1, 4, 4, 3])
    m.op("STRIDED_SLICE", [x, *bounds], [y], "StridedSliceOptions", **masks)
    m.outputs = [y]
    path = m.write(tmp_path / "ss.tflite")
    fails_with(("load_tflite", {"model": str(path)}), "STRIDED_SLICE 'sliced'", "Fix:")


def test_tflite_int8_input_is_the_value_it_stands_for(tmp_path):
    """An int8/uint8 model input (the vendor's quantized .tflite files): the model takes the value
    (q - zero point) * scale, its quantization kept; an int8 output comes back as its integers,
    as the vendor returns them."""
    _needs_tflite()
    m = fx.TFLiteModel()
    x = m.input("input", [1, 4, 4, 3], dtype="int8", scale=0.1, zero_point=0)
    y = m.tensor("relu", [1, 4, 4, 3], "int8", scale=0.1, zero_point=0)
    m.op("RELU", [x], [y])
    m.outputs = [y]
    path = m.write(tmp_path / "int8_io.tflite")
    r = RKNN()
    r.config(target_platform="rk3588")
    assert r.load_tflite(str(path)) == 0 and r.build(do_quantization=False) == 0 and r.init_runtime() == 0
    v = np.linspace(-6, 6, 48, dtype=np.float32).reshape(1, 4, 4, 3)
    got = r.inference(inputs=[v], data_format="nhwc")[0]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, np.maximum(np.round(v / 0.1), 0).astype(np.int8))


def test_tflite_fused_tanh_is_refused(tmp_path):
    """The schema allows a fused TANH, TFLite's conv kernels ignore it: refused, not guessed."""
    _needs_tflite()
    net = fx.TFLiteNet("fused_tanh", (1, 8, 8, 3))
    net.conv("conv/Tanh", "input", 4, k=1, act="TANH")
    path = net.write(tmp_path)
    fails_with(("load_tflite", {"model": str(path)}), "conv/Tanh", "separate TANH op")


# ---- TensorFlow (frozen GraphDef) -------------------------------------------------------------------
def _tf_case(target, tmp_path, name, fn, shape=(1, 16, 16, 3), seed=0, size=None):
    pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    path, inp, out = fx.tf_frozen(tmp_path, name, fn, shape)
    n, h, w, c = shape
    load = ("load_tensorflow", {"tf_pb": str(path), "inputs": [inp], "outputs": [out],
                                "input_size_list": [size or [h, w, c]]})
    outs, x, rknn = run_public(target, tmp_path, load, (n, c, h, w), seed)
    return outs, [fx.tf_run(path, inp, out, x.transpose(0, 2, 3, 1).copy())], rknn


def _tf_layers():
    import tensorflow as tf
    rng = np.random.default_rng(42)
    W, B = fx.tf_const(rng, (3, 3, 3, 8), 27), fx.tf_const(rng, (8,))
    W2 = fx.tf_const(rng, (3, 3, 8, 8), 72)
    DW = fx.tf_const(rng, (3, 3, 8, 2), 9)
    FC = fx.tf_const(rng, (8, 10), 8)

    def stem(x):
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W, 1, "SAME"), B))

    bn = [tf.constant(v.astype(np.float32)) for v in (rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.2, 8),
                                                      rng.normal(0, 0.5, 8), rng.uniform(0.5, 2, 8))]
    return {
        "conv_same_bias_relu": stem,
        "conv_valid_stride2": lambda x: tf.nn.conv2d(x, W, 2, "VALID"),
        "conv_dilation2": lambda x: tf.nn.conv2d(x, W, 1, "SAME", dilations=2),
        "conv_explicit_paddings": lambda x: tf.nn.conv2d(x, W, 1, [[0, 0], [1, 3], [0, 2], [0, 0]]),  # §4.4
        "depthwise_mult2": lambda x: tf.nn.depthwise_conv2d(stem(x), DW, [1, 2, 2, 1], "SAME"),
        "fused_batchnorm_relu6": lambda x: tf.nn.relu6(tf.compat.v1.nn.fused_batch_norm(
            tf.nn.conv2d(x, W, 1, "SAME"), *bn, epsilon=1e-3, is_training=False)[0]),
        "maxpool_same": lambda x: tf.nn.max_pool2d(stem(x), 3, 2, "SAME"),
        "avgpool_same": lambda x: tf.nn.avg_pool2d(stem(x), 3, 2, "SAME"),
        "mean_matmul_softmax": lambda x: tf.nn.softmax(tf.matmul(tf.reduce_mean(stem(x), [1, 2]), FC)),
        "add_mul_sub_const": lambda x: (stem(x) + tf.nn.conv2d(stem(x), W2, 1, "SAME")) * tf.constant(
            np.linspace(0.5, 2, 8, dtype=np.float32)) - 0.25,
        "concat_leaky_sigmoid": lambda x: tf.concat([tf.nn.leaky_relu(stem(x), 0.2), tf.sigmoid(stem(x))], axis=3),
        "reshape_transpose": lambda x: tf.transpose(tf.reshape(stem(x), [1, 64, 32]), [0, 2, 1]),
        "pad_tanh": lambda x: tf.tanh(tf.pad(stem(x), [[0, 0], [1, 2], [0, 1], [0, 0]])),
        "resize_bilinear": lambda x: tf.compat.v1.image.resize_bilinear(stem(x), [24, 24], half_pixel_centers=True),
        "elu_maximum_minimum": lambda x: tf.maximum(tf.nn.elu(tf.nn.conv2d(x, W, 1, "SAME")),
                                                     tf.minimum(stem(x), 0.75)),
        "realdiv_add_squeeze": lambda x: tf.squeeze(tf.raw_ops.Add(x=tf.reduce_mean(stem(x), [1, 2], keepdims=True),
                                                                   y=tf.constant(0.5)) / tf.constant(np.linspace(
                                                                       0.5, 2, 8, dtype=np.float32)), [1, 2]),
        "resize_nearest_align": lambda x: tf.compat.v1.image.resize_nearest_neighbor(stem(x), [31, 31],
                                                                                      align_corners=True),
        # 1.x custom_op_math's TF ops. TruncateDiv rounds toward zero: the quotients here lie in (-1, 1),
        # 0 throughout (flooring would give -1 for the negatives), no step where float16 could flip one
        "truncatediv_exp": lambda x: tf.exp(stem(x) * 0.3) + tf.truncatediv(stem(x) - 2.0, tf.constant(50.0)),
    }


TF_LAYERS = ["add_mul_sub_const", "avgpool_same", "concat_leaky_sigmoid", "conv_dilation2", "conv_explicit_paddings",
             "conv_same_bias_relu", "conv_valid_stride2", "depthwise_mult2", "elu_maximum_minimum",
             "fused_batchnorm_relu6", "maxpool_same", "mean_matmul_softmax", "pad_tanh", "realdiv_add_squeeze",
             "reshape_transpose", "resize_bilinear", "resize_nearest_align", "truncatediv_exp"]


@pytest.mark.parametrize("case", TF_LAYERS)
def test_tensorflow_layer(case, target, tmp_path):
    pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    outs, refs, _ = _tf_case(target, tmp_path, case, _tf_layers()[case])
    judge_layer(target, outs, refs)   # also the shape: outputs keep TensorFlow's NHWC layout (§4.3)


def test_tensorflow_mobilenet_like(target, tmp_path):
    tf = pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    rng = np.random.default_rng(9)

    def cbr(x, cin, cout, s=1, depthwise=False):
        w = fx.tf_const(rng, (3, 3, cin, 1) if depthwise else (1 if cin != 3 else 3, 1 if cin != 3 else 3, cin, cout),
                        9 if depthwise else cin * (9 if cin == 3 else 1))
        y = tf.nn.depthwise_conv2d(x, w, [1, s, s, 1], "SAME") if depthwise else tf.nn.conv2d(x, w, s, "SAME")
        c = cin if depthwise else cout
        bn = [tf.constant(v.astype(np.float32)) for v in (rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c),
                                                          rng.normal(0, 0.5, c), rng.uniform(0.5, 2, c))]
        return tf.nn.relu6(tf.compat.v1.nn.fused_batch_norm(y, *bn, epsilon=1e-3, is_training=False)[0])

    fc = fx.tf_const(rng, (64, 10), 64)

    def net(x):
        x = cbr(x, 3, 16, 2)
        for cin, cout, s in ((16, 32, 1), (32, 64, 2), (64, 64, 1)):
            x = cbr(cbr(x, cin, cin, s, depthwise=True), cin, cout)
        return tf.nn.softmax(tf.matmul(tf.reduce_mean(x, [1, 2]), fc))

    outs, refs, _ = _tf_case(target, tmp_path, "mobilenet_like", net, (1, 32, 32, 3), seed=2)
    judge_model(target, outs, refs, classifier=True)


def test_tensorflow_wrong_node_names(tmp_path):  # §4.1
    pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    path, inp, out = fx.tf_frozen(tmp_path, "m", _tf_layers()["conv_same_bias_relu"], (1, 16, 16, 3))
    fails_with(lambda r: r.load_tensorflow(str(path), ["image_tensor"], [out], [[16, 16, 3]]), "image_tensor",
               "'NoneType' object has no attribute 'op'", "Netron", "§4.1")


def test_tensorflow_graph_not_frozen(tmp_path):  # §4.2
    tf = pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    v = tf.Variable(np.ones((3, 3, 3, 4), np.float32))
    concrete = tf.function(lambda x: tf.nn.conv2d(x, v, 1, "SAME")).get_concrete_function(
        tf.TensorSpec((1, 8, 8, 3), tf.float32, name="input"))
    path = tmp_path / "unfrozen.pb"
    path.write_bytes(concrete.graph.as_graph_def().SerializeToString())
    out = concrete.outputs[0].op.name
    fails_with(lambda r: r.load_tensorflow(str(path), ["input"], [out], [[8, 8, 3]]), "not frozen",
               "convert_variables_to_constants", "§4.2")



# ---- Quantized (w8a8) builds of each frontend's model: the same floor as ONNX zoo models -------------------
def _quant_caffe(target, tmp_path, ds):
    net = fx.mobilenet_like(seed=7)
    proto, weights = net.write(tmp_path)
    outs, x, _ = run_public(target, tmp_path, _caffe(proto, weights), net.shapes["data"], 1, ds)
    return outs, _opencv_caffe(proto, weights, x)


def _quant_darknet(target, tmp_path, ds):
    cfg = _NET + fx._conv(16) + "[maxpool]\nsize=2\nstride=2\n\n" + fx._conv(32) + fx._conv(32, size=1) + \
        "[shortcut]\nfrom=-2\nactivation=leaky\n\n" + fx._conv(18, size=1, bn=0, act="linear") + \
        "[yolo]\nmask=0,1,2\nanchors=10,14, 23,27, 37,58\nclasses=1\nnum=3\n\n"
    cfg_path, weights = fx.darknet_files(tmp_path, "tiny_head", cfg, seed=4)
    outs, x, _ = run_public(target, tmp_path, ("load_darknet", {"model": str(cfg_path), "weight": str(weights)}),
                            (1, 3, 32, 32), 1, ds)
    return outs, _opencv_darknet(cfg_path, weights, x, [v.name for v in darknet_loader.load(cfg_path, weights).outputs])


def _quant_pytorch(target, tmp_path, ds):
    torch = pytest.importorskip("torch", reason="the frontends extra (torch==2.13.0) is not installed")
    module = fx.resnet_like()
    pt = fx.torch_script(tmp_path, "resnet_like", module, (1, 3, 32, 32))
    load = ("load_pytorch", {"model": str(pt), "input_size_list": [[1, 3, 32, 32]]})
    outs, x, _ = run_public(target, tmp_path, load, (1, 3, 32, 32), 1, ds)
    with torch.no_grad():
        return outs, [module(torch.from_numpy(x)).numpy()]


def _quant_tflite(target, tmp_path, ds):
    _needs_tflite()
    net = fx.TFLiteNet("float_block", (1, 32, 32, 3), seed=5)
    x = net.conv("dw/Relu6", net.conv("stem/Relu", "input", 8, s=2, act="RELU"), 0, depthwise=True, act="RELU6")
    net.fc("logits", net.reshape("flat", net.mean("gap", net.conv("pw/Relu", x, 16, k=1)), [1, 16]), 10)
    path = net.write(tmp_path)
    outs, x, _ = run_public(target, tmp_path, ("load_tflite", {"model": str(path)}), (1, 3, 32, 32), 1, ds)
    return outs, _litert(path, x.transpose(0, 2, 3, 1).copy())[0]


def _quant_tensorflow(target, tmp_path, ds):
    pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    path, inp, out = fx.tf_frozen(tmp_path, "mean_matmul", _tf_layers()["mean_matmul_softmax"], (1, 32, 32, 3))
    load = ("load_tensorflow", {"tf_pb": str(path), "inputs": [inp], "outputs": [out],
                                "input_size_list": [[32, 32, 3]]})
    outs, x, _ = run_public(target, tmp_path, load,
                            (1, 3, 32, 32), 1, ds)
    return outs, [fx.tf_run(path, inp, out, x.transpose(0, 2, 3, 1).copy())]


@pytest.mark.parametrize("frontend", ["caffe", "darknet", "pytorch", "tflite", "tensorflow"])
def test_frontend_model_w8a8(frontend, target, tmp_path):
    pytest.importorskip("PIL", reason="the quant extra (Pillow) writes the calibration images")
    size = 32
    ds = image_dataset(tmp_path / "calib", size, size, formats=("png",), count=6, seed=3)
    outs, refs = globals()[f"_quant_{frontend}"](target, tmp_path, ds)
    problems = [] if len(outs) == len(refs) else [f"{len(outs)} outputs, the framework has {len(refs)}"]
    for got, ref in zip(outs, refs):
        m = metrics(got.reshape(ref.shape), ref)
        if m["cosine"] < tolerances.QUANT_MODEL_COSINE["w8a8"]:
            problems.append(f"cosine {m['cosine']:.5f} < {tolerances.QUANT_MODEL_COSINE['w8a8']}")
    _verdict(target, problems)


# ---- Every layer a loader accepts is built and run by a case above ----------------------------------------
# The Done-when "no op is accepted at build and fails at run time", swept per frontend: each layer type a
# loader lowers appears in a case that goes through build -> export -> load_rknn -> init_runtime ->
# inference and is compared with the framework, so a type added to a loader without a case fails here.
def _caffe_types_run() -> set[str]:
    import re
    nets = []
    for case, build in CAFFE_LAYERS.items():
        net = fx.CaffeNet(case, (1, 3, 16, 16))
        build(net)
        nets.append(net)
    nets += [fx.squeezenet_like(), fx.mobilenet_like(), *(_caffe_lstm_net(c, 0) for c in LSTM_CASES)]
    return {t for net in nets for t in re.findall(r'type: "(\w+)"', "\n".join(net.text))} | {"Bias"}  # its test


def _tflite_ops_run() -> set[str]:
    _needs_tflite()
    ops = {"QUANTIZE", "DEQUANTIZE"} | {o[0] for o in fx.tflite_int8_net().model().ops}  # the int8 model's ends
    for case, build in TFLITE_LAYERS.items():
        net = fx.TFLiteNet(case, (1, 16, 16, 3))
        build(net)
        ops |= {o[0] for o in net.model().ops}
    return ops


def _darknet_sections_run() -> set[str]:
    import re
    cfgs = [*DARKNET_LAYERS.values(), fx.yolov3_tiny_cfg(), "[yolo]", "[region]"]   # the two head tests
    return {s for cfg in cfgs for s in re.findall(r"^\[(\w+)\]", cfg, re.M)} - {"net"}


def _tf_fake_quant(x):
    """A TF1 QAT graph in tf.contrib.quantize's form (the inception_v3_qat examples): FakeQuant on the
    input, on the weights (per tensor and per channel, narrow range) and after each activation
    (vars and args forms); frozen min/max read through Identity, as a frozen graph holds them."""
    import tensorflow as tf
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (1, 1, 8, 8)).astype(np.float32)

    def read(scope, v):
        return tf.identity(tf.constant(v, name=scope), name=f"{scope}/read")

    def fq(t, scope, lo, hi, narrow=False, per_channel=False):
        fn = (tf.quantization.fake_quant_with_min_max_vars_per_channel if per_channel
              else tf.quantization.fake_quant_with_min_max_vars)
        return fn(t, read(f"{scope}/min", np.float32(lo)), read(f"{scope}/max", np.float32(hi)), num_bits=8,
                  narrow_range=narrow, name=f"{scope}/FakeQuantWithMinMaxVars")
    x = fq(x, "input_quant", -3.0, 3.0)
    y = tf.nn.conv2d(x, fq(read("conv1/weights", w1), "conv1/weights_quant", w1.min(), w1.max(), True), 1, "SAME")
    y = tf.quantization.fake_quant_with_min_max_args(tf.nn.relu6(y), 0.0, 6.0, name="conv1/act_quant/FakeQuant")
    w2q = fq(read("conv2/weights", w2), "conv2/weights_quant", w2.min((0, 1, 2)), w2.max((0, 1, 2)), True, True)
    return fq(tf.nn.conv2d(y, w2q, 1, "SAME"), "conv2/act_quant", -6.0, 6.0)


def test_tensorflow_fake_quant(target, tmp_path):
    """A QAT graph built with do_quantization=False keeps its own ranges (a quantized build, not a
    float16 one) and follows TensorFlow's fake-quantized forward within one step of the output grid."""
    outs, refs, rknn = _tf_case(target, tmp_path, "fake_quant", _tf_fake_quant)
    assert rknn is None or rknn.model.mode != "float16", rknn.model.mode
    step = 12.0 / 255
    err = float(np.abs(outs[0] - refs[0]).max()) if outs[0].shape == refs[0].shape else float("inf")
    # one step: a value on a rounding boundary may land on the neighbouring level (int vs float rounding)
    _verdict(target, [] if err <= step * 1.001 else [f"max error {err:.4f} > one step ({step:.4f}) of the output grid"])


def _tensorflow_ops_run(tmp_path) -> set[str]:
    tf = pytest.importorskip("tensorflow", reason="the tensorflow extra (tensorflow-cpu) is not installed")
    ops = set()
    for case, fn in [*((c, _tf_layers()[c]) for c in TF_LAYERS), ("fake_quant", _tf_fake_quant)]:
        path, _, _ = fx.tf_frozen(tmp_path, case, fn, (1, 16, 16, 3))
        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(path.read_bytes())
        ops |= {n.op for n in gd.node}
    return ops


@pytest.mark.parametrize("frontend", ["caffe", "darknet", "tflite", "tensorflow"])
def test_every_loader_layer_is_run_by_a_case(frontend, tmp_path):
    from rknn_diag.frontends import caffe_loader, tf_loader, tflite_loader
    accepted, run, exempt = {
        "caffe": lambda: (caffe_loader.supported_layers(), _caffe_types_run(), set()),
        "darknet": lambda: (darknet_loader.supported_layers(), _darknet_sections_run(), set()),
        "tflite": lambda: (tflite_loader.supported_ops(), _tflite_ops_run(), set()),
        # graph plumbing the loader skips (never lowered to a node), and the legacy BN spellings of V3
        "tensorflow": lambda: (tf_loader.supported_ops(), _tensorflow_ops_run(tmp_path),
                               set(tf_loader.PASS) | {"FusedBatchNorm", "FusedBatchNormV2"}),
    }[frontend]()
    missing = sorted(set(accepted) - run - exempt)
    assert not missing, f"{frontend}: accepted by the loader but run by no case in this file: {missing}"
