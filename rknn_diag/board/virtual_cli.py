"""`rknn-diag virtual-board`: start a virtual board and attach it to an adb server."""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading

from .chips import RKNPU1_CHIPS, RKNPU2_CHIPS
from .discovery import parse_adb_server
from .profile import BoardProfile, Faults
from .virtual import VirtualBoard


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rknn-diag virtual-board",
        description="Start a virtual Rockchip board that speaks the device side of the adb protocol on "
                    "127.0.0.1, `adb connect` it to an adb server, print its serial and run until "
                    "interrupted (Ctrl-C / SIGTERM disconnects it and exits 0).")
    p.add_argument("--chip", default="rk3588", choices=sorted(RKNPU1_CHIPS | RKNPU2_CHIPS),
                   help="the chip it reports in /proc/device-tree/compatible (default rk3588)")
    p.add_argument("--port", type=int, default=0,
                   help="TCP port on 127.0.0.1 to listen on (default 0: any free port)")
    p.add_argument("--adb-server", default=None, metavar="HOST:PORT",
                   help="adb server to attach to (default 127.0.0.1:5037)")
    p.add_argument("--no-connect", action="store_true",
                   help="only listen; do not run `adb connect`")
    p.add_argument("--arch", default="aarch64", help="what `uname -m` prints (default aarch64)")
    p.add_argument("--os", default="Debian GNU/Linux 11 (bullseye)",
                   help="PRETTY_NAME of /etc/os-release, or 'Android N' for an Android board")
    p.add_argument("--rknn-server-version", default=None,
                   help="rknn_server version it reports (default: the generation's current one)")
    p.add_argument("--runtime-version", default=None,
                   help="librknnrt / librknn_runtime version it reports")
    p.add_argument("--npu-driver-version", default=None,
                   help="NPU driver version (galcore in dmesg on RKNPU1, rknpu debugfs on RKNPU2)")
    p.add_argument("--mini-driver", action="store_true", help="report a mini driver (RV1109/RV1126)")
    p.add_argument("--vendor-runtime", action="store_true",
                   help="do not advertise rknn_diag's simulator as the runtime (act like a real board)")
    p.add_argument("--sandbox", default=None,
                   help="host folder holding the board's files (default: a new temp folder, removed at exit)")
    f = p.add_argument_group("fault injection")
    f.add_argument("--drop-after-bytes", type=int, default=None, metavar="N",
                   help="drop the connection once a push/pull transfer passed N bytes")
    f.add_argument("--hang", action="store_true", help="stop answering anything (connection stays open)")
    f.add_argument("--hang-on-runner", action="store_true",
                   help="never answer the on-board runner command")
    f.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                   help="delay before every packet the board sends")
    f.add_argument("--mismatch-versions", action="store_true",
                   help="report an rknn_server version that does not match the runtime library")
    f.add_argument("--corrupt-outputs", action="store_true",
                   help="flip bytes in output*.npy files when they are pulled")
    f.add_argument("--wrong-results", type=float, default=0.0, metavar="SKEW",
                   help="a firmware bug: scale results by (1 + SKEW), consistently hashed, so only the "
                        "comparison with the simulator finds it")
    f.add_argument("--disappear-after-runs", type=int, default=None, metavar="N",
                   help="after N runner invocations, close the listener and all connections when the next one arrives")
    return p


def adb_command(adb_server: str | None, *args: str) -> list[str]:
    host, port = parse_adb_server(adb_server)
    adb = shutil.which("adb") or "adb"
    cmd = [adb]
    if host not in ("127.0.0.1", "localhost"):
        cmd += ["-H", host]
    if port != 5037:
        cmd += ["-P", str(port)]
    return cmd + list(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    profile = BoardProfile(
        chip=args.chip, arch=args.arch, os=args.os, rknn_server=args.rknn_server_version,
        runtime=args.runtime_version, npu_driver=args.npu_driver_version, mini_driver=args.mini_driver,
        simulator=not args.vendor_runtime,
        faults=Faults(drop_after_bytes=args.drop_after_bytes, hang=args.hang,
                      hang_on_runner=args.hang_on_runner, delay_s=args.delay,
                      mismatch_versions=args.mismatch_versions, corrupt_outputs=args.corrupt_outputs,
                      wrong_results=args.wrong_results,
                      disappear_after_runs=args.disappear_after_runs))
    try:
        board = VirtualBoard(profile, port=args.port, sandbox_root=args.sandbox).start()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if not args.no_connect:
            done = subprocess.run(adb_command(args.adb_server, "connect", board.serial),
                                  capture_output=True, text=True, timeout=30)
            if done.returncode != 0 or "connected to" not in done.stdout:
                print(f"error: `adb connect {board.serial}` failed: {(done.stdout + done.stderr).strip()} "
                      "(is the adb server running? `apt-get install adb`, `adb start-server`)", file=sys.stderr)
                return 1
        print(board.serial, flush=True)
        while not stop.wait(0.2) and not board.gone.is_set():
            pass
        if board.gone.is_set():
            print(f"{board.serial}: the board disappeared (--disappear-after-runs fault)", file=sys.stderr)
    finally:
        if not args.no_connect:
            subprocess.run(adb_command(args.adb_server, "disconnect", board.serial),
                           capture_output=True, text=True, timeout=30)
        board.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
