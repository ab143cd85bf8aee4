"""hybrid_quantization_step1/2 in the shape of both generations' examples: toolkit2's
functions/hybrid_quant (step1.py, then step2.py reading <name>.model/.data/.quantization.cfg)
and 1.x's accuracy_analysis/hybrid_quantization_step1/2 (torchjitexport.*, step 2 with dataset=)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fixtures.dropin import classifier
from rknn_diag.api import RKNN

MEAN, STD = [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]


def test_toolkit2_step1_then_step2_scripts(example):
    example(onnx_name="ssd_mobilenet_v2.onnx")
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, target_platform="rk3566")
    assert rknn.load_onnx(model="./ssd_mobilenet_v2.onnx") == 0
    assert rknn.hybrid_quantization_step1(dataset="./dataset.txt", proposal=False) == 0
    rknn.release()
    for f in ("ssd_mobilenet_v2.model", "ssd_mobilenet_v2.data", "ssd_mobilenet_v2.quantization.cfg"):
        assert Path(f).is_file(), f
    cfg = Path("ssd_mobilenet_v2.quantization.cfg")
    text = cfg.read_text()
    assert "custom_quantize_layers: {}" in text
    # toolkit2's step1 tips: the user lists layers by their *output* name with a dtype
    cfg.write_text(text.replace("custom_quantize_layers: {}", "custom_quantize_layers:\n  r2: float16"))

    rknn = RKNN(verbose=True)    # step2.py: a new process, no config()
    assert rknn.hybrid_quantization_step2(model_input="./ssd_mobilenet_v2.model",
                                          data_input="./ssd_mobilenet_v2.data",
                                          model_quantization_cfg="./ssd_mobilenet_v2.quantization.cfg") == 0
    assert rknn.model.quant["layers"] == {"conv2": "float16"}
    assert rknn.export_rknn("./ssd_mobilenet_v2.rknn") == 0
    assert rknn.accuracy_analysis(inputs=["./dog_16x16.jpg"], output_dir=None) == 0
    assert Path("snapshot/golden/resnetv24_dense0_fwd.txt").is_file()
    img = np.expand_dims(np.asarray(Image.open("./dog_16x16.jpg").convert("RGB")), 0)
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[img], data_format=["nhwc"])
    assert outputs is not None and outputs[0].shape == (1, 10)
    rknn.release()


def test_1x_step1_names_files_after_the_onnx_graph_and_step2_takes_a_dataset(example, capsys):
    example(model=classifier(16, name="torch-jit-export"), onnx_name="shufflenetv2_x1.onnx")
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.load_onnx(model="shufflenetv2_x1.onnx") == 0
    assert rknn.hybrid_quantization_step1(dataset="./dataset.txt") == 0
    rknn.release()
    for f in ("torchjitexport.json", "torchjitexport.data", "torchjitexport.quantization.cfg"):
        assert Path(f).is_file(), f
    cfg = Path("torchjitexport.quantization.cfg")
    cfg.write_text(cfg.read_text().replace("customized_quantize_layers: {}",
                                           "customized_quantize_layers:\n    conv2: dynamic_fixed_point-i16"))

    def step2(dataset):
        r = RKNN()
        r.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
        ret = r.hybrid_quantization_step2(model_input="./torchjitexport.json", data_input="./torchjitexport.data",
                                          model_quantization_cfg="./torchjitexport.quantization.cfg",
                                          dataset=dataset)
        return r, ret

    plain, ret = step2(None)
    assert ret == 0 and plain.model.quant["layers"] == {"conv2": "int16"}
    again, ret = step2("./dataset.txt")
    assert ret == 0 and again.export_rknn("./shufflenet_hybrid_quant.rknn") == 0
    assert again.model.quant["ranges"] == plain.model.quant["ranges"]     # same data: same calibration
    # a different dataset really recalibrates: darker images, other activation ranges
    Path("dark").mkdir()
    for i, line in enumerate(Path("dataset.txt").read_text().split()):
        Image.fromarray((np.asarray(Image.open(line)) // 4).astype(np.uint8)).save(f"dark/d{i}.jpg")
    Path("dark.txt").write_text("\n".join(f"dark/d{i}.jpg" for i in range(6)) + "\n")
    dark, ret = step2("./dark.txt")
    assert ret == 0 and dark.model.quant["ranges"]["r1"] != plain.model.quant["ranges"]["r1"]
    _, ret = step2("./missing.txt")
    assert ret != 0 and "dataset file not found" in capsys.readouterr().out


def test_toolkit2_step1_proposal_lists_the_bad_layer(tmp_path, monkeypatch):
    import onnx
    import yaml

    from fixtures.datasets import npy_dataset
    from tests.quant._models import outlier_cnn     # conv_b: one weight channel 60x the others

    monkeypatch.chdir(tmp_path)
    onnx.save(outlier_cnn(bad="conv_b"), "outlier.onnx")
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 12, 12]], count=4)

    def step1(proposal):
        r = RKNN()
        r.config(target_platform="rk3566", quantized_method="layer")
        assert r.load_onnx("outlier.onnx") == 0
        assert r.hybrid_quantization_step1(dataset=str(ds), proposal=proposal, proposal_dataset_size=2) == 0
        return yaml.safe_load(Path("outlier.quantization.cfg").read_text())["custom_quantize_layers"]

    assert step1(False) == {}
    proposed = step1(True)
    assert "conv_b" in proposed and proposed["conv_b"] == "float16" and "conv_a" not in proposed
    r = RKNN()      # step 2 takes the proposal as written
    assert r.hybrid_quantization_step2("outlier.model", "outlier.data", "outlier.quantization.cfg") == 0
    assert r.model.quant["layers"]["conv_b"] == "float16"
