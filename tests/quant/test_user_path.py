"""Quantized builds the way users make them: mean/std in config(), a dataset.txt of raw-pixel
images and raw-pixel .npy arrays, inference() on raw images — one preprocessing path for all.

Guards the bug where `.npy` calibration samples skipped mean/std while inference() applied it
(calibration saw 0..255, inference fed [-1, 1]: the input landed on 2-3 codes)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fixtures.datasets import _image
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

from ._models import small_cnn, two_input_mlp

MEAN, STD = [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]


def _raw_images(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_image(rng, 16, 16, 3) for _ in range(n)]   # HxWx3 uint8, 0..255


def _dataset(folder: Path, imgs: list[np.ndarray], kind: str) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, img in enumerate(imgs):
        if kind == "npy":   # raw pixels, NCHW for an RKNPU2 chip (§1.4.6), never normalised
            np.save(folder / f"s{i}.npy", img.astype(np.float32).transpose(2, 0, 1), allow_pickle=False)
            lines.append(f"s{i}.npy")
        else:
            Image.fromarray(img).save(folder / f"s{i}.png")
            lines.append(f"s{i}.png")
    (folder / "dataset.txt").write_text("\n".join(lines) + "\n")
    return folder / "dataset.txt"


def _build(model_path: Path, dataset: Path, dtype: str = "w8a8") -> RKNN:
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(mean_values=[MEAN], std_values=[STD], target_platform="rk3588", quantized_dtype=dtype) == 0
        assert r.load_onnx(str(model_path)) == 0
        assert r.build(do_quantization=True, dataset=str(dataset)) == 0, r.last_error
        assert r.init_runtime() == 0
    return r


def _reference(model_path: Path, img: np.ndarray) -> list[np.ndarray]:
    x = ((img.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    s = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})


@pytest.fixture
def cnn(tmp_path) -> Path:
    p = tmp_path / "cnn.onnx"
    onnx.save(small_cnn(), p)
    return p


@pytest.mark.parametrize("kind", ["npy", "png"])
def test_raw_pixel_dataset_quantizes_what_inference_feeds(cnn, tmp_path, kind):
    """The input tensor is calibrated on normalised values ([-1, 1]), so held-back raw images
    come out close to the float model."""
    r = _build(cnn, _dataset(tmp_path / kind, _raw_images(12, 0), kind))
    lo, hi = r.model.quant["ranges"]["x"]
    assert -1.0 <= lo < -0.5 and 0.5 < hi <= 1.0, f"input calibrated on [{lo}, {hi}], not on normalised data"
    for img in _raw_images(3, 99):
        got = r.inference(inputs=[img])
        want = _reference(cnn, img)
        assert metrics(got[1], want[1])["cosine"] > 0.99   # the logits


def test_npy_and_image_datasets_give_identical_parameters(cnn, tmp_path):
    imgs = _raw_images(6, 1)
    a = _build(cnn, _dataset(tmp_path / "a", imgs, "npy")).model.quant
    b = _build(cnn, _dataset(tmp_path / "b", imgs, "png")).model.quant
    assert a["ranges"] == b["ranges"]


def test_accuracy_analysis_agrees_with_inference(cnn, tmp_path):
    """accuracy_analysis on an .npy file and inference() on the same raw image measure the same
    quantized output against the same float output."""
    imgs = _raw_images(8, 2)
    r = _build(cnn, _dataset(tmp_path / "ds", imgs, "npy"))
    probe = _dataset(tmp_path / "probe", imgs[:1], "npy").parent / "s0.npy"
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.accuracy_analysis(inputs=[str(probe)], output_dir=str(tmp_path / "snap")) == 0
    by_tensor = dict(zip(r.analysis["tensor"], r.analysis["entire_cosine"]))
    got = r.inference(inputs=[imgs[0]])
    want = _reference(cnn, imgs[0])
    for name, g, w in zip(("prob", "y", "cc"), got, want):
        assert by_tensor[name] == pytest.approx(metrics(g, w)["cosine"], abs=1e-5), name


def test_non_image_npy_passes_through_untouched(tmp_path):
    """A 2-D input is not an image: mean/std never apply to it, in calibration or inference."""
    p = tmp_path / "mlp.onnx"
    onnx.save(two_input_mlp(), p)
    m = onnx.load(p)
    shapes = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input]
    rng = np.random.default_rng(3)
    lines = []
    for i in range(6):
        names = []
        for k, shp in enumerate(shapes):
            np.save(tmp_path / f"v{i}_{k}.npy", rng.uniform(-3, 3, shp).astype(np.float32), allow_pickle=False)
            names.append(f"v{i}_{k}.npy")
        lines.append(" ".join(names))
    (tmp_path / "ds.txt").write_text("\n".join(lines) + "\n")
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform="rk3588") == 0
        assert r.load_onnx(str(p)) == 0
        assert r.build(do_quantization=True, dataset=str(tmp_path / "ds.txt")) == 0, r.last_error
    for name in (i.name for i in m.graph.input):
        lo, hi = r.model.quant["ranges"][name]
        assert lo < -2.5 and hi > 2.5, f"{name} calibrated on [{lo}, {hi}]: the raw values were changed"
