"""`rknn-diag model` end to end on a small model through the CLI, the verified hybrid proposal
(and a planted fault that proves the verification can fail), the card in Chromium, the steps
one by one (checks, split, speed advice), `convert` and `compare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rknn_diag import cli
from rknn_diag.api import RKNN

from .nets import image_dataset, outlier_net

ARGS = ["--platform", "rk3588", "--mean", "127.5,127.5,127.5", "--std", "64,64,64", "--modes", "float16,w8a8",
        "--budget", "0.5"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("advisor")
    return {"dir": d, "model": outlier_net(d / "outlier.onnx", factor=100.0),
            "dataset": image_dataset(d / "images", count=10)}


@pytest.fixture(scope="module")
def card(small):
    out = small["dir"] / "card"
    code = cli.main(["model", str(small["model"]), "--dataset", str(small["dataset"]), *ARGS, "-o", str(out)])
    return {"code": code, "out": out, "data": json.loads((out / "model.json").read_text())}


def held_back_cosine(small, rknn: RKNN) -> float:
    """The test's own measurement: the held-back images through inference(), against onnxruntime."""
    import onnxruntime as ort
    from PIL import Image

    lines = (small["dataset"].parent / "dataset.txt").read_text().split()[-2:]
    sess = ort.InferenceSession(str(small["model"]), providers=["CPUExecutionProvider"])
    cos = []
    for name in lines:
        img = np.asarray(Image.open(small["dataset"].parent / name).convert("RGB"))
        x = ((img.astype(np.float32) - 127.5) / 64).transpose(2, 0, 1)[None]
        ref = sess.run(None, {"x": x})[0].reshape(-1)
        got = np.asarray(rknn.inference(inputs=[img], data_format="nhwc")[0], np.float64).reshape(-1)
        cos.append(float(got @ ref / np.linalg.norm(got) / np.linalg.norm(ref)))
    return float(np.mean(cos))


def test_cli_end_to_end_writes_the_documented_card(card):
    import jsonschema

    assert card["code"] == 0
    d = card["data"]
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "model-card.schema.json").read_text())
    jsonschema.validate(d, schema)
    assert set(d["timings"]) == {"checks_and_split_s", "builds_s", "hybrid_s", "speed_s"}
    assert sum(d["timings"].values()) <= d["elapsed_s"] + 0.5
    assert d["schema"] == "rknn_diag.model_card/1"
    assert {(r["mode"], r["target"]) for r in d["results"]} == {("float16", "simulator"), ("w8a8", "simulator")}
    for r in d["results"]:
        assert {"mode", "target", "cosine", "sqnr_db", "latency_ms", "max_abs"} <= set(r)
        assert r["latency_ms"] > 0
    f16 = next(r for r in d["results"] if r["mode"] == "float16")
    w8 = next(r for r in d["results"] if r["mode"] == "w8a8")
    assert f16["cosine"] > 0.9999 and w8["cosine"] < 0.99      # the planted outlier hurts 8-bit only
    h = d["hybrid"]
    assert {"mode", "cosine_before", "cosine_after", "layers_kept", "layers_total", "cfg"} <= set(h)
    assert h["mode"] == "w8a8" and h["reached"] and h["cosine_after"] >= 0.99 > h["cosine_before"]
    assert 1 <= len(h["layers_kept"]) <= h["budget"]
    # the layers named by their source layers; conv1 (the outlier) among them
    assert any(k["source"].startswith("conv1") for k in h["layers_kept"])
    assert d["verdict"]["ok"] and d["verdict"]["ship"] == "w8a8" and d["verdict"]["hybrid_cfg"] == h["cfg"]
    assert (card["out"] / "index.html").is_file() and "Hybrid proposal" in (card["out"] / "summary.md").read_text()


def test_the_written_cfg_lifts_the_cosine_when_the_user_feeds_it_to_step2(small, card):
    """The user's path, measured by the test itself: step 2 with the written cfg."""
    h = card["data"]["hybrid"]
    step1 = card["out"] / "hybrid" / "w8a8"
    r = RKNN()
    assert r.hybrid_quantization_step2(model_input=str(step1 / "outlier.model"), data_input=str(step1 / "outlier.data"),
                                       model_quantization_cfg=h["cfg"]) == 0
    assert r.init_runtime() == 0
    cos = held_back_cosine(small, r)
    assert cos >= 0.99 and cos == pytest.approx(h["cosine_after"], abs=1e-6)
    text = Path(h["cfg"]).read_text()
    assert "custom_quantize_layers:" in text and ": int16" in text
    r.release()


