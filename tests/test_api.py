"""The RKNN facade: vendor return codes and log lines, and the preprocessing it owns."""

import os

import numpy as np
import pytest

from fixtures import models
from rknn_diag import errors
from rknn_diag.api import RKNN
from rknn_diag.compare import check_float16, reference

from .conftest import rng, runtime


def test_full_user_path_matches_onnxruntime(built):
    path, src = built(models.conv_bn_relu(), mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]])
    r = runtime(path)
    x = rng().standard_normal((1, 3, 8, 8)).astype(np.float32)
    out = r.inference(inputs=[x.transpose(0, 2, 3, 1)])  # vendor default data_format: nhwc
    verdict = check_float16(out, reference(src, {"x": x}))
    assert verdict.ok, verdict.message


def test_channel_mean_value_and_reorder_are_applied_inside_the_model(built):
    """reorder first, then (x - M)/S (guide §1.2.1, §1.2.5)."""
    path, src = built(models.conv_bn_relu(), channel_mean_value="120 128 136 127.5", reorder_channel="2 1 0")
    img = rng(3).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
    out = runtime(path).inference(inputs=[img])
    expect_in = ((img[..., ::-1] - np.array([120, 128, 136], np.float32)) / 127.5).transpose(0, 3, 1, 2)
    verdict = check_float16(out, reference(src, {"x": np.ascontiguousarray(expect_in)}))
    assert verdict.ok, verdict.message


def test_rgb_image_into_single_channel_model_is_explained(built, capsys):
    path, _ = built(models.single_channel())
    r = runtime(path)
    capsys.readouterr()
    assert r.inference(inputs=[np.zeros((8, 8, 3), np.uint8)]) is None
    out = capsys.readouterr().out
    assert out.startswith("E inference:") and "single-channel" in out and "cv2.imread(path, 0)" in out
    assert isinstance(r.last_error, errors.InputError)


def test_batch_concatenated_on_axis0(tmp_path, save):
    src = save(models.conv_bn_relu())
    r = RKNN()
    assert r.load_onnx(src) == 0 and r.build(do_quantization=False, rknn_batch_size=4) == 0
    assert r.init_runtime() == 0
    xs = rng(4).standard_normal((4, 3, 8, 8)).astype(np.float32)
    out = r.inference(inputs=[xs], data_format="nchw")
    assert out[0].shape == (4, 8, 8, 8)
    single = [reference(src, {"x": xs[i:i + 1]})[0] for i in range(4)]
    assert check_float16(out, [np.concatenate(single)]).ok
    assert r.inference(inputs=[xs[:1]], data_format="nchw") is None
    assert "rknn_batch_size=4" in str(r.last_error)


def test_non_image_inputs_pass_untouched(save):
    """Vectors, int64 ids and 5-D tensors are not images: no layout change, no mean/std."""
    src = save(models.mixed_inputs())
    r = RKNN()
    assert r.config(mean_values=[[100, 100, 100]], std_values=[[2, 2, 2]]) == 0
    assert r.load_onnx(src) == 0 and r.build(do_quantization=False) == 0 and r.init_runtime() == 0
    img = rng(5).uniform(0, 255, (1, 4, 4, 3)).astype(np.float32)
    ids = np.array([7, 0, 3], np.int64)
    vol = rng(6).standard_normal((1, 2, 2, 2, 2)).astype(np.float32)
    m, g, v = r.inference(inputs=[img, ids, vol])
    np.testing.assert_allclose(m, [((img - 100) / 2).mean()], rtol=2e-3)
    np.testing.assert_array_equal(g, np.array([7, 0, 3]) * 1.5)
    np.testing.assert_allclose(v, [vol.sum()], rtol=2e-3, atol=2e-3)


def test_pass_through_skips_preprocessing(built):
    path, src = built(models.conv_bn_relu(), mean_values=[[50, 50, 50]], std_values=[[3, 3, 3]])
    x = rng(7).standard_normal((1, 3, 8, 8)).astype(np.float32)
    out = runtime(path).inference(inputs=[x], data_format="nchw", inputs_pass_through=[1])
    assert check_float16(out, reference(src, {"x": x})).ok


@pytest.mark.parametrize("inputs,needle", [
    ([], "takes 1 input"),
    ([np.zeros((1, 8, 8, 3)), np.zeros(3)], "takes 1 input"),
    ([np.zeros((1, 9, 9, 3), np.float32)], "resize the image to 8x8"),
    ([np.zeros((1, 8, 8, 5), np.float32)], "has 3 channels, got 5"),
    ([np.zeros((8,), np.float32)], "4-D image"),
])
def test_wrong_inputs_are_explained(built, inputs, needle):
    path, _ = built(models.conv_bn_relu())
    r = runtime(path)
    assert r.inference(inputs=inputs) is None
    assert needle in str(r.last_error)


