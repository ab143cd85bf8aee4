"""The virtual board's parts without adb: shell parsing, sandbox, facts parsing, runner, versions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.board import vendor_version_lines as V

from rknn_diag.board import facts as F
from rknn_diag.board.profile import BoardProfile
from rknn_diag.board.sandbox import Sandbox, SandboxError
from rknn_diag.board.versions import server_runtime_mismatch
from rknn_diag.platforms import chip_from_compatible
from rknn_diag.board.vshell import ShellSyntaxError, VirtualShell, split_command_line


@pytest.fixture
def vshell():
    profile = BoardProfile(chip="rk1808")
    sandbox = Sandbox(profile.files())
    yield VirtualShell(profile, sandbox)
    sandbox.cleanup()


def test_sequences_and_status(vshell):
    assert vshell.run("false; echo $?") == (0, b"1\n")
    assert vshell.run("false && echo no || echo yes") == (0, b"yes\n")
    assert vshell.run("echo '$?' \"$?\"") == (0, b"$? 0\n")
    assert vshell.run("nosuch; echo X4EXIT:$?") == (0, b"sh: nosuch: not found\nX4EXIT:127\n")


def test_pipe_to_grep(vshell):
    rc, out = vshell.run("dmesg | grep -i GALCORE")
    assert rc == 0 and out == (b"[    2.391001] galcore: clk_get vg clock failed, disable vg!\n"
                               b"[    2.391145] Galcore version 6.4.0.227915\n")
    assert vshell.run("dmesg | grep nothing-like-this")[0] == 1


@pytest.mark.parametrize("line", ["echo x > /tmp/f", "cat < /etc/passwd", "sleep 10 &", "echo $(id)",
                                  "echo `id`", "echo \"$(id)\"", "echo $HOME", "echo 'open", "; ls", "ls |"])
def test_unsupported_shell_syntax_is_refused_not_run(vshell, line):
    rc, out = vshell.run(line)
    assert rc == 2 and out.startswith(b"sh: ")
    assert vshell.history == []


def test_split_keeps_quoted_operators():
    assert split_command_line("echo 'a;b' \"c&&d\" e\\;f; ls") == [
        ("", ["echo 'a;b' \"c&&d\" e\\;f"]), (";", ["ls"])]
    with pytest.raises(ShellSyntaxError):
        split_command_line("echo a && && echo b")


def test_strings_and_files_follow_the_profile(vshell):
    rc, out = vshell.run("strings /usr/bin/rknn_server")
    assert rc == 0 and out.startswith(b"1.4.0 (bb79b30 build: ") and b"\x7fELF" not in out   # RKNPU1's form
    assert vshell.run("cat /sys/kernel/debug/rknpu/version")[0] == 1  # RKNPU1 has no rknpu debugfs
    vshell.profile.faults.mismatch_versions = True
    assert vshell.run("strings /usr/bin/rknn_server")[1].startswith(b"1.5.0 (bb79b30 build: ")


def test_writes_only_in_scratch_folders(vshell):
    assert vshell.run("mkdir -p /tmp/a/b && ls /tmp/a") == (0, b"b\n")
    rc, out = vshell.run("mkdir -p /usr/lib/x")
    assert rc == 1 and b"Read-only" in out
    rc, out = vshell.run("rm -f /usr/bin/rknn_server")
    assert rc == 1 and vshell.sandbox.host_path("/usr/bin/rknn_server").is_file()
    assert vshell.run("rm -rf /tmp/a; ls /tmp") == (0, b"")


def test_sandbox_refuses_escapes_and_links_out(tmp_path):
    sandbox = Sandbox({}, root=str(tmp_path / "root"))
    with pytest.raises(SandboxError, match="escapes"):
        sandbox.host_path("/tmp/../../etc/passwd")
    assert sandbox.normalise("/data/local/tmp/../../../etc/x") == "/etc/x"  # stays inside: allowed, read-only
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    os.symlink(outside, sandbox.host_path("/tmp/link"))
    with pytest.raises(SandboxError, match="escapes"):
        sandbox.read("/tmp/link")
    with pytest.raises(SandboxError, match="regular files"):
        sandbox.write("/tmp/l2", b"/etc/passwd", 0o120777)


def test_facts_parsers():
    assert chip_from_compatible("rockchip,rk3588s-orangepi-5\0rockchip,rk3588\0") == "rk3588"
    assert chip_from_compatible("vendor,thing\0") is None
    assert F.parse_runtime("nothing here") == (None, False)
    assert F.parse_rknn_server("Transfer version 2.1.0 (b5861e7@2020-11-23T11:50:51)") is None


@pytest.mark.parametrize("text, version, source", V.RKNN_SERVER)
def test_rknn_server_lines_of_the_vendors_binaries(text, version, source):
    assert F.parse_rknn_server(text) == version, source


@pytest.mark.parametrize("text, version, mini, source", V.RUNTIME)
def test_runtime_lines_of_the_vendors_binaries(text, version, mini, source):
    assert F.parse_runtime(text) == (version, mini), source


@pytest.mark.parametrize("text, version, source", V.RKNPU2_DRIVER)
def test_rknpu2_driver_lines(text, version, source):
    assert F.parse_rknpu2_driver(text) == version, source


@pytest.mark.parametrize("text, version, source", V.GALCORE_DMESG)
def test_galcore_lines(text, version, source):
    assert F.parse_galcore(text) == version, source


def test_version_pairs():
    assert server_runtime_mismatch("1.4.0", "1.4.0") is None
    assert server_runtime_mismatch("0.9.8", "1.0.0") is None  # a pair from the guide's table
    assert "does not match" in server_runtime_mismatch("1.3.0", "1.4.0")
    assert server_runtime_mismatch(None, "1.4.0") is None


def test_runner_standalone_with_rknnlite(tmp_path):
    """runner.py on its own (no rknn_diag on the path), with a stand-in rknnlite package."""
    board = tmp_path / "board"
    (board / "rknnlite").mkdir(parents=True)
    (board / "rknnlite" / "__init__.py").write_text("")
    (board / "rknnlite" / "api.py").write_text(
        "import numpy as np\n"
        "class RKNNLite:\n"
        "    def load_rknn(self, path): self.k = float(open(path).read()); return 0\n"
        "    def init_runtime(self): return 0\n"
        "    def inference(self, inputs, data_format='nhwc'):\n"
        "        assert data_format == 'nchw'\n"
        "        return [inputs[0] * self.k, inputs[0] + inputs[1]]\n"
        "    def release(self): pass\n")
    runner_src = Path(__file__).resolve().parents[2] / "rknn_diag" / "board" / "runner.py"
    (board / "runner.py").write_bytes(runner_src.read_bytes())
    (board / "m.rknn").write_text("3")
    a = np.arange(6, dtype=np.float32).reshape(1, 6)
    np.save(board / "in0.npy", a)
    np.save(board / "in1.npy", a)
    # Any import of rknn_diag on the "board" fails loudly: the runner must not need it.
    (board / "rknn_diag").mkdir()
    (board / "rknn_diag" / "__init__.py").write_text("raise ImportError('rknn_diag is not on boards')\n")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(board)}
    done = subprocess.run([sys.executable, "runner.py", "--model", "m.rknn", "--input", "in0.npy",
                           "--input", "in1.npy", "--outdir", "out", "--data-format", "nchw"],
                          cwd=board, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    np.testing.assert_array_equal(np.load(board / "out" / "output0.npy", allow_pickle=False), a * 3)
    np.testing.assert_array_equal(np.load(board / "out" / "output1.npy", allow_pickle=False), a + a)
    result = json.loads((board / "out" / "result.json").read_text())
    assert [o["file"] for o in result["outputs"]] == ["output0.npy", "output1.npy"]
    assert result["latency_ms"] >= 0
    # Bad arguments: usage error, exit 2.
    bad = subprocess.run([sys.executable, "runner.py", "--model", "m.rknn"], cwd=board, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--input" in bad.stderr


def test_missing_adb_fails_with_install_hint(monkeypatch):
    from fixtures.boards import AdbServer
    from tests.conftest import require_adb

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="apt-get install adb"):
        require_adb()
    with pytest.raises(FileNotFoundError, match="apt-get install adb"):
        AdbServer()


def test_the_vendors_device_commands_all_answer(vshell):
    """rknn-toolkit2's init_runtime(device_id=) runs these before it opens rknn_server's socket."""
    for line in V.TOOLKIT2_DEVICE_COMMANDS:
        rc, out = vshell.run(line)
        assert rc == 0, (line, out)
    assert vshell.run("ps -A|grep rknn_server|grep -v grep")[1].split()[-1] == b"rknn_server"
    assert vshell.run("nohup /usr/bin/rknn_server > /tmp/x 2>&1")[0] == 2   # no other redirection
