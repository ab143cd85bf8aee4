"""A target that cannot be used ends the run at start: one message naming the cause and
the fix, exit code 4, no case run and no traceback per case."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(tmp_path, *args, env=None):
    res = tmp_path / "results.jsonl"
    return subprocess.run([sys.executable, "-m", "pytest", "conformance/test_zoo.py", "-p", "no:cacheprovider",
                           "-q", "--results", str(res), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})}), res


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args,env,needle", [
    (["--target", "board"], None, "needs --device-id SERIAL"),
    (["--target", "board", "--device-id", "abc", "--adb-server", f"127.0.0.1:{_free_port()}"], None,
     "cannot reach the adb server"),
    (["--target", "toolkit2"], {"RKNN_DIAG_TOOLKIT2_PYTHON": "/nonexistent/python"}, "cannot run the vendor's interpreter"),
], ids=["board-without-device-id", "adb-server-unreachable", "vendor-not-installed"])
def test_unusable_target_stops_the_run_once(tmp_path, args, env, needle):
    done, res = _run(tmp_path, *args, env=env)
    text = done.stdout + done.stderr
    assert done.returncode == 4, text[-3000:]
    assert text.count("ERROR:") == 1 and needle in text and "Fix:" in text, text[-3000:]
    assert "Traceback" not in text and "passed" not in text and "failed" not in text
    assert not res.exists()       # no case ran, so no result line claims anything
