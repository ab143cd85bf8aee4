"""Dataset images of another size than the model input are resized as the vendor resizes them.

The vendor's own calibration ranges (hybrid_quantization_step1's .quantization.cfg) on a
dataset of noisy 37x41 PNG images for a 16x16 model, against ours on the same files. Pillow's
bilinear (ours before) smooths when shrinking and gave ranges up to 16 % narrower than the
vendor's on real photos; OpenCV's bilinear, which ours now uses, gives the vendor's ranges.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import yaml

from rknn_diag.api import RKNN
from rknn_diag.targets.toolkit2 import Toolkit2Target

from .models import conv_relu

SCRIPT = """
import sys
from rknn.api import RKNN
r = RKNN(verbose=False)
r.config(mean_values=[[127.5] * 3], std_values=[[127.5] * 3], target_platform='rk3588')
assert r.load_onnx(sys.argv[1]) == 0
assert r.hybrid_quantization_step1(dataset='dataset.txt') == 0
"""


def _dataset(folder: Path) -> None:
    from PIL import Image
    rng = np.random.default_rng(4)
    names = []
    for i in range(4):   # high-frequency content: where the two resizers differ most
        Image.fromarray(rng.integers(0, 256, (37, 41, 3), dtype=np.uint8)).save(folder / f"s{i}.png")
        names.append(f"s{i}.png")
    (folder / "dataset.txt").write_text("\n".join(names) + "\n", encoding="utf-8")


def _vendor_max(folder: Path, model: Path) -> float:
    (folder / "s1.py").write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([*Toolkit2Target().python, "s1.py", str(model)], cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    cfg = yaml.safe_load((folder / f"{model.stem}.quantization.cfg").read_text())["quantize_parameters"]
    return max(p["max"][0] for name, p in cfg.items() if name != "x" and p.get("dtype") == "int8")


def _our_max(folder: Path, model: Path, monkeypatch) -> float:
    monkeypatch.chdir(folder)
    r = RKNN()
    r.config(mean_values=[[127.5] * 3], std_values=[[127.5] * 3], target_platform="rk3588")
    assert r.load_onnx(str(model)) == 0
    assert r.build(do_quantization=True, dataset="dataset.txt") == 0
    return max(hi for name, (lo, hi) in r.model.quant["ranges"].items() if name != "x")


def test_calibration_resizes_images_as_the_vendor_does(tmp_path, vendor_installed, monkeypatch):
    model = conv_relu(tmp_path / "m.onnx")
    _dataset(tmp_path)
    vendor, ours = _vendor_max(tmp_path, model), _our_max(tmp_path, model, monkeypatch)
    assert abs(ours - vendor) <= 0.01 * vendor, (ours, vendor)
    # planted: Pillow's bilinear (the old resize) lands visibly narrower
    from PIL import Image
    import rknn_diag.quant.dataset as ds

    class PillowResize:
        INTER_LINEAR = None

        @staticmethod
        def resize(arr, size, interpolation=None):
            return np.asarray(Image.fromarray(arr).resize(size, Image.BILINEAR))
    real = ds.require
    monkeypatch.setattr(ds, "require", lambda module, purpose: PillowResize if module == "cv2" else
                        real(module, purpose))
    pillow = _our_max(tmp_path, model, monkeypatch)
    assert abs(pillow - vendor) > 0.02 * vendor, (pillow, vendor)
