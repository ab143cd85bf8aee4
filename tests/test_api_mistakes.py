"""Mistakes in API use are caught where they are made (config/build), in the user's terms:
not at the first inference, and never by quietly building on defaults."""

import numpy as np
import pytest

from fixtures import models
from rknn_diag import errors
from rknn_diag.api import RKNN


def _build(save, capsys, model=None, **config):
    r = RKNN()
    assert r.config(**config) == 0
    assert r.load_onnx(save(model or models.conv_bn_relu())) == 0
    capsys.readouterr()
    return r, r.build(do_quantization=False), capsys.readouterr().out


@pytest.mark.parametrize("config,needle", [
    ({"mean_values": [[0, 0, 0, 0]], "std_values": [[1]]}, "mean_values for input 0 'x' has 4 values"),
    ({"mean_values": [[0]], "std_values": [[1, 1]]}, "std_values for input 0 'x' has 2 values"),
    ({"mean_values": [[0, 0, 0]], "std_values": [[1, 1, 1]], "reorder_channel": "1 0"},
     "reorder_channel for input 0 'x' has 2 values"),
    ({"mean_values": [[0, 0, 0], [0, 0, 0]], "std_values": [[1, 1, 1], [1, 1, 1]]}, "for 2 inputs but the model has 1"),
], ids=["mean-4-for-3", "std-2-for-3", "reorder-2-for-3", "two-inputs-for-one"])
def test_preprocess_that_does_not_fit_the_model_is_refused_at_build(save, capsys, tmp_path, config, needle):
    r, rc, out = _build(save, capsys, **config)
    assert rc == errors.RKNN_ERR_PARAM_INVALID
    assert needle in out and ("NHWC image [1, 8, 8, 3]" in out or "model has 1" in out), out
    assert r.export_rknn(str(tmp_path / "m.rknn")) != 0 and not (tmp_path / "m.rknn").exists()


def test_one_value_for_all_channels_and_a_full_list_still_build(save, capsys):
    assert _build(save, capsys, mean_values=[[128]], std_values=[[58, 57, 57]])[1] == 0


def test_preprocess_on_a_non_image_input_is_refused(save, capsys):
    _, rc, out = _build(save, capsys, models.mixed_inputs(),
                        mean_values=[[0, 0, 0], [1]], std_values=[[1, 1, 1], [2]])
    assert rc == errors.RKNN_ERR_PARAM_INVALID and "input 1 'ids'" in out and "not a 4-D image" in out


def test_a_failed_config_keeps_load_and_build_from_using_defaults(save, capsys):
    r = RKNN()
    assert r.config(mean_values=[[0, 0, 0]], std_values=[[0, 1, 1]]) == errors.RKNN_ERR_PARAM_INVALID
    capsys.readouterr()
    assert r.load_onnx(save(models.conv_bn_relu())) == errors.RKNN_ERR_PARAM_INVALID
    out = capsys.readouterr().out
    assert "config() failed earlier (std_values[0] has a 0)" in out and "using defaults" not in out
    assert r.build(do_quantization=False) != 0
    assert r.config(mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]]) == 0     # corrected: all good again
    assert r.load_onnx(save(models.conv_bn_relu())) == 0 and r.build(do_quantization=False) == 0


def test_a_wrong_image_size_is_told_in_the_users_layout(save, capsys):
    r, rc, _ = _build(save, capsys, mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]])
    assert rc == 0 and r.init_runtime() == 0
    assert r.inference(inputs=[np.zeros((1, 9, 9, 3), np.uint8)]) is None
    text = str(r.last_error)
    assert "wants shape [1, 8, 8, 3] (nhwc), got [1, 9, 9, 3]" in text and "8x8" in text
    assert r.inference(inputs=[np.zeros((1, 3, 9, 9), np.float32)], data_format="nchw") is None
    assert "wants shape [1, 3, 8, 8] (nchw), got [1, 3, 9, 9]" in str(r.last_error)
