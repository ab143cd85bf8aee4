"""rknn-doctor against virtual boards of the board layer, behind a private adb server.

Needs the board layer (rknn_diag.board, its own branch until merged) and Debian's `adb`;
without them this module is skipped as a whole -- the board checks themselves are
covered with injected facts in test_boards.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("rknn_diag.board.virtual", reason="the board layer (rknn_diag.board) is not in this tree yet")
if shutil.which("adb") is None:
    pytest.skip("the `adb` tool is not installed (apt-get install adb)", allow_module_level=True)

from fixtures.boards import AdbServer, attached_board  # noqa: E402  (the board layer's fixtures)
from rknn_diag.doctor import cli  # noqa: E402

BOARD_CHECKS = ["board.reachable", "board.chip", "board.versions", "board.precompile", "board.mini_driver"]


@pytest.fixture(scope="module")
def server():
    s = AdbServer().start()
    yield s
    s.stop()


def _run(capsys, server, *extra):
    argv = ["--json", "--adb-server", server.address, "--toolkit-version", "1.4.0"]
    for c in BOARD_CHECKS:
        argv += ["--check", c]
    code = cli.main(argv + list(extra))
    return code, json.loads(capsys.readouterr().out)["checks"]


def test_matching_board_passes(capsys, server):
    with attached_board(server, "rk1808") as board:
        code, found = _run(capsys, server, "--device-id", board.serial)
    assert code == 0
    assert {f["status"] for f in found} <= {"ok", "skip"}
    assert any(f["id"] == "board.versions" and f["status"] == "ok" for f in found)


def test_mismatched_board_fails(capsys, server):
    with attached_board(server, "rv1126", mini_driver=True, rknn_server="1.3.0", runtime="1.3.0") as board:
        code, found = _run(capsys, server, "--device-id", board.serial)
    assert code == 1
    errors = {f["id"] for f in found if f["status"] == "error"}
    assert errors == {"board.chip", "board.versions", "board.mini_driver"}
