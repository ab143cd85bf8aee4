"""The drop-in API on a board: init_runtime(target=CHIP, device_id=SERIAL) runs the same
built model as the simulator, through the real adb server and a virtual board."""

import numpy as np
import onnx

from fixtures import models
from fixtures.boards import attached_board
from rknn_diag import errors
from rknn_diag.api import RKNN


def _built(tmp_path, platform):
    src = tmp_path / "m.onnx"
    onnx.save(models.conv_bn_relu(), str(src))
    r = RKNN()
    assert r.config(mean_values=[[10, 20, 30]], std_values=[[50, 50, 50]], target_platform=platform) == 0
    assert r.load_onnx(str(src)) == 0 and r.build(do_quantization=False) == 0
    return r


def test_inference_on_a_board_equals_the_simulator(adb_server, tmp_path):
    img = np.random.default_rng(1).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
    r = _built(tmp_path, "rk3588")
    assert r.init_runtime() == 0
    on_sim = r.inference(inputs=[img])
    with attached_board(adb_server, "rk3588") as board:
        assert r.init_runtime(target="rk3588", device_id=board.serial, adb_server=adb_server.address) == 0
        on_board = r.inference(inputs=[img])
        r.release()
    np.testing.assert_array_equal(on_board[0], on_sim[0])


def test_wrong_chip_or_platform_is_refused(adb_server, tmp_path):
    with attached_board(adb_server, "rk3566") as board:
        r = _built(tmp_path, "rk3588")
        assert r.init_runtime(target="rk3588", device_id=board.serial,
                              adb_server=adb_server.address) == errors.RKNN_ERR_DEVICE_UNAVAILABLE
        assert "is a rk3566" in str(r.last_error)
        assert r.init_runtime(target="rk3566", device_id=board.serial, adb_server=adb_server.address) != 0
        assert "built for ['rk3588']" in str(r.last_error) and "§1.7.1" in str(r.last_error)
