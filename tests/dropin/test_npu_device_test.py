"""rknn-toolkit2 functions/npu_device_test in shape, on a virtual rk3588 behind a private adb server:
config (mean/std, quant_img_RGB2BGR, rk3588) -> load_caffe (the Caffe MobileNet-v2 stand-in of
tests/dropin/test_caffe_examples, in ../../caffe/mobilenet_v2/ as the example reads it) -> build ->
accuracy_analysis(target='rk3588') -> export_rknn -> export_encrypted_rknn_model (refused, the
script goes on) -> release; load_rknn -> list_devices -> init_runtime(target='rk3588',
perf_debug=True, eval_mem=True) -> get_sdk_version -> eval_perf -> eval_memory ->
inference(data_format=['nhwc']).

accuracy_analysis on a board writes, besides golden/ and simulator/, the board's output of every
layer in runtime/<tensor>.txt and the runtime_error columns of error_analysis.txt (runtime against
golden: entire; runtime against simulator: single_sim). A virtual board runs our simulator, so
its columns must equal the simulator's to the 5 decimals the table carries; a board whose
outputs are 1 % off must show up in them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from fixtures.boards import attached_board
from fixtures.dropin import classifier
from rknn_diag.api import RKNN
from rknn_diag.board.profile import Faults
from rknn_diag.errors import ConfigError, TargetError
from tests.dropin.test_caffe_examples import _example

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]
PAIR = r"(-?[\d.]+|nan) \| (-?[\d.]+|nan)"
# [Op] tensor  simulator entire, single  [runtime entire, single_sim]: each `cos | euc`
ROW = re.compile(rf"^\[(\w+)\] (\S+)\s+{PAIR}\s+{PAIR}(?:\s+{PAIR}\s+{PAIR})?\s*$")


@pytest.fixture(autouse=True)
def npu_device_test(tmp_path, monkeypatch, request):
    """examples/functions/npu_device_test with ../../caffe/mobilenet_v2/ beside it, as the current
    folder; the model's input size 32, or what a test gives it by indirect parametrization."""
    caffe = tmp_path / "caffe" / "mobilenet_v2"
    here = tmp_path / "functions" / "npu_device_test"
    caffe.mkdir(parents=True)
    here.mkdir(parents=True)
    _example(caffe, getattr(request, "param", 32))
    for f in [*caffe.glob("img*.jpg"), caffe / "dataset.txt"]:
        shutil.copy(f, here)
    shutil.copy(caffe / "img0.jpg", here / "dog_224x224.jpg")
    monkeypatch.chdir(here)
    return here


def _built(adb_server=None) -> RKNN:
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform="rk3588")
    assert rknn.load_caffe(model="./../../caffe/mobilenet_v2/mobilenet_v2_deploy.prototxt",
                           blobs="./../../caffe/mobilenet_v2/mobilenet_v2.caffemodel") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    return rknn


def _table(path="snapshot/error_analysis.txt") -> dict[str, list[str]]:
    """tensor -> the figures of its row as written: sim entire cos, euc, single cos, euc[, runtime
    entire cos, euc, single_sim cos, euc]."""
    rows = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(2)] = [g for g in m.groups()[2:] if g is not None]
    return rows


def _runtime_equals_simulator(rows: dict[str, list[str]]) -> bool:
    """The board's columns as the simulator's: entire the same figures, single_sim 1 and 0."""
    return all(r[4:6] == r[0:2] and r[6:8] == ["1.00000", "0.00000"] for r in rows.values())


