"""More vendor examples in shape, run as user scripts: toolkit2's functions/multi_batch and
functions/quantize_algorithm_mmse, 1.x's pass_through, eval_mem and export_encrypt_rknn_model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]


def _img(path):
    return np.expand_dims(np.asarray(Image.open(path).convert("RGB")), 0)


def test_multi_batch_script(example):
    example()
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform="rk3566")
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt", rknn_batch_size=4) == 0
    assert rknn.export_rknn("./mobilenet_v2.rknn") == 0
    lines = open("dataset.txt").read().split()
    imgs = [_img(p) for p in (lines[0], lines[1], lines[2], lines[0])]
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[np.concatenate(imgs, axis=0)], data_format=["nhwc"])
    assert outputs[0].shape == (4, 10)
    np.testing.assert_array_equal(outputs[0][0], outputs[0][3])          # same image, same answer
    single = rknn.inference(inputs=[np.concatenate([imgs[1]] * 4, axis=0)], data_format=["nhwc"])[0]
    np.testing.assert_allclose(outputs[0][1], single[0])


def test_1x_batch_size_script_images_stacked_on_axis0(example):
    """1.x common_function_demos/batch_size (guide §1.5.5, §1.5.7): with rknn_batch_size=4 the
    script passes four HWC images concatenated on axis 0, (4*H, W, C), and gets four results."""
    example()
    rknn = RKNN()
    rknn.config(mean_values=[[127.5, 127.5, 127.5]], std_values=[[127.5, 127.5, 127.5]], reorder_channel="0 1 2",
                target_platform=["rv1126"])
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt", rknn_batch_size=4) == 0
    lines = open("dataset.txt").read().split()
    imgs = [_img(p)[0] for p in (lines[0], lines[1], lines[2], lines[0])]
    assert rknn.init_runtime() == 0
    out = rknn.inference(inputs=[np.concatenate(imgs, axis=0)])[0]
    assert out.shape == (4, 10)
    np.testing.assert_array_equal(out[0], out[3])
    alone = rknn.inference(inputs=[np.stack([imgs[1]] * 4)])[0]              # the 4-D form gives the same
    np.testing.assert_allclose(out[1], alone[0])
    assert not np.array_equal(out[0], out[1])
    rknn.release()


def test_quantize_algorithm_mmse_script(example):
    example()
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=[128, 128, 128], std_values=[128, 128, 128], target_platform="rk3566",
                quantized_algorithm="mmse")
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.accuracy_analysis(inputs=["dog_16x16.jpg"], output_dir=None) == 0
    golden = np.genfromtxt("snapshot/golden/resnetv24_dense0_fwd.txt")
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[_img("dog_16x16.jpg")], data_format=["nhwc"])
    assert metrics(outputs[0].reshape(-1), golden)["cosine"] > 0.99


def test_1x_pass_through_script(example):
    example()
    rknn = RKNN()
    rknn.config(mean_values=[[127.5, 127.5, 127.5]], std_values=[[127.5, 127.5, 127.5]],
                reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt", pre_compile=False) == 0
    assert rknn.export_rknn("deeplab.rknn") == 0
    assert rknn.load_rknn("deeplab.rknn") == 0
    assert rknn.init_runtime() == 0
    img = _img("dog_16x16.jpg")
    normal = rknn.inference(inputs=[img])[0]
    # the script quantizes the input itself with the model's input parameters and passes it through
    qp = rknn.model.quant["tensors"]["data"]
    scale, zp = float(qp["scale"]), int(qp["zero_point"])
    x = (img.astype(np.float32) - 127.5) / 127.5
    q = np.clip(np.rint(x / scale + zp), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)
    through = rknn.inference(inputs=[q], data_format="nchw", inputs_pass_through=[1])[0]
    np.testing.assert_allclose(through, normal, rtol=1e-6, atol=1e-6)


def _built_rknn(path: str, chip: str) -> None:
    """The .rknn another example builds, as the script's command-line argument."""
    r = RKNN()
    r.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]], target_platform=[chip])
    r.load_onnx(model="resnet50v2.onnx")
    r.build(do_quantization=True, dataset="dataset.txt")
    r.export_rknn(path)


def test_1x_eval_mem_script(example):
    example()
    _built_rknn("m.rknn", "rk1808")
    rknn = RKNN()
    assert rknn.load_rknn("m.rknn") == 0
    assert rknn.init_runtime(eval_mem=True) == 0
    mem = rknn.eval_memory()
    assert mem["weight_memory"] > 0 and mem["total_memory"] >= mem["weight_memory"]


def test_1x_export_encrypt_script_is_refused_under_the_methods_name(example, capsys):
    """1.x common_function_demos/export_encrypt_rknn_model, given a built .rknn on the command line:
    refused (the vendor's board driver holds the keys), the E line headed by the method the script
    called, the script's plain model untouched and no encrypted file left behind."""
    example()
    _built_rknn("mobilenet_v1.rknn", "rv1126")
    before = open("mobilenet_v1.rknn", "rb").read()
    capsys.readouterr()
    rknn = RKNN()
    assert rknn.export_encrypted_rknn_model("mobilenet_v1.rknn", "mobilenet_v1.encrypt.rknn", 1) < 0
    errors = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("E ")]
    assert errors and errors[0].startswith("E export_encrypted_rknn_model: ") and "Fix:" in errors[0], errors
    assert open("mobilenet_v1.rknn", "rb").read() == before
    assert not Path("mobilenet_v1.encrypt.rknn").exists()
