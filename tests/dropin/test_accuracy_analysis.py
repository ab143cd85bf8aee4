"""accuracy_analysis in the shape of both generations' examples: toolkit2's
functions/accuracy_analysis (reads snapshot/golden and snapshot/simulator .txt files) and
1.x's accuracy_analysis/normal_quantization (inputs='./dataset.txt', 1.x folders)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from PIL import Image

from rknn_diag.api import RKNN

MEAN, STD = [123.68, 116.28, 103.53], [57.38, 57.38, 57.38]


def _float_reference(image_path: str) -> np.ndarray:
    """The float32 classifier on the normalised image: what 'golden' must hold."""
    x = np.asarray(Image.open(image_path).convert("RGB"), np.float32)
    x = ((x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)).transpose(2, 0, 1)[None]
    sess = ort.InferenceSession("resnet50v2.onnx", providers=["CPUExecutionProvider"])
    return sess.run(None, {"data": x})[0].reshape(-1)


def test_toolkit2_script_reads_golden_and_simulator_txt(example):
    example()
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, target_platform="rk3566")
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.accuracy_analysis(inputs=["./dog_16x16.jpg"], output_dir="./snapshot") == 0
    golden = np.genfromtxt("./snapshot/golden/resnetv24_dense0_fwd.txt")
    quant = np.genfromtxt("./snapshot/simulator/resnetv24_dense0_fwd.txt")
    ref = _float_reference("./dog_16x16.jpg")
    np.testing.assert_allclose(golden, ref, rtol=1e-4, atol=1e-4)
    assert quant.shape == golden.shape and not np.array_equal(quant, golden)     # really the quantized run
    assert np.argmax(quant) == np.argmax(golden)
    table = open("./snapshot/error_analysis.txt").read()
    assert "[Gemm] resnetv24_dense0_fwd" in table and "[Conv] r1" in table   # relu fused into conv1
    assert not list(__import__("pathlib").Path("snapshot").glob("fp32"))        # not the 1.x layout
    rknn.release()


def test_toolkit2_output_dir_none_means_snapshot(example):
    example()
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], target_platform="rk3588")
    rknn.load_onnx(model="resnet50v2.onnx")
    rknn.build(do_quantization=True, dataset="./dataset.txt")
    assert rknn.accuracy_analysis(inputs=["./dog_16x16.jpg"], output_dir=None) == 0
    assert open("./snapshot/error_analysis.txt").read()


def test_1x_script_passes_the_dataset_file_and_gets_the_1x_layout(example, capsys):
    example()
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("shufflenetv2_x1.rknn") == 0
    assert rknn.accuracy_analysis(inputs="./dataset.txt", output_dir="./normal_quantization_analysis") == 0
    out = "./normal_quantization_analysis"
    lines = open(f"{out}/individual_qnt_error_analysis.txt").read().splitlines()[1:]
    assert [ln.split()[0] for ln in lines][-1] == "fc"
    first = open("dataset.txt").read().split()[0]
    last = sorted(__import__("pathlib").Path(out, "fp32").glob("*resnetv24_dense0_fwd.npy"))[0]
    np.testing.assert_allclose(np.load(last).reshape(-1), _float_reference(first), rtol=1e-4, atol=1e-4)
    assert "first sample of ./dataset.txt" in capsys.readouterr().out


def test_chip_decides_the_layout_even_with_toolkit2_spelling(example):
    """The chip in target_platform is the first rule: a toolkit2-spelled config for rv1126 is 1.x."""
    example()
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], target_platform="rv1126")
    rknn.load_onnx(model="resnet50v2.onnx")
    rknn.build(do_quantization=True, dataset="./dataset.txt")
    assert rknn.accuracy_analysis(inputs=["./dog_16x16.jpg"], output_dir="snap") == 0
    assert __import__("os").path.isdir("snap/fp32") and not __import__("os").path.isdir("snap/golden")
