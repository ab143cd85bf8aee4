"""The virtual board behind the real adb server: listing, facts, transfers, quoting, sandbox."""

import os
import subprocess
import sys

import adbutils
import numpy as np
import pytest

from fixtures.boards import attached_board
from rknn_diag.board import discovery
from rknn_diag.board.facts import read_board_facts
from rknn_diag.board.steps import shell
from rknn_diag.errors import TargetError
from rknn_diag.targets.board import BoardTarget


def test_two_boards_listed_by_adb_and_adbutils(adb_server):
    with attached_board(adb_server, "rk1808") as b1, attached_board(adb_server, "rk3588") as b2:
        listing = adb_server.run("devices", "-l").stdout
        lines = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
        assert "device" in lines[b1.serial].split()
        assert "model:RK1808_VIRTUAL" in lines[b1.serial]
        assert "device:rk3588" in lines[b2.serial]
        adb_devices, ntb_devices = discovery.list_devices(adb_server.address)
        assert {b1.serial, b2.serial} <= set(adb_devices)
        assert ntb_devices == []
        client = adbutils.AdbClient(host="127.0.0.1", port=adb_server.port)
        assert {b1.serial, b2.serial} <= {d.serial for d in client.device_list()}


@pytest.mark.parametrize("chip, extra, expect", [
    ("rk1808", {"npu_driver": "6.4.0.227915", "rknn_server": "1.3.0", "runtime": "1.3.0"},
     {"generation": "rknpu1", "npu_driver": "6.4.0.227915", "rknn_server": "1.3.0", "runtime": "1.3.0",
      "mini_driver": False}),
    ("rv1126", {"mini_driver": True, "runtime": "1.4.0", "rknn_server": "1.4.0"},
     {"generation": "rknpu1", "mini_driver": True, "runtime": "1.4.0"}),
    ("rv1106", {"mini_driver": True, "runtime": "1.5.2", "rknn_server": "1.5.2", "npu_driver": "0.9.2"},
     {"generation": "rknpu2", "mini_driver": True, "runtime": "1.5.2", "npu_driver": "0.9.2"}),
    ("rk3588", {"npu_driver": "0.9.6", "rknn_server": "2.1.0", "runtime": "2.1.0", "os": "Android 12"},
     {"generation": "rknpu2", "npu_driver": "0.9.6", "rknn_server": "2.1.0", "runtime": "2.1.0",
      "os": "Android 12", "mini_driver": False}),
])
def test_board_facts(adb_server, chip, extra, expect):
    with attached_board(adb_server, chip, arch="armv7l", **extra) as board:
        device = discovery.connect(board.serial, adb_server.address)
        facts = read_board_facts(device, timeout=10)
    assert facts["serial"] == board.serial
    assert facts["chip"] == chip
    assert facts["arch"] == "armv7l"
    assert facts["simulator"] is True
    assert facts["rknn_server_running"] is True
    for key, value in expect.items():
        assert facts[key] == value, key
    if "os" not in expect:
        assert facts["os"] == "Debian GNU/Linux 11 (bullseye)"


def test_facts_of_a_board_without_the_simulator_marker(adb_server):
    with attached_board(adb_server, "rk3566", simulator=False) as board:
        facts = read_board_facts(discovery.connect(board.serial, adb_server.address), timeout=10)
    assert facts["simulator"] is False and facts["generation"] == "rknpu2"


@pytest.fixture
def target(adb_server, lock_dir):
    with attached_board(adb_server, "rk3588") as board:
        t = BoardTarget(board.serial, adb_server.address, lock_dir=lock_dir, step_timeout=10)
        yield board, t
        t.close()


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 + 1, 1024 * 1024])
def test_push_pull_byte_exact(target, tmp_path, size):
    board, t = target
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    t._push(src, "/tmp/rknn_diag/x/data.bin", "push test")
    assert board.sandbox.host_path("/tmp/rknn_diag/x/data.bin").read_bytes() == data
    t._pull("/tmp/rknn_diag/x/data.bin", back, "pull test")
    assert back.read_bytes() == data


def test_adb_tool_push_pull_byte_exact(adb_server, tmp_path):
    data = os.urandom(300_001)
    (tmp_path / "a.bin").write_bytes(data)
    with attached_board(adb_server, "rk3568") as board:
        pushed = adb_server.run("-s", board.serial, "push", str(tmp_path / "a.bin"), "/data/local/tmp/a.bin")
        assert pushed.returncode == 0, pushed.stderr
        pulled = adb_server.run("-s", board.serial, "pull", "/data/local/tmp/a.bin", str(tmp_path / "b.bin"))
        assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "b.bin").read_bytes() == data


