"""Finding boards: the adb server to ask, the boards it lists, one board's handle.

`adb_server` is "host:port" (a rack host's adb server) or None for the local
server (127.0.0.1:5037, or $ANDROID_ADB_SERVER_PORT as adb itself honours).
"""

from __future__ import annotations

import os
import socket

from rknn_diag.errors import TargetError, TargetTimeout

DEFAULT_TIMEOUT = 10.0


def parse_adb_server(adb_server: str | None) -> tuple[str, int]:
    if not adb_server:
        return "127.0.0.1", int(os.environ.get("ANDROID_ADB_SERVER_PORT", 5037))
    host, sep, port = adb_server.rpartition(":")
    if not sep:
        host, port = adb_server, "5037"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TargetError(f"adb server address {adb_server!r} is not host:port",
                          where="adb_server", fix="give it as HOST:PORT, e.g. 127.0.0.1:5037")
    return host, int(port)


def server_text(adb_server: str | None) -> str:
    host, port = parse_adb_server(adb_server)
    return f"{host}:{port}"


def client(adb_server: str | None = None, timeout: float = DEFAULT_TIMEOUT):
    """An adbutils client for a server that is known to answer.

    Checked with a plain socket first: adbutils would otherwise start a local
    adb server on the default port when it cannot connect, which is the wrong
    server for a rack host and disturbs other users of this machine.
    """
    import adbutils  # optional dependency (rknn_diag[board])

    host, port = parse_adb_server(adb_server)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.timeout:
        raise TargetTimeout(f"adb server at {host}:{port} did not answer within {timeout:g} s",
                            where=f"adb server {host}:{port}",
                            fix="check the rack host is up and its adb server listens there") from None
    except OSError as exc:
        raise TargetError(f"cannot reach the adb server at {host}:{port}: {exc.strerror or exc}",
                          where=f"adb server {host}:{port}",
                          fix="start it with `adb start-server` (or `adb -P PORT start-server`), "
                              "or give the right --adb-server HOST:PORT", ref="1.7.2") from None
    return adbutils.AdbClient(host=host, port=port, socket_timeout=timeout)


def list_devices(adb_server: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> tuple[list[str], list[str]]:
    """(adb_devices, ntb_devices), like the vendor's `RKNN.list_devices()`.

    adb_devices: serials the adb server lists in state "device".
    ntb_devices: always empty here. NTB is RK1808's USB "compute stick" mode,
    reached through the vendor's `npu_transfer_proxy` and its USB rules
    (guide §1.7.2 items 4-6); this harness talks to boards only through adb.
    """
    import adbutils

    c = client(adb_server, timeout)
    try:
        infos = c.list()
    except adbutils.AdbTimeout as exc:
        raise TargetTimeout(f"adb server at {server_text(adb_server)} timed out listing devices: {exc}",
                            where=f"adb server {server_text(adb_server)}") from None
    except (adbutils.AdbError, OSError) as exc:
        raise TargetError(f"adb server at {server_text(adb_server)} failed to list devices: {exc}",
                          where=f"adb server {server_text(adb_server)}",
                          fix="restart it with `adb kill-server; adb start-server`") from None
    return [i.serial for i in infos if i.state == "device"], []


def connect(serial: str, adb_server: str | None = None, timeout: float = DEFAULT_TIMEOUT):
    """The adbutils device for `serial`, after checking the server lists it as ready."""
    import adbutils

    c = client(adb_server, timeout)
    try:
        states = {i.serial: i.state for i in c.list()}
    except (adbutils.AdbError, OSError) as exc:
        raise TargetError(f"adb server at {server_text(adb_server)} failed to list devices: {exc}",
                          where=f"board {serial}") from None
    state = states.get(serial)
    if state != "device":
        seen = ", ".join(f"{s} ({st})" for s, st in sorted(states.items())) or "none"
        why = "is not listed" if state is None else f"is {state}"
        raise TargetError(f"board {serial} {why} on adb server {server_text(adb_server)}; listed: {seen}",
                          where=f"board {serial}",
                          fix="check `adb devices`; for a network board run `adb connect HOST:PORT`; "
                              "for an offline one, reconnect it or restart adbd on it", ref="1.7.2")
    return c.device(serial)
