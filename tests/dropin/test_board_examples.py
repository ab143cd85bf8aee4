"""1.x common_function_demos/eval_perf and pass_through on a board: `eval_perf.py model.rknn 1` loads a built model,
init_runtime(target='rv1126', perf_debug=True), eval_perf(loop_cnt=...): the board's time per run,
here on a virtual rv1126 behind a private adb server."""

from __future__ import annotations

from fixtures.boards import attached_board
from rknn_diag.api import RKNN


def test_1x_eval_perf_script_on_a_board(example, adb_server, capsys):
    example()
    r = RKNN()
    r.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]], target_platform=["rv1126"])
    assert r.load_onnx(model="resnet50v2.onnx") == 0
    assert r.build(do_quantization=True, dataset="dataset.txt") == 0
    assert r.export_rknn("mobilenet_v1.rknn") == 0
    with attached_board(adb_server, "rv1126") as board:
        rknn = RKNN()
        assert rknn.load_rknn("mobilenet_v1.rknn") == 0
        assert rknn.init_runtime(target="rv1126", device_id=board.serial, perf_debug=True,
                                 adb_server=adb_server.address) == 0
        capsys.readouterr()
        perf = rknn.eval_perf(loop_cnt=3)
        out = capsys.readouterr().out
        rknn.release()
    assert perf is not None, out
    assert perf["loop_cnt"] == 3 and len(perf["runs_ms"]) == 3 and all(ms > 0 for ms in perf["runs_ms"])
    assert perf["layers"] == []                       # per-layer times: not from a board, and said so
    assert any(ln.startswith("W ") and "per-layer" in ln for ln in out.splitlines()), out
    assert "Total board time" in out


def test_1x_pass_through_script_on_a_board(example, adb_server):
    """1.x common_function_demos/pass_through on a board (init_runtime(target='rv1126')): with
    pass_through=1 the script quantizes the image itself and passes inputs_pass_through=[1]; with 0
    it passes the image and [0]. The board gives what the simulator gives in both, and the two
    readings of the same array differ (the flag reaches the board)."""
    import numpy as np
    example()
    r = RKNN()
    r.config(mean_values=[[127.5, 127.5, 127.5]], std_values=[[127.5, 127.5, 127.5]], target_platform=["rv1126"])
    assert r.load_onnx(model="resnet50v2.onnx") == 0
    assert r.build(do_quantization=True, dataset="dataset.txt") == 0
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    q = ((((img.astype(np.float32) - 127.5) / 127.5) / 0.007843137718737125) + 127).astype(np.uint8)
    assert r.init_runtime() == 0
    sim = {flag: r.inference(inputs=[x], inputs_pass_through=[flag]) for flag, x in ((0, img), (1, q))}
    with attached_board(adb_server, "rv1126") as board:
        assert r.init_runtime(target="rv1126", device_id=board.serial, adb_server=adb_server.address) == 0
        on_board = {flag: r.inference(inputs=[x], inputs_pass_through=[flag]) for flag, x in ((0, img), (1, q))}
        as_image = r.inference(inputs=[q], inputs_pass_through=[0])
        r.release()
    for flag in (0, 1):
        assert on_board[flag] is not None, flag
        np.testing.assert_array_equal(on_board[flag][0], sim[flag][0])
    assert not np.array_equal(on_board[1][0], as_image[0])