def test_npu_device_test_script_on_a_virtual_rk3588(adb_server, monkeypatch, capsys):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))   # as `adb` finds its server
    with attached_board(adb_server, "rk3588") as board:
        rknn = _built()
        assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], output_dir="./snapshot", target="rk3588") == 0
        assert rknn.export_rknn("./mobilenet_v2.rknn") == 0
        capsys.readouterr()
        ret = rknn.export_encrypted_rknn_model("./mobilenet_v2.rknn", None, 3)   # return code unchecked
        refused = capsys.readouterr().out
        rknn.release()

        rknn = RKNN(verbose=True)
        assert rknn.load_rknn("./mobilenet_v2.rknn") == 0
        img = np.expand_dims(cv2.imread("./dog_224x224.jpg"), 0)
        capsys.readouterr()
        assert rknn.list_devices()[0] == [board.serial]
        assert f"list_devices: adb: {board.serial}" in capsys.readouterr().out     # printed, as the vendor's
        assert rknn.init_runtime(target="rk3588", perf_debug=True, eval_mem=True) == 0
        sdk = rknn.get_sdk_version()
        capsys.readouterr()
        perf = rknn.eval_perf()
        mem = rknn.eval_memory()
        said = capsys.readouterr().out
        outputs = rknn.inference(inputs=[img], data_format=["nhwc"])
        rknn.release()

    # the export the board driver would decrypt is refused with its E line, and the script goes on
    assert ret != 0 and any(ln.startswith("E export_encrypted_rknn_model:") and "Fix:" in ln
                            for ln in refused.splitlines()), refused
    # the board's own parts, not the simulator's
    assert f"rknn_server: {board.profile.rknn_server}" in sdk and "simulator" not in sdk, sdk
    assert perf is not None and perf["runs_ms"][0] > 0 and mem is not None and mem["total_memory"] > 0
    assert any(ln.startswith("W eval_perf()") and "per-layer" in ln for ln in said.splitlines()), said   # perf_debug
    assert any(ln.startswith("W eval_memory()") and "not measured" in ln for ln in said.splitlines()), said

    # inference(data_format=['nhwc']) on the board gives what the simulator gives
    sim = RKNN()
    assert sim.load_rknn("./mobilenet_v2.rknn") == 0 and sim.init_runtime() == 0
    want = sim.inference(inputs=[img], data_format=["nhwc"])
    assert outputs is not None and len(outputs) == len(want)
    np.testing.assert_array_equal(outputs[0], want[0])

    # runtime/: every layer simulator/ has, same number of values; as written, the simulator's
    sim_files = sorted(p.name for p in Path("snapshot/simulator").glob("*.txt"))
    assert sim_files and sorted(p.name for p in Path("snapshot/runtime").glob("*.txt")) == sim_files
    for name in sim_files:
        board_vals, sim_vals = np.loadtxt(f"snapshot/runtime/{name}"), np.loadtxt(f"snapshot/simulator/{name}")
        assert board_vals.shape == sim_vals.shape == np.loadtxt(f"snapshot/golden/{name}").shape, name
        np.testing.assert_array_equal(board_vals, sim_vals, err_msg=name)
    rows = _table()
    assert len(rows) == len(sim_files) and all(len(r) == 8 for r in rows.values()), rows
    assert "runtime_error" in Path("snapshot/error_analysis.txt").read_text() and "single_sim" in \
        Path("snapshot/error_analysis.txt").read_text()
    assert _runtime_equals_simulator(rows), rows
    assert rows["prob"][4] != "1.00000"      # the board's column is against golden: quantization shows


def test_a_board_one_percent_off_shows_in_the_runtime_columns(adb_server):
    """Planted: the board's runtime scales every result by 1.01 (hashed as if right)."""
    with attached_board(adb_server, "rk3588", faults=Faults(wrong_results=0.01)) as board:
        rknn = _built()
        assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], output_dir="./snapshot", target="rk3588",
                                      device_id=board.serial, adb_server=adb_server.address) == 0
        rknn.release()
    rows = _table()
    assert rows and not _runtime_equals_simulator(rows)
    for tensor, r in rows.items():
        # 1 % of the layer's own size away from the simulator: Euclidean distance 0.01 * |simulator|
        sim_norm = np.linalg.norm(np.loadtxt(f"snapshot/simulator/{tensor.replace('/', '_')}.txt"))
        assert float(r[7]) == pytest.approx(0.01 * sim_norm, rel=1e-3, abs=2e-5), (tensor, r)


