"""fixtures.caffe_trained: the trained Caffe stand-ins are the network their prototxt says.

OpenCV's Caffe forward of the written .caffemodel (a reader that shares nothing with the torch
rebuild) must give what the trained torch module gives; a planted layout fault must break that.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from fixtures import caffe_trained  # noqa: E402

# conv -> BN -> Scale -> ReLU (in place), depthwise, a residual sum, a ceil-mode max pool on an
# odd size, global average pooling, a 1x1 classifier with bias, Softmax: the MobileNet family
PROTOTXT = """
name: "tiny"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 30
input_dim: 30
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 bias_term: false pad: 1 kernel_size: 3 stride: 2 } }
layer { name: "conv1/bn" type: "BatchNorm" bottom: "conv1" top: "conv1/bn" batch_norm_param { eps: 1e-5 } }
layer { name: "conv1/scale" type: "Scale" bottom: "conv1/bn" top: "conv1/bn" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1/bn" top: "conv1/bn" }
layer { name: "dw" type: "Convolution" bottom: "conv1/bn" top: "dw"
  convolution_param { num_output: 8 bias_term: false pad: 1 kernel_size: 3 group: 8 } }
layer { name: "dw/bn" type: "BatchNorm" bottom: "dw" top: "dw/bn" }
layer { name: "dw/scale" type: "Scale" bottom: "dw/bn" top: "dw/bn" scale_param { bias_term: true } }
layer { name: "sum" type: "Eltwise" bottom: "conv1/bn" bottom: "dw/bn" top: "sum" }
layer { name: "pool1" type: "Pooling" bottom: "sum" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "pool2" type: "Pooling" bottom: "pool1" top: "pool2" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "Convolution" bottom: "pool2" top: "fc" convolution_param { num_output: 10 kernel_size: 1 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""
MEAN, STD = [103.94, 116.78, 123.68], [58.82] * 3


def _opencv_vs_torch(tmp_path, module) -> float:
    proto, model = tmp_path / "tiny.prototxt", tmp_path / "tiny.caffemodel"
    proto.write_text(PROTOTXT)
    model.write_bytes(caffe_trained.serialize(module))
    x = np.random.default_rng(1).integers(0, 256, (1, 30, 30, 3)).astype(np.float32)
    x = np.ascontiguousarray(((x - np.float32(MEAN)) / np.float32(STD)).transpose(0, 3, 1, 2))
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    net.setInput(x)
    got = np.asarray(net.forward()).reshape(-1)
    with torch.no_grad():
        want = torch.softmax(module(torch.from_numpy(x)), 1).numpy().reshape(-1)
    return float(np.abs(got - want).max())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    proto = tmp_path_factory.mktemp("tiny") / "tiny.prototxt"
    proto.write_text(PROTOTXT)
    return caffe_trained.train(proto, MEAN, STD, steps=20, side=30)


def test_the_written_caffemodel_is_the_trained_net(tmp_path, trained):
    module, loss = trained
    assert np.isfinite(loss)
    # BatchNorm statistics moved off their initial values: the net was trained, not left random
    bn = module.mods[next(key for _n, kind, _f, _b, _t, key in module.steps if kind == "BatchNorm")]
    assert float(bn.running_var.sub(1).abs().max()) > 1e-3
    assert _opencv_vs_torch(tmp_path, module) < 1e-5


def test_a_planted_layout_fault_is_seen(tmp_path, trained, monkeypatch):
    module, _ = trained
    real = caffe_trained._blobs

    def swapped(m):   # BatchNorm blobs in the wrong order: variance where Caffe reads the mean
        out = real(m)
        for name, kind, *_ in m.steps:
            if kind == "BatchNorm":
                mean, var, factor = out[name]
                out[name] = [var, mean, factor]
        return out
    monkeypatch.setattr(caffe_trained, "_blobs", swapped)
    assert not _opencv_vs_torch(tmp_path, module) < 1e-5   # (NaN, from a negative variance, counts too)
