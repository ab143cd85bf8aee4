"""Optional extras missing: a clear, typed message naming the extra to install; progress
bars degrade to log lines. Simulated by hiding the module (sys.modules[name] = None)."""

import sys

import onnx
import pytest

from fixtures import models
from fixtures.datasets import image_dataset, npy_dataset
from rknn_diag import errors
from rknn_diag.api import RKNN


def _quantized_build(tmp_path, dataset):
    src = tmp_path / "m.onnx"
    onnx.save(models.conv_bn_relu(), str(src))
    r = RKNN()
    assert r.config(mean_values=[[123, 117, 104]], std_values=[[58, 57, 57]], target_platform="rk3588") == 0
    assert r.load_onnx(str(src)) == 0
    return r, r.build(do_quantization=True, dataset=str(dataset))


def test_images_without_pillow_name_the_quant_extra(tmp_path, monkeypatch, capsys):
    ds = image_dataset(tmp_path / "ds", 8, 8, count=4)
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "PIL", None)
    r, rc = _quantized_build(tmp_path, ds)
    out = capsys.readouterr().out
    assert rc == errors.RKNN_ERR_PARAM_INVALID and isinstance(r.last_error, errors.MissingExtra)
    assert "needs pillow" in out and "pip install 'rknn_diag[quant]'" in out and "internal error" not in out


def test_without_tqdm_progress_is_logged(tmp_path, monkeypatch, capsys):
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 8, 8]], count=60)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    r, rc = _quantized_build(tmp_path, ds)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "calibration: 60/60 samples" in out and "internal error" not in out


def test_a_missing_yaml_names_the_quant_extra(monkeypatch):
    from rknn_diag.extras import require
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(errors.MissingExtra, match=r"needs pyyaml.*pip install 'rknn_diag\[quant\]'"):
        require("yaml", "reading the hybrid quantization cfg")
