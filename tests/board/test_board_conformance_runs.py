"""Conformance runs on a misbehaving virtual board, end to end through the real adb server:
a board lost mid-run loses no result and its remaining cases are infrastructure errors; a
board whose runtime computes wrong answers is a firmware/driver finding, not a product failure."""

import os
import subprocess
import sys
from pathlib import Path

from fixtures.boards import attached_board
from rknn_diag import results
from rknn_diag.board.profile import Faults

REPO = Path(__file__).resolve().parents[2]


def _zoo_on_board(adb_server, tmp_path, faults: Faults):
    res = tmp_path / "results.jsonl"
    with attached_board(adb_server, "rk3588", faults=faults) as board:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "conformance/test_zoo.py", "--target", "board",
             "--device-id", board.serial, "--adb-server", adb_server.address, "--results", str(res),
             "-p", "no:cacheprovider", "-q"],
            cwd=REPO, capture_output=True, text=True, timeout=600)
    return board, done, list(results.read([res]))


def test_board_vanishing_mid_run_loses_no_result(adb_server, tmp_path):
    # 1 health-check run + 2 cases, then the board is gone for the remaining 3 zoo cases.
    board, done, lines = _zoo_on_board(adb_server, tmp_path, Faults(disappear_after_runs=3))
    assert len(lines) == 5, done.stdout[-3000:]
    statuses = [(r.status, r.category) for r in lines]
    assert statuses[:2] == [("passed", None)] * 2, statuses
    assert statuses[2:] == [("error", "infrastructure")] * 3, statuses
    assert all(board.serial in r.message for r in lines[2:])
    assert "3 errors" in done.stdout and "failed" not in done.stdout.splitlines()[-1]


def test_wrong_board_results_are_a_firmware_finding(adb_server, tmp_path):
    # 0.9 % off: the health check (|y| <= 1, tolerance 1e-2) still passes; larger zoo outputs
    # then disagree with the simulator running the same built model.
    _, done, lines = _zoo_on_board(adb_server, tmp_path, Faults(wrong_results=0.009))
    assert len(lines) == 5, done.stdout[-3000:]
    findings = [r for r in lines if r.status == "xfail"]
    assert findings and all(r.category == "vendor" and "firmware/driver finding" in r.message for r in findings)
    assert {r.status for r in lines} <= {"passed", "xfail"}, [(r.case, r.status, r.message[:200]) for r in lines]


def test_a_hung_board_is_quarantined_after_at_most_two_step_timeouts(adb_server, tmp_path):
    """The board hangs after the health check and one case. With --step-timeout 2 the hung
    case costs one timeout, the probe before the next case a second; the rest end at once
    as infrastructure errors naming the quarantine. Timeouts come from the command line."""
    import time
    res = tmp_path / "results.jsonl"
    with attached_board(adb_server, "rk3588", faults=Faults(hang_after_runs=2)) as board:
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "rknn_diag.cli", "conformance", "--suite", str(REPO / "conformance"),
             "--target", "board", "--device-id", board.serial, "--adb-server", adb_server.address,
             "--step-timeout", "2", "--run-timeout", "2", "-n", "0", "-k", "test_zoo_float16", "--no-report",
             "--results", str(res)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
        took = time.monotonic() - start
    lines = list(results.read([res]))
    assert len(lines) == 5, (done.stdout + done.stderr)[-3000:]
    statuses = [(r.status, r.category) for r in lines]
    assert statuses[0] == ("passed", None) and statuses[1:] == [("error", "infrastructure")] * 4, statuses
    assert "timed out after 2 s" in lines[1].message
    assert all("quarantined" in r.message for r in lines[2:]), [r.message[:200] for r in lines]
    quick = [r.duration for r in lines[3:]]
    assert max(quick) < 1.0, quick          # after the quarantine no case waits for the board
    assert took < 120, took


def test_a_hung_boards_cases_move_to_another_board_of_its_chip(adb_server, tmp_path):
    """Two rk3588 boards: the first hangs after the health check and one case. Its timed-out
    case stays an infrastructure error; the probe then quarantines it and the remaining cases
    run on the second board (after its own health check) and pass there. Every line's repro
    names the board that ran it, shell-quoted."""
    import shlex
    res = tmp_path / "results.jsonl"
    with attached_board(adb_server, "rk3588", faults=Faults(hang_after_runs=2)) as hung, \
            attached_board(adb_server, "rk3588") as spare:
        done = subprocess.run(
            [sys.executable, "-m", "rknn_diag.cli", "conformance", "--suite", str(REPO / "conformance"),
             "--target", "board", "--device-id", hung.serial, "--device-id", spare.serial,
             "--adb-server", adb_server.address, "--step-timeout", "2", "--run-timeout", "15", "-n", "0",
             "-k", "test_zoo_float16", "--no-report", "--results", str(res)],   # 15 s: the spare may be slow under load
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            # as if run by xdist worker gw1: the CLI's own session must not pick board 1 for it
            env={**os.environ, "PYTEST_XDIST_WORKER": "gw1"})
        spare_runs, hung_runs = spare.runs, hung.runs
    lines = list(results.read([res]))
    assert len(lines) == 5, (done.stdout + done.stderr)[-3000:]
    statuses = [(r.status, r.category) for r in lines]
    assert statuses == [("passed", None), ("error", "infrastructure")] + [("passed", None)] * 3, \
        ([(r.status, r.board, r.message[:200]) for r in lines], hung_runs, spare_runs, done.stderr[-2000:])
    assert [r.board for r in lines] == [hung.serial] * 2 + [spare.serial] * 3
    assert spare_runs == 1 + 3                     # its health check, then the three moved cases
    for r in lines:
        argv = shlex.split(r.repro)
        assert argv[argv.index("--device-id") + 1] == r.board, r.repro
        assert argv[argv.index("--adb-server") + 1] == adb_server.address
        assert "::" in argv[3] and "[" in argv[3], r.repro   # the node id survived quoting whole