def test_shell_argument_quoting(target):
    board, t = target
    nasty = """a b;c 'd" $(rm -rf /) && echo pwned | cat > /tmp/x `id` $HOME"""
    rc, out = shell(t.device, ["echo", nasty], timeout=10)
    assert rc == 0
    assert out == nasty + "\n"
    assert ["echo", nasty] in board.shell.history
    assert not any(argv[0] in ("rm", "cat", "id") for argv in board.shell.history)


def test_unknown_command_answers_like_a_shell(target):
    board, t = target
    rc, out = shell(t.device, ["gcc", "--version"], timeout=10)
    assert rc == 127 and out == "sh: gcc: not found\n"
    rc, out = shell(t.device, ["ls", "/nonexistent"], timeout=10)
    assert rc != 0 and "No such file" in out


def test_sandbox_escape_refused(target, tmp_path):
    board, t = target
    marker = tmp_path / "escaped.txt"
    src = tmp_path / "payload.txt"
    src.write_text("payload")
    escape = "/tmp/" + "../" * 12 + str(marker).lstrip("/")
    with pytest.raises(TargetError) as err:
        t._push(src, escape, "push escape")
    assert board.serial in str(err.value)
    assert not marker.exists()
    # A path that stays inside the board but outside its scratch folders is read-only.
    with pytest.raises(TargetError):
        t._push(src, "/data/local/tmp/../../../usr/bin/rknn_server", "push over rknn_server")
    assert b"rknn_server version" in board.sandbox.host_path("/usr/bin/rknn_server").read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    rc, out = shell(t.device, ["cat", "/" + "../" * 12 + str(secret).lstrip("/")], timeout=10)
    assert rc != 0 and "host secret" not in out and "escapes" in out
    rc, out = shell(t.device, ["rm", "-rf", "/tmp/../../.."], timeout=10)
    assert rc != 0 and board.sandbox.root.is_dir()


def test_tcp_forward_to_loopback_port(target):
    import socket
    import threading

    board, t = target
    listener = socket.create_server(("127.0.0.1", 0))
    remote_port = listener.getsockname()[1]

    def echo_once():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(1024).upper())

    threading.Thread(target=echo_once, daemon=True).start()
    board.add_tcp_service(remote_port)
    local_port = t.device.forward_port(remote_port)
    with socket.create_connection(("127.0.0.1", local_port), timeout=10) as s:
        s.sendall(b"hello board")
        assert s.recv(1024) == b"HELLO BOARD"
    listener.close()


def test_tcp_forward_refuses_host_ports_that_are_not_the_boards(target):
    """A host loopback service the board was not given stays unreachable through adb forward."""
    import socket

    board, t = target
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(2)
    local_port = t.device.forward_port(listener.getsockname()[1])
    with socket.create_connection(("127.0.0.1", local_port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(10)
        assert s.recv(1024) == b""          # the forward is closed at once
    with pytest.raises(socket.timeout):
        listener.accept()                   # and nothing ever reached the host's service
    listener.close()


def test_cli_starts_lists_and_stops_on_sigterm(adb_server):
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "rknn_diag.cli", "virtual-board", "--chip", "rk1808",
                             "--adb-server", adb_server.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        serial = proc.stdout.readline().strip()
        assert serial.startswith("127.0.0.1:"), proc.stderr.read() if not serial else serial
        assert serial in discovery.list_devices(adb_server.address)[0]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert serial not in discovery.list_devices(adb_server.address)[0]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_options_reach_the_board(adb_server):
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "rknn_diag.cli", "virtual-board", "--chip", "rk3566",
                             "--adb-server", adb_server.address, "--os", "Android 12",
                             "--rknn-server-version", "2.0.0", "--runtime-version", "2.0.0",
                             "--npu-driver-version", "0.9.3", "--mismatch-versions"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        serial = proc.stdout.readline().strip()
        assert serial.startswith("127.0.0.1:"), proc.stderr.read()
        facts = read_board_facts(discovery.connect(serial, adb_server.address), timeout=10)
        assert (facts["chip"], facts["os"], facts["npu_driver"]) == ("rk3566", "Android 12", "0.9.3")
        assert facts["runtime"] == "2.0.0" and facts["rknn_server"] not in (None, "2.0.0")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_help_documents_every_option():
    from rknn_diag.board.virtual_cli import build_parser

    for action in build_parser()._actions:
        assert action.help, action.dest
