"""The vendor's own behaviour with raw-pixel `.npy` calibration samples, pinned (issue 9 item 1).

rknn_diag normalises an image-shaped `.npy` dataset sample with config(mean_values, std_values)
like a jpg/png (`quant/dataset.py`), because the vendor does. This runs the vendor's toolkit
directly, as a user's script would (not through our target's dataset mapping): a w8a8 build
calibrated on raw 0..255 `.npy` files is right on raw images, and the same images stored
pre-normalised (the reading where `.npy` skips mean/std) calibrate it wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from fixtures.datasets import _image
from rknn_diag.targets.toolkit2 import Toolkit2Target

from .models import SHAPE, conv_relu, cosine, onnxruntime_outputs

SCRIPT = """
import json, sys
import numpy as np
from rknn.api import RKNN
model, dataset, image, out = sys.argv[1:5]
r = RKNN(verbose=False)
r.config(mean_values=[[127.5] * 3], std_values=[[127.5] * 3], target_platform='rk3588', quantized_dtype='w8a8')
assert r.load_onnx(model) == 0
assert r.build(do_quantization=True, dataset=dataset) == 0
assert r.init_runtime() == 0
y = r.inference(inputs=[np.load(image)], data_format='nhwc')[0]
np.save(out, np.asarray(y, np.float32))
"""


def _images(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_image(rng, SHAPE[2], SHAPE[3], SHAPE[1]) for _ in range(n)]   # raw pixels, HxWx3 uint8


def _vendor_cosine(folder: Path, model: Path, samples: list[np.ndarray], image: np.ndarray) -> float:
    folder.mkdir()
    names = []
    for i, s in enumerate(samples):   # NCHW, as toolkit2 wants .npy samples (§1.4.6)
        np.save(folder / f"s{i}.npy", s.transpose(2, 0, 1)[None].astype(np.float32), allow_pickle=False)
        names.append(f"s{i}.npy")
    (folder / "dataset.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    np.save(folder / "image.npy", image[None], allow_pickle=False)
    script = folder / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([*Toolkit2Target().python, str(script), str(model), "dataset.txt", "image.npy", "y.npy"],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    x = ((image.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
    return cosine(np.load(folder / "y.npy"), onnxruntime_outputs(model, {"x": x})[0])


def test_vendor_normalises_raw_pixel_npy_samples_like_images(tmp_path, vendor_installed):
    model = conv_relu(tmp_path / "m.onnx")
    calib, image = _images(8, 0), _images(1, 99)[0]
    raw = _vendor_cosine(tmp_path / "raw", model, calib, image)
    prenormalised = _vendor_cosine(tmp_path / "pre", model,
                                   [(c.astype(np.float32) - 127.5) / 127.5 for c in calib], image)
    (tmp_path / "cosines.json").write_text(json.dumps({"raw": raw, "prenormalised": prenormalised}))
    assert raw >= 0.99, f"raw-pixel .npy calibration: cosine {raw:.5f}"
    # normalised twice, the calibration sees about ±0.01 and every range downstream is too narrow
    assert prenormalised < raw - 0.01, f"pre-normalised .npy: {prenormalised:.5f}, raw: {raw:.5f}"
