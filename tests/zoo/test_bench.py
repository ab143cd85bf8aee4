"""bench/bench_simulator.py plumbing (no timing assertions: speed is judged by running the bench)."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnxruntime as ort
import pytest

from bench import bench_simulator as bench


@pytest.fixture(autouse=True)
def _restore_thread_env(monkeypatch):
    """main() pins BLAS thread variables in os.environ; give them back after each test."""
    for var in bench._BLAS_THREAD_VARS:
        monkeypatch.setenv(var, "keep")


class OrtBackedRKNN:
    """A stand-in for rknn_diag.api.RKNN that follows its contract (0 on success, outputs
    list from inference) and computes with onnxruntime."""
    released = 0

    def config(self, **kw):
        assert kw["target_platform"] == "rk3588" and kw["mean_values"] == [[0, 0, 0]]
        return 0

    def load_onnx(self, model):
        self.sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        return 0

    def build(self, do_quantization):
        assert do_quantization is False
        return 0

    def init_runtime(self):
        return 0

    def inference(self, inputs, data_format):
        assert data_format == "nchw" and len(inputs) == 1
        return self.sess.run(None, {self.sess.get_inputs()[0].name: inputs[0]})

    def release(self):
        type(self).released += 1


class FailingRKNN(OrtBackedRKNN):
    last_error = "op 'Conv' is not supported (at m.onnx, node 'stem.conv')"

    def load_onnx(self, model):
        return -6


def test_ort_only_run_writes_a_row_per_model_and_the_environment(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = bench.main(["--ort-only", "--models", "ssd_like,resnet18_like", "--repeat", "1", "--warmup", "0",
                     "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["rows"]] == ["ssd_like", "resnet18_like"]
    for r in data["rows"]:
        assert r["status"] == "ORT-ONLY" and r["ort_1t_ms"] > 0 and r["ort_default_ms"] > 0
    assert data["environment"]["target_ratio"] == bench.TARGET_RATIO == bench.TARGETS["float16"] == 1.5
    table = capsys.readouterr().out
    assert "ssd_like" in table and "target: ratio <= the mode's target" in table


def test_missing_api_fails_clearly(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "rknn_diag.api", None)   # makes the import raise ImportError
    rc = bench.main(["--models", "ssd_like", "--repeat", "1", "--warmup", "0"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "rknn_diag.api" in err and "--ort-only" in err


def test_bad_model_name_or_size_is_rejected_before_timing(capsys):
    assert bench.main(["--ort-only", "--models", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert bench.main(["--ort-only", "--models", "ssd_like", "--size", "100"]) == 2
    assert "multiple of 16" in capsys.readouterr().err


def test_simulator_rows_carry_ratio_and_cosine(tmp_path):
    args = bench.parse_args(["--repeat", "2", "--warmup", "0", "--no-memory"])
    from fixtures import zoo
    OrtBackedRKNN.released = 0
    row = bench.bench_model("ssd_like", zoo.get("ssd_like"), args, OrtBackedRKNN, tmp_path)
    assert row["status"] in ("PASS", "MISS")
    assert row["ratio"] == pytest.approx(row["sim_cpu_ms"] / row["ort_cpu_ms"])
    assert row["wall_ratio"] == pytest.approx(row["sim_ms"] / row["ort_1t_ms"])
    assert row["status"] == ("PASS" if row["ratio"] <= bench.TARGET_RATIO else "MISS")
    assert row["cosine_min"] == pytest.approx(1.0, abs=1e-9)
    assert OrtBackedRKNN.released == 1


def test_a_failing_simulator_gives_an_error_row_not_a_crash(tmp_path):
    args = bench.parse_args(["--repeat", "1", "--warmup", "0"])
    from fixtures import zoo
    row = bench.bench_model("ssd_like", zoo.get("ssd_like"), args, FailingRKNN, tmp_path)
    assert row["status"] == "ERROR"
    assert "load_onnx() returned -6" in row["error"] and "stem.conv" in row["error"]
    assert row["ort_1t_ms"] > 0    # the onnxruntime half is still reported


def test_table_flags_wrong_outputs_and_shows_status():
    rows = [{"model": "a", "ort_1t_ms": 1.0, "ort_default_ms": 0.5, "sim_ms": 2.0, "ratio": 2.0,
             "cosine_min": 0.5, "status": "PASS"},
            {"model": "b", "ort_1t_ms": 1.0, "ort_default_ms": 0.5, "status": "ERROR", "error": "boom"}]
    lines = bench.format_table(rows).splitlines()
    assert "0.50000!" in lines[2] and lines[2].endswith("PASS") and " float16 " in lines[2]
    assert lines[3].endswith("ERROR") and lines[4].strip() == "error: boom"


def test_cosine_handles_mismatched_and_zero_outputs():
    assert np.isnan(bench.cosine(np.ones(3), np.ones(4)))
    assert bench.cosine(np.zeros(3), np.zeros(3)) == 1.0
    assert bench.cosine(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 0.0


def test_modes_and_corpora_are_checked_before_timing(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--modes", "w8a9"])
    assert "w8a9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--corpus", "hub"])
    a = bench.parse_args(["--modes", "all", "--corpus", "zoo,real"])
    assert a.modes == list(bench.TARGETS) and a.corpus == ["zoo", "real"]


def test_quantized_rows_build_with_a_dataset_and_judge_by_the_mode_target(tmp_path):
    from fixtures import zoo
    from rknn_diag.api import RKNN
    args = bench.parse_args(["--repeat", "1", "--warmup", "0", "--no-memory"])
    row = bench.bench_model("ssd_like", zoo.get("ssd_like"), args, RKNN, tmp_path, "w8a8")
    assert row["status"] in ("PASS", "MISS"), row
    assert row["target"] == bench.TARGETS["w8a8"] == 2.0 and row["mode"] == "w8a8"
    assert row["status"] == ("PASS" if row["ratio"] <= 2.0 else "MISS")
    assert (tmp_path / "ssd_like-rknpu2-ds" / "dataset.txt").is_file()


def test_peak_memory_sees_an_allocation():
    kb = bench._rise_kb(lambda: np.ones(64 * 1024 * 1024 // 8).sum())   # 64 MiB touched
    assert kb >= 48 * 1024


def test_memory_is_measured_in_a_fresh_child(tmp_path):
    from fixtures import zoo
    model, feeds, _ = zoo.get("ssd_like")
    (name, x), = feeds.items()
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    np.save(tmp_path / "x.npy", x, allow_pickle=False)
    out = bench.run_child(sys.executable, {"kind": "mem_ort", "onnx": str(tmp_path / "m.onnx"), "input_name": name,
                                           "ort_input": str(tmp_path / "x.npy")}, 300, tmp_path)
    assert "error" not in out and out["rise_kb"] >= 0
    bad = bench.run_child(sys.executable, {"kind": "mem_ort", "onnx": str(tmp_path / "missing.onnx"),
                                           "input_name": name, "ort_input": str(tmp_path / "x.npy")}, 300, tmp_path)
    assert "missing.onnx" in bad["error"]
