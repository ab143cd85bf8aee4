"""BoardTarget end to end on virtual boards: runs, health check, every injected fault."""

import numpy as np
import pytest

from fixtures.boards import (attached_board, copy_converter, numpy_affine_relu_fn, onnxruntime_model_fn,
                             weights_converter, write_affine_relu_model)
from rknn_diag.board.locks import BoardLock
from rknn_diag.board.profile import Faults
from rknn_diag.errors import TargetError, TargetTimeout
from rknn_diag.targets.base import BuildSpec, Target
from rknn_diag.targets.board import BoardTarget

RNG = np.random.default_rng(1808)
W = RNG.normal(size=(6, 5)).astype(np.float32)
BIAS = RNG.normal(size=(5,)).astype(np.float32)


def inputs():
    rng = np.random.default_rng(3588)
    return [rng.normal(size=(1, 6)).astype(np.float32), rng.normal(size=(1, 5)).astype(np.float32)]


def expected(a, b):
    return np.maximum(a @ W + b + BIAS, 0)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "affine.onnx"
    write_affine_relu_model(path, W, BIAS)
    return str(path)


def make_target(board, adb_server, lock_dir, **kw):
    kw.setdefault("convert", weights_converter)
    kw.setdefault("step_timeout", 3)
    kw.setdefault("run_timeout", 3)
    return BoardTarget(board.serial, adb_server.address, lock_dir=lock_dir, **kw)