def test_the_board_lost_mid_analysis_is_a_typed_error_and_keeps_the_simulator_part(adb_server):
    """Planted: the board answers (connect, facts) and is gone when the runner starts."""
    with attached_board(adb_server, "rk3588", faults=Faults(disappear_after_runs=0)) as board:
        rknn = _built()
        ret = rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], output_dir="./snapshot", target="rk3588",
                                     device_id=board.serial, adb_server=adb_server.address)
        rknn.release()
    e = rknn.last_error
    assert isinstance(e, TargetError) and ret == e.code != 0, e
    assert board.serial in e.message and "without the runtime/ part" in e.message and "rerun" in e.fix, e
    assert Path("snapshot/simulator").is_dir() and not Path("snapshot/runtime").exists()
    rows = _table()
    assert rows and all(len(r) == 4 for r in rows.values())   # the simulator's table, whole


def test_unknown_and_unsupported_boards_are_refused(adb_server):
    rknn = _built()
    assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], target="rk9999") != 0
    assert isinstance(rknn.last_error, ConfigError) and "unknown target 'rk9999'" in rknn.last_error.message
    with attached_board(adb_server, "rk3566") as board:   # the model is for rk3588
        assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], target="rk3588", device_id=board.serial,
                                      adb_server=adb_server.address) != 0
    assert isinstance(rknn.last_error, TargetError)
    assert "is a rk3566, not the requested target 'rk3588'" in rknn.last_error.message
    rknn.release()
    assert not Path("snapshot").exists()      # refused before any work

    onnx.save(classifier(32), "classifier.onnx")
    one_x = RKNN()      # a 1.x chip: the 1.x layout, which has no board column
    one_x.config(mean_values=[MEAN], std_values=[STD], target_platform=["rv1126"])
    assert one_x.load_onnx(model="classifier.onnx") == 0
    assert one_x.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert one_x.accuracy_analysis(inputs="./dataset.txt", target="rv1126") != 0
    e = one_x.last_error
    assert isinstance(e, TargetError) and "rv1126 board is not available" in e.message and "target=None" in e.fix
    one_x.release()
    assert not Path("snapshot").exists()


# size 24: no layer output has as many channels as rows and columns, so NHWC tells from NCHW
@pytest.mark.parametrize("npu_device_test", [24], indirect=True)
def test_layer_outputs_a_board_returns_nhwc_are_compared_in_the_simulators_layout(npu_device_test, adb_server):
    """A runtime that returns 4-D outputs NHWC: turned back to NCHW before the comparison (a shape
    that reads the same both ways, C == H == W, is taken as NCHW, RKNNLite's output layout)."""
    from rknn_diag.board.virtual import simulator_model_fn

    def nhwc(*args):
        return [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in simulator_model_fn(*args)]

    with attached_board(adb_server, "rk3588", model_fn=nhwc) as board:
        rknn = _built()
        assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], output_dir="./snapshot", target="rk3588",
                                      device_id=board.serial, adb_server=adb_server.address) == 0
        rknn.release()
    assert _runtime_equals_simulator(_table())
    name = "conv1_4.txt"      # the first conv's output, 16 channels of 12x12
    np.testing.assert_array_equal(np.loadtxt(f"snapshot/runtime/{name}"), np.loadtxt(f"snapshot/simulator/{name}"))


def test_accuracy_analysis_on_the_board_a_runtime_holds(npu_device_test, adb_server):
    """init_runtime(target=...) first, then accuracy_analysis(target=...) on the same object: the
    board has one holder, so the analysis runs over the runtime's connection, and inference() on
    the board still runs the model itself afterwards."""
    with attached_board(adb_server, "rk3588") as board:
        rknn = _built()
        img = np.expand_dims(cv2.imread("./dog_224x224.jpg"), 0)
        assert rknn.init_runtime(target="rk3588", device_id=board.serial, adb_server=adb_server.address) == 0
        before = rknn.inference(inputs=[img], data_format=["nhwc"])
        assert rknn.accuracy_analysis(inputs=["./dog_224x224.jpg"], output_dir="./snapshot", target="rk3588",
                                      device_id=board.serial, adb_server=adb_server.address) == 0, rknn.last_error
        after = rknn.inference(inputs=[img], data_format=["nhwc"])
        rknn.release()
    assert _runtime_equals_simulator(_table())
    assert before is not None and after is not None and len(after) == 1     # the model's one output, not 11
    np.testing.assert_array_equal(after[0], before[0])