def test_a_proposal_that_is_not_rebuilt_is_not_reported_as_lifting(small, tmp_path, monkeypatch):
    """Planted fault: the search's trial rebuilds work, but hybrid step 2 ignores the layer
    table of the cfg file finally written (the proposal never reaches the rebuild). The card
    must then report the cosine of what was really rebuilt, below the floor, and not ship it."""
    from rknn_diag.quant import hybrid as qhybrid

    real = qhybrid.read_cfg

    def ignores_the_written_proposal(path, model):
        layers, edits = real(path, model)
        return ({} if str(path).endswith(".hybrid.quantization.cfg") else layers), edits

    monkeypatch.setattr(qhybrid, "read_cfg", ignores_the_written_proposal)
    code = cli.main(["model", str(small["model"]), "--dataset", str(small["dataset"]), *ARGS, "-o", str(tmp_path)])
    d = json.loads((tmp_path / "model.json").read_text())
    h = d["hybrid"]
    assert max(s["cosine"] for s in h["steps"] if s["pass"] == "add") >= 0.99   # the search believed it had it
    assert not h["reached"] and h["cosine_after"] == pytest.approx(h["cosine_before"], abs=1e-9)
    assert d["hybrid"] == d["hybrids"][0]
    assert "below the floor" in h["note"]
    assert code == 0 and d["verdict"]["ship"] == "float16" and d["verdict"]["hybrid_cfg"] is None


def test_card_opens_in_chromium_without_console_errors(card):
    from tests.report.test_browser import console_lines, run_chromium

    proc = run_chromium(card["out"] / "index.html", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == []
    assert 'id="verdict" class="verdict pass">ship w8a8 with the hybrid cfg' in proc.stdout
    assert '<table id="results">' in proc.stdout and '<table id="kept">' in proc.stdout


def test_doctor_error_stops_before_any_build(small, tmp_path, capsys):
    bad = tmp_path / "dataset.txt"
    bad.write_text("missing.png\n" + "\n".join(str(p) for p in sorted(small["dataset"].parent.glob("*.png"))) + "\n")
    code = cli.main(["model", str(small["model"]), "--dataset", str(bad), *ARGS, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "dataset.entries" in err and "missing.png" in err
    assert not (tmp_path / "o" / "builds").exists()


def test_split_holds_back_a_fifth_and_writes_absolute_paths(small, tmp_path):
    from rknn_diag.advisor.samples import split

    s = split(small["dataset"], 1, tmp_path)
    assert len(s.held) == 2 and s.n_calib == 8
    calib = s.calib.read_text().split()
    assert len(calib) == 8 and all(Path(p).is_absolute() and Path(p).is_file() for p in calib)
    assert not set(calib) & {str(p.resolve()) for ln in s.held for p in ln.paths}


def test_speed_advice_names_the_5x5_conv_with_its_cost(card):
    sp = card["data"]["speed"]
    k = next(f for f in sp["findings"] if f["id"] == "perf.kernel_size")
    assert "conv5x5" in k["message"] and k["layers"] == ["conv2", "conv5x5"]     # 1x1 and 5x5
    # MACs per pixel: conv1 3*8*9, conv2 8*8, conv3 8*8*9, conv5x5 8*4*25
    assert k["macs_share"] == pytest.approx((64 + 800) / (216 + 64 + 576 + 800), rel=1e-6)
    assert sp["slowest"] and all(s["ms"] >= 0 for s in sp["slowest"])


def test_convert_builds_from_yaml_and_names_a_bad_line(small, tmp_path, capsys):
    cfg = tmp_path / "model.yml"
    cfg.write_text(f"""models:
  name: small
  platform: onnx
  model_file_path: {small['model']}
  quantize: true
  dataset: {small['dataset']}
  configs:
    quantized_dtype: w8a8
    mean_values: [127.5, 127.5, 127.5]
    std_values: [64, 64, 64]
""")
    assert cli.main(["convert", str(cfg), "-t", "rk3588", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "out" / "small.rknn").is_file() and "w8a8 for rk3588" in out and "cosine" in out
    r = RKNN()
    assert r.load_rknn(str(tmp_path / "out" / "small.rknn")) == 0 and r.model.mode == "w8a8"
    bad = tmp_path / "bad.yml"
    bad.write_text("models:\n  name: x\n   platform: onnx\n")
    assert cli.main(["convert", str(bad)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_compare_two_builds_layer_by_layer(card, small, tmp_path, capsys):
    builds = card["out"] / "builds"
    a, b = builds / "outlier.float16.rknn", builds / "outlier.w8a8.rknn"
    assert cli.main(["compare", str(a), str(b), "--dataset", str(small["dataset"]), "-n", "2", "-o", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "compare.json").read_text())
    rows = {r["tensor"]: r for r in res["layers"]}
    assert res["a"]["mode"] == "float16" and res["b"]["mode"] == "w8a8" and res["samples"] == 2
    assert rows["y"]["cosine_a"] > 0.9999 > 0.99 > rows["y"]["cosine_b"]
    assert "| conv5x5 |" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    (["--modes", "float16,w16a16i_dfp"], "mode 'w16a16i_dfp' is not one rk3588 has"),
    (["--modes", "float16,w8a8", "--platform", "rk9999"], "unknown platform 'rk9999'"),
])
def test_a_mode_or_chip_that_does_not_exist_is_refused_before_any_work(small, tmp_path, capsys, extra, message):
    args = ["--platform", "rk3588", *extra]
    code = cli.main(["model", str(small["model"]), "--dataset", str(small["dataset"]), *args, "-o", str(tmp_path)])
    assert code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_without_a_dataset_it_says_why_it_needs_one(small, tmp_path, capsys):
    assert cli.main(["model", str(small["model"]), "--platform", "rk3588", "-o", str(tmp_path)]) == 2
    assert "needs --dataset" in capsys.readouterr().err