def test_run_with_numpy_model_function(adb_server, lock_dir, model):
    with attached_board(adb_server, "rk3588", model_fn=numpy_affine_relu_fn) as board:
        with make_target(board, adb_server, lock_dir) as target:
            assert isinstance(target, Target)
            x = inputs()
            first = target.run(model, BuildSpec(), x)
            second = target.run(model, BuildSpec(), x)
            info = target.info()
        # The runner was pushed once and every case folder was cleaned up on the board.
        left = sorted(p.name for p in board.sandbox.host_path("/tmp/rknn_diag").iterdir())
    np.testing.assert_allclose(first.outputs[0], expected(*x), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(first.outputs[0], second.outputs[0])
    assert len(first.outputs) == 1 and first.latency_ms is not None and first.latency_ms >= 0
    assert info["chip"] == "rk3588" and info["runtime"] == "2.3.2" and info["name"] == f"board:{board.serial}"
    assert first.info["serial"] == board.serial
    assert board.runs == 2
    assert left == ["runner.py"]


def test_android_board_uses_data_local_tmp(adb_server, lock_dir, model):
    with attached_board(adb_server, "rk3568", os="Android 11", model_fn=numpy_affine_relu_fn) as board:
        with make_target(board, adb_server, lock_dir) as target:
            target.run(model, BuildSpec(), inputs())
            assert target.board_dir == "/data/local/tmp/rknn_diag"
            assert board.sandbox.host_path("/data/local/tmp/rknn_diag/runner.py").is_file()


def test_health_check_matches_numpy(adb_server, lock_dir):
    with attached_board(adb_server, "rk3566", model_fn=onnxruntime_model_fn) as board:
        with make_target(board, adb_server, lock_dir, convert=copy_converter) as target:
            report = target.health_check()
    assert report["ok"] is True, report
    assert report["max_abs_error"] < 1e-6


def test_health_check_reports_a_wrong_board(adb_server, lock_dir):
    def off_by_one(model_path, ins, data_format):
        return [onnxruntime_model_fn(model_path, ins, data_format)[0] + 1.0]

    with attached_board(adb_server, "rk3566", model_fn=off_by_one) as board:
        with make_target(board, adb_server, lock_dir, convert=copy_converter) as target:
            report = target.health_check()
    assert report["ok"] is False and report["max_abs_error"] == pytest.approx(1.0)


def test_real_board_conversion_needs_vendor_converter(adb_server, lock_dir, model):
    with attached_board(adb_server, "rk3588", simulator=False) as board:
        with make_target(board, adb_server, lock_dir, convert=None) as target:
            with pytest.raises(TargetError) as err:
                target.run(model, BuildSpec(), inputs())
    assert "rknn-toolkit2" in str(err.value) and board.serial in str(err.value)


# -- faults -----------------------------------------------------------------------------
FAULTS = {
    "drop mid-transfer": (dict(drop_after_bytes=100), TargetError, "connection lost"),
    "hang": (dict(hang=True), TargetTimeout, "timed out"),
    "hang on runner": (dict(hang_on_runner=True), TargetTimeout, "run runner"),
    "slow answers": (dict(delay_s=1.5), TargetTimeout, "timed out"),
    "mismatched versions": (dict(mismatch_versions=True), TargetError, "does not match"),
    "corrupted outputs": (dict(corrupt_outputs=True), TargetError, "damaged"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_fault_is_a_target_error(adb_server, lock_dir, model, fault):
    settings, error, words = FAULTS[fault]
    with attached_board(adb_server, "rk3588", model_fn=numpy_affine_relu_fn) as board:
        with make_target(board, adb_server, lock_dir) as target:
            target.facts()  # connect and read facts healthy; the fault strikes the run
            for key, value in settings.items():
                setattr(board.faults, key, value)
            if fault == "mismatched versions":
                target.facts(refresh=True)  # facts are cached per target; look again
            with pytest.raises(error) as err:
                target.run(model, BuildSpec(), inputs())
    text = str(err.value)
    assert board.serial in text, text
    assert words in text, text


def test_fault_set_at_start_from_config(adb_server, lock_dir, model):
    with attached_board(adb_server, "rk1808", model_fn=numpy_affine_relu_fn,
                        faults=Faults(mismatch_versions=True)) as board:
        with make_target(board, adb_server, lock_dir) as target:
            assert target.info()["rknn_server"] != target.info()["runtime"]
            with pytest.raises(TargetError, match="1.7.2"):
                target.run(model, BuildSpec(), inputs())


def test_board_disappears_between_cases(adb_server, lock_dir, model):
    with attached_board(adb_server, "rk3588", model_fn=numpy_affine_relu_fn,
                        faults=Faults(disappear_after_runs=1)) as board:
        with make_target(board, adb_server, lock_dir) as target:
            target.run(model, BuildSpec(), inputs())
            assert not board.gone.is_set()
            with pytest.raises(TargetError) as err:
                target.run(model, BuildSpec(), inputs())
            assert board.gone.is_set()
            with pytest.raises(TargetError):  # and it stays gone
                target.run(model, BuildSpec(), inputs())
    assert board.serial in str(err.value)


def test_runner_failure_is_a_target_error(adb_server, lock_dir, model):
    def broken(model_path, ins, data_format):
        raise RuntimeError("rknn_run failed: -1")

    with attached_board(adb_server, "rk3588", model_fn=broken) as board:
        with make_target(board, adb_server, lock_dir) as target:
            with pytest.raises(TargetError) as err:
                target.run(model, BuildSpec(), inputs())
    assert "exited with 1" in str(err.value) and "rknn_run failed" in str(err.value)
    assert board.serial in str(err.value)


def test_missing_output_file_is_a_target_error(adb_server, lock_dir, tmp_path):
    with attached_board(adb_server, "rk3588") as board:
        with make_target(board, adb_server, lock_dir) as target:
            with pytest.raises(TargetError) as err:
                target._pull_output("/tmp/rknn_diag/case9/out", tmp_path, {"file": "output0.npy", "sha256": "0"})
    assert board.serial in str(err.value) and "pull output0.npy" in str(err.value)


def test_unlisted_board_and_unreachable_server(adb_server, lock_dir):
    from fixtures.boards import free_port

    with pytest.raises(TargetError, match="127.0.0.1:1 is not listed"):
        BoardTarget("127.0.0.1:1", adb_server.address, lock_dir=lock_dir, step_timeout=3)
    with pytest.raises(TargetError, match="cannot reach the adb server"):
        BoardTarget("127.0.0.1:1", f"127.0.0.1:{free_port()}", lock_dir=lock_dir, step_timeout=3)


# -- locks ------------------------------------------------------------------------------
def test_lock_excludes_a_second_holder(lock_dir):
    first = BoardLock("127.0.0.1:5601", "127.0.0.1:5037", lock_dir).acquire()
    with pytest.raises(TargetTimeout, match="in use"):
        BoardLock("127.0.0.1:5601", "127.0.0.1:5037", lock_dir).acquire(timeout=0.2)
    # Another board, or the same serial on another adb server, is a different lock.
    BoardLock("127.0.0.1:5602", "127.0.0.1:5037", lock_dir).acquire().release()
    BoardLock("127.0.0.1:5601", "10.0.0.2:5037", lock_dir).acquire().release()
    first.release()
    BoardLock("127.0.0.1:5601", "127.0.0.1:5037", lock_dir).acquire().release()


def test_lock_excludes_another_process(lock_dir):
    import subprocess
    import sys

    holder = BoardLock("board-x", None, lock_dir).acquire()
    code = ("import sys; from rknn_diag.board.locks import BoardLock\n"
            "try:\n    BoardLock('board-x', None, sys.argv[1]).acquire(timeout=0.2)\n"
            "except Exception as e:\n    print(type(e).__name__); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, lock_dir], capture_output=True, text=True, timeout=60)
    holder.release()
    assert done.returncode == 3 and "TargetTimeout" in done.stdout, done.stderr


def test_two_targets_on_one_board_exclude_each_other(adb_server, lock_dir):
    with attached_board(adb_server, "rk3588") as board:
        with make_target(board, adb_server, lock_dir):
            with pytest.raises(TargetTimeout, match="in use"):
                make_target(board, adb_server, lock_dir)
        make_target(board, adb_server, lock_dir).close()  # free again once the first closed


@pytest.mark.parametrize("direction", ["push", "pull"])
def test_connection_dropped_mid_transfer(adb_server, lock_dir, tmp_path, direction):
    data = np.random.default_rng(7).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    with attached_board(adb_server, "rk3588") as board:
        with make_target(board, adb_server, lock_dir) as target:
            if direction == "pull":
                target._push(src, "/tmp/big.bin", "push big")
            board.faults.drop_after_bytes = 300_000
            with pytest.raises(TargetError) as err:
                if direction == "push":
                    target._push(src, "/tmp/big2.bin", "push big")
                else:
                    target._pull("/tmp/big.bin", tmp_path / "back.bin", "pull big")
            # No partial file left on either side.
            assert not board.sandbox.host_path("/tmp/big2.bin").exists()
            assert not (tmp_path / "back.bin").exists()
    assert board.serial in str(err.value) and f"{direction} big" in str(err.value)
