"""Every board step (shell, push, pull) runs here: with a deadline, with every
shell argument quoted, and with adb's exceptions turned into TargetError /
TargetTimeout that name the board, the step and the cause."""

from __future__ import annotations

import shlex
import socket
import threading
from typing import Any, Callable

from rknn_diag.errors import RknnDiagError, TargetError, TargetTimeout

DEFAULT_STEP_TIMEOUT = 30.0
_FIX_TIMEOUT = ("check the board answers (`adb -s SERIAL shell echo ok`), reboot it if it hangs, "
                "or raise the step timeout for slow links")
_FIX_GONE = "check the cable/network and `adb devices`; reconnect the board (`adb connect HOST:PORT`)"


def run_step(board: str, step: str, fn: Callable[[], Any], timeout: float) -> Any:
    """Run `fn()` in a worker thread and give up after `timeout` seconds.

    A thread, not a signal: adb reads can block in C code and alarms would hit
    whatever thread runs the test. The socket timeout set on the adb client
    makes an abandoned worker finish on its own soon after.
    """
    box: dict[str, Any] = {}

    def work():
        try:
            box["value"] = fn()
        except BaseException as exc:  # carried to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"board-step-{step}", daemon=True)
    worker.start()
    worker.join(timeout)
    where = f"board {board}, step {step}"
    if worker.is_alive():
        raise TargetTimeout(f"board {board}: step '{step}' timed out after {timeout:g} s",
                            where=where, fix=_FIX_TIMEOUT)
    if "error" in box:
        raise translate(box["error"], board, step) from box["error"]
    return box.get("value")


def translate(exc: BaseException, board: str, step: str) -> BaseException:
    """adb/socket exceptions as TargetError/TargetTimeout; our own errors pass through."""
    if isinstance(exc, RknnDiagError):
        return exc
    where = f"board {board}, step {step}"
    cause = f"{type(exc).__name__}: {exc}".rstrip(": ")
    try:
        from adbutils import AdbTimeout
    except ImportError:  # pragma: no cover - adbutils is required to get here
        AdbTimeout = ()  # type: ignore[assignment]
    if isinstance(exc, (socket.timeout, TimeoutError)) or (AdbTimeout and isinstance(exc, AdbTimeout)):
        return TargetTimeout(f"board {board}: step '{step}' timed out waiting for the board ({cause})",
                             where=where, fix=_FIX_TIMEOUT)
    text = str(exc).lower()
    if not text.strip():
        # adbutils raises a bare AdbError when the stream ends early (e.g. a sync
        # reply cut off because the board dropped the connection).
        cause = f"{type(exc).__name__} with no message: the stream ended early"
        return TargetError(f"board {board}: connection lost during step '{step}' ({cause})",
                           where=where, fix=_FIX_GONE)
    if ("not found" in text and "device" in text) or "offline" in text:
        return TargetError(f"board {board} is gone during step '{step}' ({cause})", where=where, fix=_FIX_GONE)
    if isinstance(exc, (ConnectionError, EOFError)) or "closed" in text or "connection" in text:
        return TargetError(f"board {board}: connection lost during step '{step}' ({cause})",
                           where=where, fix=_FIX_GONE)
    return TargetError(f"board {board}: step '{step}' failed ({cause})", where=where,
                       fix="see the cause; rerun with the board checked by `rknn-doctor`")


def quote_command(argv: list[str]) -> str:
    """One shell command line with every argument quoted for the board's sh."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def shell(device, argv: list[str], *, step: str | None = None,
          timeout: float = DEFAULT_STEP_TIMEOUT) -> tuple[int, str]:
    """Run `argv` on the board; (exit code, output with stderr merged)."""
    command = quote_command(argv)
    step = step or f"shell {argv[0]}"

    def call():
        result = device.shell2(command, timeout=timeout)
        return result.returncode, result.output

    return run_step(device.serial, step, call, timeout)
