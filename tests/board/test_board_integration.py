"""The whole board path with nothing stubbed: our converter builds the model, the virtual
board (behind the real adb server) runs it with our simulator, and the result matches
onnxruntime and the simulator target bit for bit."""

import numpy as np

from fixtures import models
from fixtures.boards import attached_board
from rknn_diag.compare import reference
from rknn_diag.targets import BuildSpec
from rknn_diag.targets.board import BoardTarget
from rknn_diag.targets.simulator import SimulatorTarget


def test_real_converter_and_simulator_through_two_virtual_boards(adb_server, lock_dir, tmp_path):
    import onnx

    model = models.conv_bn_relu()
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    spec = BuildSpec(config={"target_platform": "rk3588"}, data_format="nchw")
    sim = SimulatorTarget().run(path, spec, [x]).outputs
    ref = reference(path, {"x": x})
    with attached_board(adb_server, "rk3588") as b1, attached_board(adb_server, "rk3566") as b2:
        for board in (b1, b2):
            with BoardTarget(board.serial, adb_server.address, lock_dir=lock_dir) as target:
                out = target.run(path, spec, [x]).outputs
                np.testing.assert_array_equal(out[0], sim[0])       # same model, same bytes
                np.testing.assert_allclose(out[0], ref[0], rtol=5e-3, atol=5e-3)
                assert target.info()["chip"] in ("rk3588", "rk3566")
