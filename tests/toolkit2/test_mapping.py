"""The one mapping from the project's terms to the vendor's (no vendor needed)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from rknn_diag import outcome
from rknn_diag.errors import DatasetError, ModelLoadError
from rknn_diag.targets.base import BuildSpec
from rknn_diag.targets.toolkit2 import (
    VendorError,
    VendorPlan,
    VendorUnsupported,
    classify,
    from_vendor_outputs,
    to_vendor,
    vendor_reason,
)

from .models import conv_relu, image_input, nhwc_dataset


@pytest.fixture
def model(tmp_path):
    return conv_relu(tmp_path / "m.onnx")


@pytest.mark.parametrize("qdtype", ["asymmetric_quantized-u8", "dynamic_fixed_point-i8",
                                    "dynamic_fixed_point-i16", "int8"])
def test_dtypes_unknown_to_toolkit2_are_unsupported(model, tmp_path, qdtype):
    spec = BuildSpec(config={"quantized_dtype": qdtype}, do_quantization=True, dataset="unused.txt")
    with pytest.raises(VendorUnsupported) as e:
        to_vendor(str(model), spec, [image_input()], str(tmp_path))
    assert qdtype in str(e.value) and "w8a8" in str(e.value)
    assert outcome.of_exception(e.value) == "unsupported" and e.value.stage == "config"


def test_quantized_defaults_to_w8a8_on_rk3588(model, tmp_path):
    ds = nhwc_dataset(tmp_path)
    plan = to_vendor(str(model), BuildSpec(do_quantization=True, dataset=str(ds)), [image_input()],
                     str(tmp_path))
    assert plan.job["config"] == {"target_platform": "rk3588", "quantized_dtype": "w8a8"}
    assert plan.job["build"]["do_quantization"] is True


def test_float16_drops_a_quantized_dtype_the_vendor_would_refuse(model, tmp_path):
    spec = BuildSpec(config={"quantized_dtype": "asymmetric_quantized-u8"})
    plan = to_vendor(str(model), spec, [image_input()], str(tmp_path))
    assert "quantized_dtype" not in plan.job["config"]
    assert plan.job["build"] == {"do_quantization": False, "dataset": None, "rknn_batch_size": None}
    assert any("dropped" in n for n in plan.notes)


def test_v1_platform_list_and_flat_mean_std(model, tmp_path):
    spec = BuildSpec(config={"target_platform": ["RK3566"], "mean_values": [0, 0, 0],
                             "std_values": [255, 255, 255]})
    cfg = to_vendor(str(model), spec, [image_input()], str(tmp_path)).job["config"]
    assert cfg == {"target_platform": "rk3566", "mean_values": [[0, 0, 0]], "std_values": [[255, 255, 255]]}


def test_channel_mean_value_of_toolkit_1(model, tmp_path):
    spec = BuildSpec(config={"channel_mean_value": "103.9 116.8 123.7 58.8"})
    cfg = to_vendor(str(model), spec, [image_input()], str(tmp_path)).job["config"]
    assert cfg["mean_values"] == [[103.9, 116.8, 123.7]] and cfg["std_values"] == [[58.8] * 3]


def test_data_format_is_always_passed_explicitly(model, tmp_path):
    plan = to_vendor(str(model), BuildSpec(), [image_input()], str(tmp_path))
    assert plan.job["inference"] == {"data_format": ["nchw"]}
    plan = to_vendor(str(model), BuildSpec(data_format="NHWC"), [image_input()], str(tmp_path))
    assert plan.job["inference"] == {"data_format": ["nhwc"]}
    with pytest.raises(VendorUnsupported, match="data_format"):
        to_vendor(str(model), BuildSpec(data_format="nc1hwc2"), [image_input()], str(tmp_path))


def test_opset_above_19_is_down_converted_and_noted(tmp_path):
    model = conv_relu(tmp_path / "m21.onnx", opset=21)
    plan = to_vendor(str(model), BuildSpec(), [image_input()], str(tmp_path))
    converted = plan.job["load_onnx"]["model"]
    assert converted != str(model)
    loaded = onnx.load(converted)
    assert [o.version for o in loaded.opset_import if o.domain in ("", "ai.onnx")] == [19]
    onnx.checker.check_model(loaded)
    assert any("opset 21 down-converted to 19" in n for n in plan.notes)


def test_opset_19_model_is_passed_as_is(tmp_path):
    model = conv_relu(tmp_path / "m19.onnx", opset=19)
    plan = to_vendor(str(model), BuildSpec(), [image_input()], str(tmp_path))
    assert plan.job["load_onnx"]["model"] == str(model.resolve())
    assert plan.notes == []


def test_nhwc_calibration_files_are_rewritten_nchw(model, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    ds = nhwc_dataset(src)
    work = tmp_path / "work"
    work.mkdir()
    plan = to_vendor(str(model), BuildSpec(do_quantization=True, dataset=str(ds)), [image_input()], str(work))
    new_ds = plan.job["build"]["dataset"]
    lines = open(new_ds, encoding="utf-8").read().split()
    assert len(lines) == 4
    for i, path in enumerate(lines):
        original = np.load(src / f"sample_{i}.npy", allow_pickle=False)
        converted = np.load(path, allow_pickle=False)
        assert converted.shape == (1, 3, 16, 16)
        np.testing.assert_array_equal(converted, original.transpose(0, 3, 1, 2))
    assert any("NHWC -> NCHW" in n for n in plan.notes)


def test_nchw_calibration_files_are_kept_nchw(model, tmp_path):
    x = image_input(5)
    np.save(tmp_path / "a.npy", x, allow_pickle=False)
    (tmp_path / "ds.txt").write_text("a.npy\n", encoding="utf-8")
    plan = to_vendor(str(model), BuildSpec(do_quantization=True, dataset=str(tmp_path / "ds.txt")),
                     [x], str(tmp_path))
    (path,) = open(plan.job["build"]["dataset"], encoding="utf-8").read().split()
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), x)
    assert plan.notes == []


def test_outputs_come_back_in_onnx_layout():
    plan = VendorPlan(job={}, output_shapes=[(1, 4, 16, 8), (2, 5)])
    nchw = np.arange(4 * 16 * 8, dtype=np.float32).reshape(1, 4, 16, 8)
    other = np.ones((2, 5), np.float32)
    out = from_vendor_outputs([nchw.transpose(0, 2, 3, 1), other], plan)
    np.testing.assert_array_equal(out[0], nchw)
    assert out[1] is other
    assert plan.notes == ["output 0 came back NHWC; transposed to NCHW"]
    # Already NCHW: untouched.
    assert from_vendor_outputs([nchw], VendorPlan(job={}, output_shapes=[(1, 4, 16, 8)]))[0] is nchw


def test_opset_above_19_without_a_previous_version_is_unsupported(tmp_path):
    # Gelu exists from opset 20 only: nothing to down-convert to.
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Gelu", ["x"], ["y"])], "gelu",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 3])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, tmp_path / "gelu.onnx")
    with pytest.raises(VendorUnsupported, match="opset 21 > 19.*Gelu") as e:
        to_vendor(str(tmp_path / "gelu.onnx"), BuildSpec(), [np.ones((1, 2, 3), np.float32)], str(tmp_path))
    assert e.value.stage == "load_onnx"


def test_unreadable_model_is_a_model_load_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelLoadError, match="cannot read the ONNX model") as e:
        to_vendor(str(bad), BuildSpec(), [image_input()], str(tmp_path))
    assert str(bad) in str(e.value)


def test_bad_calibration_sample_names_file_line_and_input(model, tmp_path):
    (tmp_path / "ds.txt").write_text("missing.npy\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="missing.npy") as e:
        to_vendor(str(model), BuildSpec(do_quantization=True, dataset=str(tmp_path / "ds.txt")),
                  [image_input()], str(tmp_path))
    assert e.value.where == f"{tmp_path / 'ds.txt'}:1, input 0"
    with pytest.raises(DatasetError, match="cannot read the dataset file"):
        to_vendor(str(model), BuildSpec(do_quantization=True, dataset=str(tmp_path / "nope.txt")),
                  [image_input()], str(tmp_path))


# The shapes of text rknn-toolkit2 2.5.0 raises (a ValueError wrapping a traceback).
_DELIBERATE = '''ValueError: Traceback (most recent call last):
  File "rknn/api/rknn_log.py", line 344, in rknn.api.rknn_log.error_catch_decorator.error_catch_wrapper
  File "rknn/api/rknn_base.py", line 1207, in rknn.api.rknn_base.RKNNBase.load_onnx
  File "rknn/api/rknn_log.py", line 95, in rknn.api.rknn_log.RKNNLog.e
ValueError: The input shape [0] of 'axes' is not support!
'''
_UNEXPECTED = '''ValueError: Traceback (most recent call last):
  File "rknn/api/rknn_log.py", line 344, in rknn.api.rknn_log.error_catch_decorator.error_catch_wrapper
  File "rknn/api/graph_optimizer.py", line 970, in rknn.api.graph_optimizer.GraphOptimizer.fold_constant
  File "/venv/site-packages/onnxruntime/capi/onnxruntime_inference_collection.py", line 273, in run
    return self._sess.run(output_names, input_feed, run_options)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument: [ONNXRuntimeError] : 2 : Invalid rank
'''


def test_vendor_reason_is_what_follows_the_last_frame():
    assert vendor_reason(_DELIBERATE) == ("ValueError: The input shape [0] of 'axes' is not support!", True)
    reason, deliberate = vendor_reason(_UNEXPECTED)
    assert reason.startswith("onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument: [ONNXRuntimeError]")
    assert deliberate is False
    assert vendor_reason("load_onnx returned -1") == ("load_onnx returned -1", True)


@pytest.mark.parametrize("stage,message,expected", [
    ("config", _DELIBERATE, VendorUnsupported),
    ("load_onnx", _DELIBERATE, VendorUnsupported),
    ("load_onnx", "load_onnx returned -1", VendorUnsupported),
    ("load_onnx", _UNEXPECTED, VendorError),          # a vendor bug, not a refusal
    ("build", _DELIBERATE, VendorUnsupported),        # says "not support"
    ("build", _DELIBERATE.replace("is not support", "failed"), VendorError),
    ("build", _UNEXPECTED, VendorError),
    ("inference", _DELIBERATE, VendorError),          # after building, nothing is a refusal
])
def test_classify_refusals_and_vendor_failures(stage, message, expected):
    assert classify(stage, message) is expected


def test_framework_loader_replaces_load_onnx(tmp_path):
    """A framework case (BuildSpec.load): the vendor gets that loader with its own signature —
    absolute paths, our toolkit-1 extras (load_caffe's proto=) dropped with a note."""
    spec = BuildSpec(config={"target_platform": "rk3588"}, data_format="nhwc",
                     load=("load_caffe", {"model": "net.prototxt", "blobs": "net.caffemodel", "proto": "caffe"}))
    x = np.zeros((1, 16, 16, 3), np.float32)
    plan = to_vendor("net.prototxt", spec, [x], str(tmp_path))
    assert "load_onnx" not in plan.job
    assert plan.job["load"]["method"] == "load_caffe"
    kwargs = plan.job["load"]["kwargs"]
    assert set(kwargs) == {"model", "blobs"} and all(v.startswith("/") for v in kwargs.values())
    assert any("proto" in n for n in plan.notes)
    assert plan.job["inference"] == {"data_format": ["nhwc"]}


@pytest.mark.parametrize("sizes,expected", [([[16, 16, 3]], [[1, 16, 16, 3]]),
                                            ([[1, 16, 16, 3]], [[1, 16, 16, 3]]),
                                            ([[16, 16, 3], [1, 8]], [[1, 16, 16, 3], [1, 8]])])
def test_tensorflow_sizes_get_the_batch_dimension_toolkit2_wants(tmp_path, sizes, expected):
    """load_tensorflow's toolkit-1 [H, W, C] (the guide's form, which ours takes) is rank 3; toolkit2 sets it on
    the rank-4 placeholder and fails ("Shapes must be equal rank"): it gets [1, H, W, C], with a note."""
    spec = BuildSpec(config={"target_platform": "rk3588"}, data_format="nhwc",
                     load=("load_tensorflow", {"tf_pb": "m.pb", "inputs": ["input"], "outputs": ["out"],
                                               "input_size_list": sizes}))
    plan = to_vendor("m.pb", spec, [np.zeros((1, 16, 16, 3), np.float32)], str(tmp_path))
    assert plan.job["load"]["kwargs"]["input_size_list"] == expected
    assert any("input_size_list" in n for n in plan.notes) == (sizes != expected)


def test_unknown_framework_loader_is_refused(tmp_path):
    spec = BuildSpec(load=("load_mxnet", {"model": "m.json"}))
    with pytest.raises(VendorUnsupported, match="load_mxnet"):
        to_vendor("m.json", spec, [np.zeros((1, 3, 8, 8), np.float32)], str(tmp_path))
