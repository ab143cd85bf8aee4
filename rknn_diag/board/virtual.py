"""A virtual Rockchip board: the device side of the ADB protocol on loopback.

Start one, `adb connect 127.0.0.1:PORT` it to an adb server, and every adb
client (the `adb` tool, adbutils) sees a board: `shell:` runs whitelisted
commands from `vshell`, `sync:` pushes and pulls files inside a sandbox folder,
`tcp:PORT` reaches a service the board was given with `add_tcp_service` (and nothing
else on the host: an adb client must not become a way into the host's loopback). Models sent to the on-board runner are
run in-process by a pluggable model function (default: rknn_diag's simulator).
Faults (`profile.Faults`) can be switched on and off while it runs.

The event loop lives in a background thread; `start()` returns once the port
is bound, `stop()` closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import threading
from typing import Callable

import numpy as np

from . import runner as board_runner
from .profile import BoardProfile, Faults
from .sandbox import Sandbox, SandboxError
from .vshell import VirtualShell
from .vsync import SYNC_DATA_MAX, SyncService
from .vtransport import Connection, Stream

log = logging.getLogger(__name__)

# model_fn(model_path_on_host, inputs, data_format) -> list of arrays
ModelFn = Callable[[str, list, str], list]


def simulator_model_fn(model_path: str, inputs: list, data_format: str, inputs_pass_through=None) -> list:
    """Run a model with rknn_diag's own simulator (the pipeline behind the vendor-style API); a
    vendor-built .rknn runs as its recorded twin on rknn-toolkit2's simulator (`vtwin`)."""
    from rknn_diag.pipeline import Toolchain  # imported lazily: the board layer does not need it otherwise
    from . import vtwin

    if vtwin.is_vendor_file(model_path):
        if inputs_pass_through and any(inputs_pass_through):
            raise RuntimeError("inputs_pass_through: not available for a vendor-built model's twin")
        return vtwin.run_twin(model_path, inputs, data_format)

    return board_runner.infer_with(Toolchain(), model_path, inputs, data_format, inputs_pass_through)


class VirtualBoard:
    """A virtual board bound to 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(self, profile: BoardProfile | None = None, *, port: int = 0,
                 model_fn: ModelFn | None = None, sandbox_root: str | None = None):
        self.profile = profile or BoardProfile()
        self.model_fn = model_fn or simulator_model_fn
        self.sandbox = Sandbox(self.profile.files(), sandbox_root)
        self.shell = VirtualShell(self.profile, self.sandbox, runner=self._run_runner)
        self.runs = 0
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[Connection] = set()
        self.gone = threading.Event()
        self.tcp_services: dict[int, int] = {}   # board port -> host loopback port it stands for
        self.services: list[str] = []             # every adb service asked for, for tests and logs

    def add_tcp_service(self, board_port: int, host_port: int | None = None) -> None:
        """Offer `tcp:board_port` (adb forward), served by the host's 127.0.0.1:host_port (default
        the same number): a service of this board, such as a stand-in for rknn_server."""
        if not 0 < board_port < 65536 or not 0 < (host_port or board_port) < 65536:
            raise ValueError(f"port out of range: {board_port} -> {host_port}")
        self.tcp_services[board_port] = host_port or board_port

    # -- lifecycle --------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def faults(self) -> Faults:
        return self.profile.faults

    def start(self) -> "VirtualBoard":
        started = threading.Event()
        failure: list[BaseException] = []

        def main():
            self._loop = asyncio.new_event_loop()
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._on_connect, host="127.0.0.1", port=self._port))
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, name=f"virtual-board-{self.profile.chip}", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise OSError(f"virtual board cannot listen on 127.0.0.1:{self._port}: {failure[0]}")
        return self

    def vanish(self) -> None:
        """Close the listener and every connection, as if the board were unplugged."""
        if self._loop is not None and self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._vanish(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=5)

    def drop_connections(self) -> None:
        """Cut every host connection at once (called on the board's event loop)."""
        for conn in list(self._connections):
            conn.abort()

    async def _vanish(self) -> None:
        self.gone.set()
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self.vanish()
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sandbox.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    async def _on_connect(self, reader, writer) -> None:
        if self.gone.is_set():
            writer.transport.abort()
            return
        conn = Connection(self, reader, writer)
        self._connections.add(conn)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)

    # -- services -----------------------------------------------------------------------
    def service_for(self, service: str):
        self.services.append(service)
        if service.startswith("shell:") and service != "shell:":
            command = service[len("shell:"):]
            return lambda stream: self._shell_service(stream, command)
        if service == "sync:":
            return SyncService(self).serve
        m = re.fullmatch(r"tcp:(\d{1,5})", service)
        if m and int(m.group(1)) in self.tcp_services:
            return lambda stream: self._tcp_service(stream, self.tcp_services[int(m.group(1))])
        return None  # interactive shells, shell_v2, exec:, reverse: ... are not offered

    async def _shell_service(self, stream: Stream, command: str) -> None:
        is_runner = "runner.py" in command
        if is_runner:
            if self.faults.hang_after_runs is not None and self.runs >= self.faults.hang_after_runs:
                self.faults.hang = True       # N cases ran; now the whole board hangs
            if self.faults.hang_on_runner or self.faults.hang:
                await asyncio.Event().wait()  # never answers; cancelled when the connection ends
            limit = self.faults.disappear_after_runs
            if limit is not None and self.runs >= limit:
                # N cases ran; the next one finds the board unplugged.
                await self._vanish()
                return
        loop = asyncio.get_running_loop()
        _status, output = await loop.run_in_executor(None, self.shell.run, command)
        await stream.write(output)
        await stream.close()

    def _run_runner(self, argv: list[str]) -> tuple[int, bytes]:
        """Run the on-board runner's command line in-process with `model_fn`."""
        text = io.StringIO()
        parser = board_runner.build_parser()
        parser.exit = _raise_usage  # type: ignore[method-assign]
        try:
            with contextlib.redirect_stderr(text):
                args = parser.parse_args(argv[1:])
        except _Usage as exc:
            return exc.status, (text.getvalue() + str(exc)).encode()
        try:
            args.model = str(self.sandbox.host_path(args.model))
            args.input = [str(self.sandbox.host_path(p)) for p in args.input]
            args.outdir = str(self.sandbox.writable_host_path(args.outdir))
        except SandboxError as exc:
            return 2, f"runner: {exc}\n".encode()
        self.runs += 1

        def infer(model_path, inputs, data_format, *passed):
            outputs = self.model_fn(model_path, inputs, data_format, *passed)
            skew = self.faults.wrong_results
            if skew and outputs is not None:
                outputs = [o * np.asarray(1 + skew, o.dtype) if o.dtype.kind == "f" else o for o in outputs]
            return outputs

        lines: list[str] = []
        status = board_runner.execute(args, infer, log=lines.append)
        text_out = "\n".join(lines) + "\n"
        # Host paths must not leak into what the board prints.
        return status, text_out.replace(str(self.sandbox.root), "").encode()

    async def _tcp_service(self, stream: Stream, port: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return  # stream closes: the host sees the forward fail

        async def upstream():
            while data := await stream.read_some():
                writer.write(data)
                await writer.drain()
            writer.write_eof() if writer.can_write_eof() else None

        pump = asyncio.create_task(upstream())
        try:
            while data := await reader.read(SYNC_DATA_MAX):
                await stream.write(data)
        finally:
            pump.cancel()
            writer.close()


class _Usage(Exception):
    def __init__(self, status, message):
        super().__init__(message or "")
        self.status = status


def _raise_usage(status=0, message=None):
    raise _Usage(status, message)

