"""The vendor's Caffe examples in shape (rknn-toolkit2 caffe/mobilenet_v2, functions/model_pruning):
a deploy prototxt in the old spelling the vendor still ships (top-level `input:` + `input_dim:`),
MobileNet-v2 blocks (conv-BN-Scale-ReLU, depthwise, linear bottleneck, residual Eltwise, global
pooling, 1x1 conv classifier, Softmax), weights made for it by `fixtures.frontends.caffemodel_for`.
toolkit2 reads the old input spelling; toolkit 1.x refuses it (guide §3.1)."""

from __future__ import annotations

import cv2
import numpy as np

from fixtures.datasets import _image
from fixtures.frontends import caffemodel_for
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]


def _cbr(name, bottom, out, k=1, s=1, group=1, relu=True):
    text = (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" convolution_param {{ '
            f'num_output: {out} bias_term: false kernel_size: {k} stride: {s} pad: {k // 2} group: {group} }} }}\n'
            f'layer {{ name: "{name}/bn" type: "BatchNorm" bottom: "{name}" top: "{name}" '
            f'batch_norm_param {{ use_global_stats: true eps: 1e-5 }} }}\n'
            f'layer {{ name: "{name}/scale" type: "Scale" bottom: "{name}" top: "{name}" '
            f'scale_param {{ bias_term: true }} }}\n')
    if relu:
        text += f'layer {{ name: "relu_{name}" type: "ReLU" bottom: "{name}" top: "{name}" }}\n'
    return text


def mobilenet_v2_prototxt(size: int = 32) -> str:
    text = f'name: "MOBILENET_V2"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: {size}\ninput_dim: {size}\n'
    text += _cbr("conv1", "data", 16, k=3, s=2)
    text += _cbr("conv2_1/expand", "conv1", 32) + _cbr("conv2_1/dwise", "conv2_1/expand", 32, k=3, group=32)
    text += _cbr("conv2_1/linear", "conv2_1/dwise", 16, relu=False)
    text += ('layer { name: "block_2_1" type: "Eltwise" bottom: "conv1" bottom: "conv2_1/linear" '
             'top: "block_2_1" }\n')
    text += _cbr("conv3_1/expand", "block_2_1", 48) + _cbr("conv3_1/dwise", "conv3_1/expand", 48, k=3, s=2, group=48)
    text += _cbr("conv3_1/linear", "conv3_1/dwise", 24, relu=False)
    text += ('layer { name: "pool6" type: "Pooling" bottom: "conv3_1/linear" top: "pool6" '
             'pooling_param { pool: AVE global_pooling: true } }\n'
             'layer { name: "fc7" type: "Convolution" bottom: "pool6" top: "fc7" '
             'convolution_param { num_output: 10 kernel_size: 1 } }\n'
             'layer { name: "prob" type: "Softmax" bottom: "fc7" top: "prob" }\n')
    return text


def _example(folder, size=32):
    (folder / "mobilenet_v2_deploy.prototxt").write_text(mobilenet_v2_prototxt(size))
    caffemodel_for(folder / "mobilenet_v2_deploy.prototxt", folder / "mobilenet_v2.caffemodel")
    rng = np.random.default_rng(4)
    names = []
    for i in range(4):
        cv2.imwrite(str(folder / f"img{i}.jpg"), _image(rng, size, size, 3))
        names.append(f"img{i}.jpg")
    (folder / "dataset.txt").write_text("\n".join(names) + "\n")
    return cv2.imread(str(folder / "img0.jpg"))


def _opencv(folder, img):
    net = cv2.dnn.readNetFromCaffe(str(folder / "mobilenet_v2_deploy.prototxt"),
                                   str(folder / "mobilenet_v2.caffemodel"))
    # quant_img_RGB2BGR=True tells the toolkit the images are BGR already (cv2.imread), as the net wants
    net.setInput(((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32))
    return net.forward()


def test_toolkit2_caffe_mobilenet_v2_script_with_the_old_input_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    img = _example(tmp_path)
    prob_net = _opencv(tmp_path, img)
    rknn = RKNN(verbose=False)
    rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform="rk3566")
    assert rknn.load_caffe(model="./mobilenet_v2_deploy.prototxt", blobs="./mobilenet_v2.caffemodel") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./mobilenet_v2.rknn") == 0
    assert rknn.init_runtime() == 0
    out = rknn.inference(inputs=[img], data_format=["nhwc"])[0]
    assert out.size == prob_net.size == 10
    logp, logp_net = (np.log(np.maximum(v.ravel(), 1e-6)) for v in (out, prob_net))
    # probabilities of a random net sit close together: compare the centred log-probabilities
    assert metrics(logp - logp.mean(), logp_net - logp_net.mean())["cosine"] > 0.98
    assert int(np.argmax(out)) == int(np.argmax(prob_net))
    rknn.release()


def test_toolkit1_refuses_the_old_input_spelling(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _example(tmp_path)
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="2 1 0", target_platform=["rv1126"])
    assert rknn.load_caffe(model="./mobilenet_v2_deploy.prototxt", proto="caffe",
                           blobs="./mobilenet_v2.caffemodel") != 0
    assert "Deprecated caffe input usage" in capsys.readouterr().out
    rknn.release()


def test_toolkit2_dynamic_shape_script_on_a_caffe_model(tmp_path, monkeypatch):
    """functions/dynamic_shape: config(dynamic_input=...) with load_caffe, inference at each set."""
    monkeypatch.chdir(tmp_path)
    img = _example(tmp_path, size=32)
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform="rk3566",
                dynamic_input=[[[1, 3, 40, 40]], [[1, 3, 24, 24]], [[1, 3, 32, 32]]])
    assert rknn.load_caffe(model="./mobilenet_v2_deploy.prototxt", blobs="./mobilenet_v2.caffemodel") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./mobilenet_v2.rknn") == 0
    assert rknn.init_runtime() == 0
    for size in (32, 24, 40):
        x = cv2.resize(img, (size, size))
        out = rknn.inference(inputs=[np.transpose(x[None], (0, 3, 1, 2))], data_format=["nchw"])[0]
        net = cv2.dnn.readNetFromCaffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel")
        net.setInput(((x.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32))
        want = net.forward()
        logp, logp_net = (np.log(np.maximum(v.ravel(), 1e-6)) for v in (out, want))
        assert metrics(logp - logp.mean(), logp_net - logp_net.mean())["cosine"] > 0.95, size
    rknn.release()


def test_dynamic_input_with_a_loader_whose_file_fixes_shapes_is_refused(tmp_path, capsys):
    from fixtures.frontends import darknet_files, yolov3_tiny_cfg
    cfg, weights = darknet_files(tmp_path, "tiny", yolov3_tiny_cfg(64))
    rknn = RKNN()
    rknn.config(target_platform="rk3566", dynamic_input=[[[1, 3, 64, 64]], [[1, 3, 32, 32]]])
    assert rknn.load_darknet(model=str(cfg), weight=str(weights)) != 0
    assert "config(dynamic_input=...) is not supported when loading" in capsys.readouterr().out
