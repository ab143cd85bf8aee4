"""toolkit2 tensorflow/inception_v3_qat (and 1.x's load_quantized_model/tensorflow): a frozen
graph from quantization-aware training, FakeQuant nodes on inputs, weights and activations,
built with do_quantization=False — the model's own ranges are kept (a quantized build, not a
float one), and the outputs follow TensorFlow's own fake-quantized forward."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.dropin import tf_qat_classifier
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

pytest.importorskip("tensorflow", reason="the stand-in .pb is made with TensorFlow (frontends extra)")

MEAN, STD, SIZE, OUT = [104, 117, 123], [128, 128, 128], 48, "InceptionV3/Logits/SpatialSqueeze"


def _tf_forward(pb, img):
    import tensorflow as tf
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(open(pb, "rb").read())
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as s:
            x = ((img.astype(np.float32) - MEAN) / STD)
            return s.run(f"{OUT}:0", {"input:0": x})


def test_inception_v3_qat_script(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    img = np.random.default_rng(3).integers(0, 256, (1, SIZE, SIZE, 3)).astype(np.uint8)
    tf_qat_classifier(tmp_path / "inception_v3_quant_frozen.pb", img, MEAN, STD, SIZE)
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, target_platform="rk3566")
    assert rknn.load_tensorflow(tf_pb="./inception_v3_quant_frozen.pb", inputs=["input"], outputs=[OUT],
                                input_size_list=[[1, SIZE, SIZE, 3]]) == 0
    assert rknn.build(do_quantization=False) == 0
    built = capsys.readouterr().out
    done = built.split("Build done")[-1].splitlines()[0]
    assert "quantized-u8" in done, built[-2000:]         # the graph's own uint8 ranges, not a float16 build
    assert rknn.export_rknn("./inception_v3_quant_frozen.rknn") == 0
    assert rknn.init_runtime() == 0
    out = rknn.inference(inputs=[img], data_format=["nhwc"])
    assert out is not None and out[0].shape == (1, 1001)
    ref = _tf_forward(tmp_path / "inception_v3_quant_frozen.pb", img)
    assert metrics(ref, out[0])["cosine"] >= 0.99
    assert int(np.argmax(out[0])) == int(np.argmax(ref))
