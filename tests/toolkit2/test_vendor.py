"""The real rknn-toolkit2 simulator behind the target (needs `tox -e toolkit2`)."""

from __future__ import annotations

import ast
import gc
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rknn_diag import outcome
from rknn_diag.errors import TargetError, TargetTimeout
from rknn_diag.targets import toolkit2
from rknn_diag.targets.base import BuildSpec, Target
from rknn_diag.targets.toolkit2 import (
    PreloadServerError,
    Toolkit2Target,
    VendorCrash,
    VendorError,
    VendorTimeout,
    VendorUnsupported,
)
from rknn_diag.targets.toolkit2_worker import TEST_HOOK_ENV

from .models import conv_relu, cosine, image_input, nhwc_dataset, onnxruntime_outputs


def _ok(target: Toolkit2Target, tmp_path: Path) -> float:
    """One plain float16 case; returns its cosine against onnxruntime."""
    model = conv_relu(tmp_path / "ok.onnx")
    x = image_input()
    res = target.run(str(model), BuildSpec(), [x])
    return cosine(res.outputs[0], onnxruntime_outputs(model, {"x": x})[0])


def test_info_names_the_vendor(vendor_target):
    assert isinstance(vendor_target, Target)
    info = vendor_target.info()
    assert info["name"] == "toolkit2" and info["target_platform"] == "rk3588"
    assert info["toolkit"] == "2.5.0"
    assert info["versions"]["numpy"] == "1.26.4" and info["versions"]["onnx"] == "1.18.0"


def test_conv_relu_float16_matches_onnxruntime(vendor_target, tmp_path):
    model = conv_relu(tmp_path / "m.onnx")
    x = image_input()
    res = vendor_target.run(str(model), BuildSpec(), [x])
    (ref,) = onnxruntime_outputs(model, {"x": x})
    assert res.outputs[0].shape == ref.shape == (1, 4, 16, 16)
    assert cosine(res.outputs[0], ref) >= 0.999
    assert res.latency_ms is not None and res.info["toolkit"] == "2.5.0"


def test_conv_relu_w8a8_matches_onnxruntime(vendor_target, tmp_path):
    model = conv_relu(tmp_path / "m.onnx")
    ds = nhwc_dataset(tmp_path)   # project layout (NHWC); the target rewrites it NCHW
    x = image_input()
    spec = BuildSpec(config={"quantized_dtype": "w8a8"}, do_quantization=True, dataset=str(ds))
    res = vendor_target.run(str(model), spec, [x])
    (ref,) = onnxruntime_outputs(model, {"x": x})
    assert res.outputs[0].shape == ref.shape
    assert cosine(res.outputs[0], ref) >= 0.99
    assert any("NHWC -> NCHW" in n for n in res.info["notes"])


def test_numpy_config_values_and_normalisation(vendor_target, tmp_path):
    # mean/std as numpy arrays (JSON across the boundary), applied by the vendor.
    model = conv_relu(tmp_path / "m.onnx")
    x = image_input() * 255
    spec = BuildSpec(config={"mean_values": np.array([[100.0, 120.0, 140.0]]),
                             "std_values": np.array([[255.0, 255.0, 255.0]])})
    res = vendor_target.run(str(model), spec, [x])
    mean = np.array([100.0, 120.0, 140.0], np.float32).reshape(1, 3, 1, 1)
    (ref,) = onnxruntime_outputs(model, {"x": ((x - mean) / 255).astype(np.float32)})
    assert cosine(res.outputs[0], ref) >= 0.999
    # ignoring mean or std would miss by far more than float16 rounding
    assert np.abs(res.outputs[0] - ref).max() <= 0.01 * np.abs(ref).max()


def test_nhwc_inputs_are_told_to_the_vendor(vendor_target, tmp_path):
    model = conv_relu(tmp_path / "m.onnx")
    x = image_input()
    res = vendor_target.run(str(model), BuildSpec(data_format="nhwc"), [x.transpose(0, 2, 3, 1).copy()])
    (ref,) = onnxruntime_outputs(model, {"x": x})
    assert res.outputs[0].shape == ref.shape and cosine(res.outputs[0], ref) >= 0.999


def test_opset_21_is_down_converted_and_runs(vendor_target, tmp_path):
    model = conv_relu(tmp_path / "m21.onnx", opset=21)
    x = image_input()
    res = vendor_target.run(str(model), BuildSpec(), [x])
    (ref,) = onnxruntime_outputs(model, {"x": x})
    assert cosine(res.outputs[0], ref) >= 0.999
    assert "opset 21 down-converted to 19 with onnx.version_converter" in res.info["notes"]


def test_v1_dtype_is_unsupported_on_the_vendor(vendor_target, tmp_path):
    model = conv_relu(tmp_path / "m.onnx")
    spec = BuildSpec(config={"quantized_dtype": "asymmetric_quantized-u8"}, do_quantization=True,
                     dataset=str(nhwc_dataset(tmp_path)))
    with pytest.raises(VendorUnsupported, match="asymmetric_quantized-u8"):
        vendor_target.run(str(model), spec, [image_input()])


def test_vendor_refusal_keeps_the_vendor_log(vendor_target, tmp_path):
    # A toolkit 1.x setting that toolkit2's config() raises on.
    model = conv_relu(tmp_path / "m.onnx")
    with pytest.raises(VendorUnsupported) as e:
        vendor_target.run(str(model), BuildSpec(config={"reorder_channel": "2 1 0"}), [image_input()])
    assert e.value.stage == "config" and outcome.of_exception(e.value) == "unsupported"
    assert "'reorder_channel' is not support" in str(e.value)          # the vendor's own words
    assert "E config:" in e.value.log and "\x1b[" not in e.value.log    # its log, ANSI stripped