def test_calls_out_of_order_return_codes(tmp_path, capsys):
    r = RKNN()
    assert r.build(do_quantization=False) == errors.RKNN_ERR_CTX_INVALID
    assert r.export_rknn(str(tmp_path / "x.rknn")) == errors.RKNN_ERR_CTX_INVALID
    assert r.init_runtime() == errors.RKNN_ERR_CTX_INVALID
    assert r.inference(inputs=[np.zeros(1)]) is None
    assert not (tmp_path / "x.rknn").exists()
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("E ") for line in lines) and len(lines) == 4


def test_quantized_build_without_a_dataset_is_refused_clearly(save):
    r = RKNN()
    assert r.load_onnx(save(models.conv_bn_relu())) == 0
    assert r.build(do_quantization=True) == errors.RKNN_ERR_PARAM_INVALID
    assert "needs a dataset" in str(r.last_error)


def test_board_target_without_an_adb_server_is_a_clear_error(built):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    path, _ = built(models.conv_bn_relu())
    r = RKNN()
    assert r.load_rknn(path) == 0
    assert r.init_runtime(target="rk3588", device_id="abc",
                          adb_server=f"127.0.0.1:{free}") == errors.RKNN_ERR_DEVICE_UNAVAILABLE
    assert "adb server" in str(r.last_error) and "§1.7.2" in str(r.last_error)
    assert r.init_runtime(target="rk9999") == errors.RKNN_ERR_PARAM_INVALID


def test_corrupt_model_file_gives_model_invalid(tmp_path, built):
    path, _ = built(models.conv_bn_relu())
    data = open(path, "rb").read()
    bad = tmp_path / "bad.rknn"
    bad.write_bytes(data[: len(data) // 2])
    r = RKNN()
    assert r.load_rknn(str(bad)) == errors.RKNN_ERR_MODEL_INVALID
    assert "truncated or corrupted" in str(r.last_error)


def test_unsupported_op_at_load(save):
    r = RKNN()
    assert r.load_onnx(save(models.with_op("Det"))) == errors.RKNN_ERR_MODEL_INVALID
    assert "my_det" in str(r.last_error)


def test_eval_memory_counts_fp16_weights_and_peak(built):
    path, _ = built(models.conv_bn_relu())
    mem = runtime(path).eval_memory(is_print=False)
    assert mem["weight_memory"] == (8 * 3 * 3 * 3 + 8) * 2
    # peak: the input (3x8x8) and the output (8x8x8) are live together, in fp16
    assert mem["internal_memory"] == (3 * 64 + 8 * 64) * 2
    assert mem["total_memory"] == mem["weight_memory"] + mem["internal_memory"]


def test_layer_dump_names_map_to_source_layers(built, tmp_path, monkeypatch):
    path, _ = built(models.conv_bn_relu())
    r = runtime(path)
    dump = tmp_path / "dump"
    dump.mkdir()
    monkeypatch.chdir(dump)
    monkeypatch.setenv("NN_LAYER_DUMP", "1")
    r.inference(inputs=[np.zeros((1, 8, 8, 3), np.float32)])
    files = sorted(os.listdir(dump))
    assert files == ["0000_y__conv1+bn1+scale1+relu1+out.npy"]
    assert np.load(dump / files[0], allow_pickle=False).shape == (1, 8, 8, 8)


def test_sdk_version_and_vendor_log_prefixes(capsys, save):
    r = RKNN(verbose=True)
    assert "rknn_diag" in r.get_sdk_version()
    r.load_onnx(save(models.conv_bn_relu()))
    out = capsys.readouterr().out.splitlines()
    assert out and all(line[:2] in ("E ", "W ", "I ", "D ") for line in out)


def test_eval_perf_times_every_layer(built):
    path, _ = built(models.conv_bn_relu())
    perf = runtime(path).eval_perf(is_print=False)
    assert [layer["name"] for layer in perf["layers"]] == ["conv1"]
    assert perf["total_ms"] >= perf["layers"][0]["ms"] > 0


def test_list_devices_without_an_adb_server_is_empty_not_a_crash(capsys):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]          # nothing listens here once closed
    r = RKNN()
    assert r.list_devices(adb_server=f"127.0.0.1:{free}") == ([], [])
    assert capsys.readouterr().out.startswith("E list_devices:")


def test_eval_memory_counts_quantized_bytes(tmp_path, save):
    """w8a8: int8 weights and activations, int32 bias — a quarter of float32, not float16's half."""
    x = rng(9).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "s.npy", x)
    (tmp_path / "ds.txt").write_text("s.npy\n")
    r = RKNN()
    assert r.config(quantized_dtype="w8a8", target_platform="rk3588") == 0
    assert r.load_onnx(save(models.conv_bn_relu())) == 0
    assert r.build(do_quantization=True, dataset=str(tmp_path / "ds.txt")) == 0
    mem = r.eval_memory(is_print=False)
    assert mem["weight_memory"] == 8 * 3 * 3 * 3 * 1 + 8 * 4
    assert mem["internal_memory"] == (3 * 64 + 8 * 64) * 1
