"""config() settings with an effect on the build: dynamic_input (toolkit2's dynamic_shape
example), model_pruning (its model_pruning example), quantize_input_node and
merge_dequant_layer_and_output_node (1.x's load_quantized_model example)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from fixtures.dropin import classifier, prunable
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]
SETS = [[[1, 3, 20, 20]], [[1, 3, 12, 12]], [[1, 3, 16, 16]]]


def _ort_reference(img_nchw: np.ndarray) -> np.ndarray:
    """The float classifier at any size (symbolic H, W), on the normalised pixels as given: the
    user passes BGR at inference; quant_img_RGB2BGR reorders only the calibration images."""
    sess = ort.InferenceSession(classifier(16, spatial="S").SerializeToString(), providers=["CPUExecutionProvider"])
    x = img_nchw.astype(np.float32)
    x = (x - np.asarray(MEAN, np.float32).reshape(1, 3, 1, 1)) / np.asarray(STD, np.float32).reshape(1, 3, 1, 1)
    return sess.run(None, {"data": np.ascontiguousarray(x)})[0]


def test_dynamic_input_builds_every_shape_set_and_infers_at_each(example, capsys):
    example()
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform="rk3566",
                dynamic_input=SETS)
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./mobilenet_v2.rknn") == 0
    rknn.release()
    rknn = RKNN()
    assert rknn.load_rknn("./mobilenet_v2.rknn") == 0          # the file holds every set
    assert rknn.init_runtime() == 0
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (1, 3, 20, 20)).astype(np.uint8)
    for size in (16, 12, 20):
        img = np.ascontiguousarray(base[:, :, :size, :size])
        outputs = rknn.inference(inputs=[img], data_format=["nchw"])
        assert outputs is not None and outputs[0].shape == (1, 10), size
        ref = _ort_reference(img)
        assert metrics(outputs[0], ref)["cosine"] > 0.98, size
    capsys.readouterr()
    assert rknn.inference(inputs=[base[:, :, :14, :14]], data_format=["nchw"]) is None
    assert "in no dynamic_input set" in capsys.readouterr().out


def test_dynamic_input_with_a_wrong_set_is_refused(example, capsys):
    example()
    rknn = RKNN()
    assert rknn.config(target_platform="rk3588", dynamic_input=[[[1, 3, 16, 16], [1, 3, 8, 8]]]) == 0
    assert rknn.load_onnx(model="resnet50v2.onnx") != 0
    assert "2 shape(s) for 1 input(s)" in capsys.readouterr().out


def _run(tmp_path, pruning: bool, capsys):
    onnx.save(prunable(), str(tmp_path / "p.onnx"))
    r = RKNN()
    r.config(target_platform="rk3566", model_pruning=pruning)
    assert r.load_onnx(str(tmp_path / "p.onnx")) == 0
    capsys.readouterr()
    assert r.build(do_quantization=False) == 0
    log = capsys.readouterr().out
    assert r.init_runtime() == 0
    x = np.random.default_rng(2).standard_normal((1, 3, 12, 12)).astype(np.float32)
    return r, r.inference(inputs=[x], data_format="nchw")[0], log


def test_model_pruning_removes_dead_constant_and_zero_channels_without_changing_outputs(tmp_path, capsys):
    plain, y0, _ = _run(tmp_path, False, capsys)
    pruned, y1, log = _run(tmp_path, True, capsys)
    np.testing.assert_allclose(y1, y0, rtol=2e-3, atol=2e-3)
    ref = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": np.random.default_rng(2).standard_normal((1, 3, 12, 12)).astype(np.float32)})[0]
    assert metrics(y1, ref)["cosine"] > 0.9999
    w = {n.name: pruned.model.graph.constants[n.inputs[1]].shape for n in pruned.model.graph.nodes if n.op_type == "Conv"}
    assert w["conv1"][0] == 5 and w["conv2"][1] == 5     # 3 all-zero channels cut (conv2 has no padding)
    assert "model_pruning results:" in log and "dead branches: 1" in log and "constant branches: 1" in log
    assert "all-zero channels cut: 3" in log and "Weight: -" in log
    assert not [n for n in plain.model.graph.nodes if n.name == "dead_branch"]   # the optimiser drops it too


def test_merge_dequant_returns_the_output_integers(example, capsys):
    def built(**flags):
        r = RKNN()
        r.config(mean_values=[[123.675, 116.28, 103.53]], std_values=[[58.82, 58.82, 58.82]],
                 reorder_channel="0 1 2", target_platform=["rv1126"], **flags)
        assert r.load_onnx(model="resnet50v2.onnx") == 0
        assert r.build(do_quantization=True, dataset="dataset.txt") == 0
        assert r.init_runtime() == 0
        return r

    example()
    img = np.random.default_rng(1).integers(0, 256, (1, 16, 16, 3)).astype(np.uint8)
    plain = built().inference(inputs=[img])[0]
    capsys.readouterr()
    merged_rknn = built(quantize_input_node=True, merge_dequant_layer_and_output_node=True)
    log = capsys.readouterr().out
    assert "input 'data' is quantized in the model: uint8" in log
    assert "output 'resnetv24_dense0_fwd' is returned as integers" in log
    q = merged_rknn.inference(inputs=[img])[0]
    assert q.dtype.kind in "iu" and plain.dtype.kind == "f"
    qp = merged_rknn.model.quant["tensors"]["resnetv24_dense0_fwd"]
    np.testing.assert_allclose(float(qp["scale"]) * (q.astype(np.float64) - int(qp["zero_point"])), plain,
                               rtol=1e-5, atol=1e-5)


def test_io_node_settings_on_a_float_model_warn(example, capsys):
    example()
    r = RKNN()
    r.config(target_platform="rk3588", merge_dequant_layer_and_output_node=True)
    r.load_onnx(model="resnet50v2.onnx")
    capsys.readouterr()
    assert r.build(do_quantization=False) == 0
    assert "W config(): 'merge_dequant_layer_and_output_node'=True has no effect" in capsys.readouterr().out


def _dynamic_outputs(sets, sizes) -> list[np.ndarray]:
    rknn = RKNN()
    rknn.config(mean_values=MEAN, std_values=STD, target_platform="rk3566", **({"dynamic_input": sets} if sets else {}))
    assert rknn.load_onnx(model="resnet50v2.onnx") == 0         # declares 1x3x16x16
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.init_runtime() == 0
    base = np.random.default_rng(7).integers(0, 256, (1, 3, 20, 20)).astype(np.uint8)
    outs = [rknn.inference(inputs=[np.ascontiguousarray(base[:, :, :s, :s])], data_format=["nchw"])[0]
            for s in sizes]
    rknn.release()
    return outs


def test_dynamic_input_calibrates_at_the_models_declared_shape_whatever_the_sets(example, monkeypatch):
    # the vendor's outputs do not change with the sets listed or their order, and at the declared
    # size equal its static build's (measured on toolkit2 2.5.0, dynamic_shape example)
    example()
    static = _dynamic_outputs(None, [16])[0]
    listed = _dynamic_outputs(SETS, [12, 16])                                    # 20 first
    reordered = _dynamic_outputs([SETS[2], SETS[0], SETS[1]], [12, 16])          # 16 first
    without = _dynamic_outputs([SETS[0], SETS[1]], [12])                         # no 16 set
    np.testing.assert_array_equal(listed[1], static)
    np.testing.assert_array_equal(listed[0], reordered[0])
    np.testing.assert_array_equal(listed[0], without[0])
    # planted: calibrating on the first set instead makes the order matter
    from rknn_diag.dropin import dynamic
    monkeypatch.setattr(dynamic, "declared", lambda load, sets: None)
    first_set = _dynamic_outputs(SETS, [12])[0]
    assert not np.array_equal(first_set, reordered[0])
