"""The two real-rack paths that need the vendor, on virtual boards behind a real adb server:

- `--target board --converter toolkit2`: the host converts with rknn-toolkit2, pushes the vendor
  `.rknn`, the on-board runner runs it. A virtual board cannot execute a vendor file, so it runs
  the file's recorded twin on the vendor's simulator (`rknn_diag/board/vtwin.py`);
- `--target toolkit2 --device-id SERIAL`: the vendor's own `init_runtime(target=CHIP,
  device_id=SERIAL)`. The virtual board answers the vendor's adb commands (chip, `ps -A`, the
  rknn_server restart) but not rknn_server's own protocol (`local:transfer_proxy`), so the run
  must end as an infrastructure error naming the board and rknn_server — never as a vendor
  finding or a pass.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fixtures.boards import attached_board
from rknn_diag import outcome, results
from rknn_diag.board import vtwin
from rknn_diag.board.virtual import simulator_model_fn
from rknn_diag.errors import TargetError
from rknn_diag.targets import BuildSpec
from rknn_diag.targets.board import BoardTarget
from rknn_diag.targets.toolkit2 import Toolkit2Target, convert_with_toolkit2

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def twins(tmp_path, monkeypatch):
    folder = tmp_path / "twins"
    monkeypatch.setenv(vtwin.ENV, str(folder))
    return folder


def _conv_relu(path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.normal(0, 0.2, (4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_vendor_converted_model_crosses_adb_and_runs(adb_server, twins, tmp_path, vendor_installed):
    seen = []

    def model_fn(path, inputs, data_format):      # what the board's runtime was handed
        seen.append(Path(path).read_bytes()[:5])
        return simulator_model_fn(path, inputs, data_format)

    model = tmp_path / "m.onnx"
    _conv_relu(model)
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 16, 16)).astype(np.float32)   # pixel range
    spec = BuildSpec(config={"mean_values": [[0, 0, 0]], "std_values": [[255, 255, 255]]})
    with attached_board(adb_server, "rk3566", simulator=False, model_fn=model_fn) as board:
        target = BoardTarget(board.serial, adb_server.address, lock_dir=str(tmp_path / "locks"),
                             convert=convert_with_toolkit2)
        try:
            assert target.vendor                           # its wrong answers are the vendor's
            out = target.run(str(model), spec, [x]).outputs[0]
        finally:
            target.close()
    assert seen == [vtwin.VENDOR_MAGIC]                    # the vendor's file, not ours, reached the board
    assert len(list(twins.iterdir())) == 1
    ref = ort.InferenceSession(str(model)).run(None, {"x": x / 255})[0]
    cos = float(np.dot(out.ravel(), ref.ravel()) / (np.linalg.norm(out) * np.linalg.norm(ref)))
    assert out.shape == ref.shape and cos > 0.9999, cos


def test_vendor_file_without_twin_is_refused_by_the_virtual_runtime(tmp_path, monkeypatch, vendor_installed):
    monkeypatch.setenv(vtwin.ENV, str(tmp_path / "empty"))
    path = tmp_path / "m.rknn"
    path.write_bytes(vtwin.VENDOR_MAGIC + b"\0" * 64)
    with pytest.raises(RuntimeError, match="twin"):
        simulator_model_fn(str(path), [np.zeros((1, 3, 4, 4), np.float32)], "nchw")


def test_board_converter_toolkit2_from_the_command_line(adb_server, twins, tmp_path, vendor_installed):
    res = tmp_path / "results.jsonl"
    with attached_board(adb_server, "rk3588", simulator=False) as board:
        done = subprocess.run(
            [sys.executable, "-m", "rknn_diag.cli", "conformance", "--suite", str(REPO / "conformance"),
             "--target", "board", "--converter", "toolkit2", "--device-id", board.serial,
             "--adb-server", adb_server.address, "-n", "0", "-k", "test_zoo_float16 and yolo",
             "--no-report", "--results", str(res)],
            cwd=tmp_path, capture_output=True, text=True, timeout=900)
        runs = board.runs
    lines = list(results.read([res]))
    assert len(lines) == 1, (done.stdout + done.stderr)[-3000:]
    assert [r.status for r in lines] == ["passed"], [r.message[:300] for r in lines]
    assert runs == 1 + 1                                   # the health check and the case ran on the board
    assert len(list(twins.iterdir())) == 2                 # each one built by the vendor
    for r in lines:
        argv = shlex.split(r.repro)
        assert argv[argv.index("--converter") + 1] == "toolkit2" and board.serial in argv


def test_vendor_board_path_reaches_the_board_and_reports_rknn_server(adb_server, tmp_path, vendor_installed):
    model = tmp_path / "m.onnx"
    _conv_relu(model)
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 16, 16)).astype(np.float32)
    with attached_board(adb_server, "rk3588", simulator=False) as board:
        target = Toolkit2Target(device_id=board.serial, adb_server=adb_server.address, timeout=120)
        try:
            info = target.info()
            with pytest.raises(TargetError) as err:
                target.run(str(model), BuildSpec(), [x])
        finally:
            target.close()
        history, services = board.shell.history, board.services
    assert info["chip"] == "rk3588" and info["board"] == board.serial
    assert info["versions"]["rknn_server"] == board.profile.rknn_server
    assert outcome.of_exception(err.value) == outcome.INFRASTRUCTURE
    assert board.serial in err.value.message and "rknn_server" in err.value.message
    # the vendor really talked to the board: read its chip, looked for rknn_server (found it in
    # `ps -A`, so no restart), then opened rknn_server's socket, which the virtual board does not serve
    assert ["cat", "/proc/device-tree/compatible"] in history and ["ps", "-A"] in history
    assert ["killall", "rknn_server"] not in history
    assert "local:transfer_proxy" in services