def test_vendor_failure_after_build_is_a_vendor_error(vendor_target, tmp_path):
    # Wrong input shape: the vendor fails at inference (a vendor error, not a refusal).
    model = conv_relu(tmp_path / "m.onnx")
    with pytest.raises(VendorError) as e:
        vendor_target.run(str(model), BuildSpec(), [image_input()[:, :, :8, :]])
    assert type(e.value) is VendorError and e.value.stage == "inference"
    assert outcome.of_exception(e.value) == "vendor"


def test_segfault_ends_one_case_and_the_next_runs(vendor_target, tmp_path, monkeypatch):
    model = conv_relu(tmp_path / "m.onnx")
    monkeypatch.setenv(TEST_HOOK_ENV, "segv")
    with pytest.raises(VendorCrash, match="SIGSEGV") as e:
        vendor_target.run(str(model), BuildSpec(), [image_input()])
    assert isinstance(e.value, TargetError) and outcome.of_exception(e.value) == "vendor"
    assert e.value.returncode == -11
    monkeypatch.delenv(TEST_HOOK_ENV)
    assert _ok(vendor_target, tmp_path) >= 0.999

    # The crashed case's folder is kept as a self-contained repro; without the
    # hook it runs to a result.
    kept = Path(e.value.repro.split("cd ", 1)[1].split(" && ")[0])
    try:
        assert {"job.json", "model.onnx", "in_0.npy"} <= {p.name for p in kept.iterdir()}
        assert json.loads((kept / "job.json").read_text())["source_model"] == str(model.resolve())
        assert str(kept) in str(e.value)
        subprocess.run([*vendor_target.python, str(toolkit2.WORKER), "."], cwd=kept, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        assert json.loads((kept / "result.json").read_text())["status"] == "ok"
    finally:
        shutil.rmtree(kept)


def test_hang_is_killed_from_outside_and_the_next_runs(vendor_target, tmp_path, monkeypatch):
    model = conv_relu(tmp_path / "m.onnx")
    monkeypatch.setenv(TEST_HOOK_ENV, "hang")   # the worker also ignores SIGTERM
    with Toolkit2Target(timeout=3, preload=vendor_target.preload) as target:
        with pytest.raises(VendorTimeout) as e:
            target.run(str(model), BuildSpec(), [image_input()])
    assert isinstance(e.value, TargetTimeout) and outcome.of_exception(e.value) == "vendor"
    assert e.value.returncode == -9            # SIGKILL to the process group
    shutil.rmtree(e.value.repro.split("cd ", 1)[1].split(" && ")[0])
    monkeypatch.delenv(TEST_HOOK_ENV)
    assert _ok(vendor_target, tmp_path) >= 0.999


def test_worker_exit_without_result_is_a_crash(vendor_target, tmp_path, monkeypatch):
    monkeypatch.setenv(TEST_HOOK_ENV, "exit")
    with pytest.raises(VendorCrash, match="exit code 3") as e:
        vendor_target.run(str(conv_relu(tmp_path / "m.onnx")), BuildSpec(), [image_input()])
    shutil.rmtree(e.value.repro.split("cd ", 1)[1].split(" && ")[0])


def test_no_pickle_across_the_process_boundary():
    """Neither side imports pickle/multiprocessing, and every np.load/np.save says
    allow_pickle=False."""
    for module in (toolkit2, toolkit2.WORKER):
        path = Path(module if isinstance(module, Path) else module.__file__)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("pickle", "multiprocessing", "dill", "cloudpickle")
                               for n in names), f"{path}:{node.lineno}"
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("load", "save") \
                    and getattr(node.func.value, "id", None) == "np":
                kw = {k.arg: k.value for k in node.keywords}
                assert isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False, \
                    f"{path}:{node.lineno}: np.{node.func.attr} without allow_pickle=False"


def test_both_process_modes_give_identical_outputs(vendor_installed, tmp_path):
    """Forking from the preload server changes nothing: same bits as a fresh
    interpreter, also when a quantized case ran before in the same server."""
    model = str(conv_relu(tmp_path / "m.onnx"))
    w8a8 = BuildSpec(do_quantization=True, dataset=str(nhwc_dataset(tmp_path)))
    x = image_input()
    with Toolkit2Target(preload=False) as spawn, Toolkit2Target(preload=True) as preload:
        for spec in (w8a8, BuildSpec(), w8a8):
            a = spawn.run(model, spec, [x]).outputs[0]
            b = preload.run(model, spec, [x]).outputs[0]
            assert a.tobytes() == b.tobytes(), spec.mode


def test_preload_server_refuses_to_fork_with_threads(vendor_installed, tmp_path, monkeypatch):
    # Several OpenBLAS threads in the server: forking could copy a held lock.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    with Toolkit2Target(preload=True) as target:
        with pytest.raises(PreloadServerError, match="refusing to fork"):
            target.run(str(conv_relu(tmp_path / "m.onnx")), BuildSpec(), [image_input()])


def test_preload_server_goes_with_its_target(vendor_installed, tmp_path):
    target = Toolkit2Target(preload=True)
    target.run(str(conv_relu(tmp_path / "m.onnx")), BuildSpec(), [image_input()])
    server = target._server.proc
    assert server.poll() is None
    del target
    gc.collect()
    assert server.poll() is not None   # stopped and reaped, though close() was never called
