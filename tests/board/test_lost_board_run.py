"""A board lost in the middle of a conformance run: every case already finished keeps its
result line, and every case after the loss ends as an infrastructure error — not a product
failure, not a missing line."""

import subprocess
import sys
from pathlib import Path

from fixtures.boards import attached_board
from rknn_diag import results
from rknn_diag.board.profile import Faults

REPO = Path(__file__).resolve().parents[2]


def test_board_vanishing_mid_run_loses_no_result(adb_server, tmp_path):
    res = tmp_path / "results.jsonl"
    # 1 health-check run + 2 cases, then the board is gone for the remaining 3 zoo cases.
    with attached_board(adb_server, "rk3588", faults=Faults(disappear_after_runs=3)) as board:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "conformance/test_zoo.py", "--target", "board",
             "--device-id", board.serial, "--adb-server", adb_server.address, "--results", str(res),
             "-p", "no:cacheprovider", "-q"],
            cwd=REPO, capture_output=True, text=True, timeout=600)
    lines = list(results.read([res]))
    assert len(lines) == 5, done.stdout[-3000:]
    statuses = [(r.status, r.category) for r in lines]
    assert statuses[:2] == [("passed", None)] * 2, statuses
    assert statuses[2:] == [("error", "infrastructure")] * 3, statuses
    assert all(board.serial in r.message for r in lines[2:])
    assert "3 errors" in done.stdout and "failed" not in done.stdout.splitlines()[-1]
