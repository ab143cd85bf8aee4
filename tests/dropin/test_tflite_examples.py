"""rknn-toolkit2's tflite/mobilenet_v1_qat (and 1.x load_quantized_model/tflite) in shape: a
full-integer .tflite with uint8 input and output, as the vendor's quantized MobileNet files are,
loaded with mean/std 128 and built without quantization (the model's own scales are kept).
Our own model, made with TensorFlow's converter; TFLite's interpreter is the reference."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.datasets import _image
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

tf = pytest.importorskip("tensorflow", reason="the model is made with TensorFlow: pip install tensorflow-cpu")


def uint8_tflite(path, size: int = 32, classes: int = 11) -> None:
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((size, size, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inp)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = tf.keras.layers.Conv2D(16, 1, activation="relu6")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(classes, activation="softmax",
                                kernel_initializer=tf.keras.initializers.RandomNormal(stddev=4.0))(x)
    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, out))
    rng = np.random.default_rng(1)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([(_image(rng, size, size, 3)[None] / 128.0 - 1).astype(np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.uint8
    path.write_bytes(conv.convert())


def tflite_run(path, img: np.ndarray) -> tuple[np.ndarray, float, int]:
    """TFLite's uint8 output and its scale and zero point."""
    it = tf.lite.Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], img[None])
    it.invoke()
    d = it.get_output_details()[0]
    scale, zp = d["quantization"]
    return it.get_tensor(d["index"]), scale, zp


def test_uint8_input_tflite_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uint8_tflite(tmp_path / "mobilenet_v1_1.0_224_quant.tflite")
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=[128, 128, 128], std_values=[128, 128, 128], target_platform="rk3566")
    assert rknn.load_tflite(model="mobilenet_v1_1.0_224_quant.tflite") == 0
    assert rknn.build(do_quantization=False) == 0
    assert rknn.export_rknn("./mobilenet_v1_quant.rknn") == 0
    assert rknn.init_runtime() == 0
    for seed in (5, 6, 7):
        img = _image(np.random.default_rng(seed), 32, 32, 3)
        got = rknn.inference(inputs=[img], data_format=["nhwc"])[0]
        want, scale, zp = tflite_run(tmp_path / "mobilenet_v1_1.0_224_quant.tflite", img)
        # the vendor returns a uint8 output's integers; the script dequantizes (scale 1/256, zero point 0)
        assert got.dtype == want.dtype == np.uint8 and got.shape == want.shape == (1, 11)
        assert np.abs(got.astype(int) - want).max() <= 2, seed
        assert metrics((got - zp) * scale, (want - zp) * scale)["cosine"] > 0.99, seed
    rknn.release()
