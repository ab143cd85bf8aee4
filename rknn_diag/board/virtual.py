"""A virtual Rockchip board: the device side of the ADB protocol on loopback.

Start one, `adb connect 127.0.0.1:PORT` it to an adb server, and every adb
client (the `adb` tool, adbutils) sees a board: `shell:` runs whitelisted
commands from `vshell`, `sync:` pushes and pulls files inside a sandbox folder,
`tcp:PORT` forwards to a loopback port. Models sent to the on-board runner are
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
import posixpath
import re
import struct
import threading
from typing import Callable

from . import adbproto as P
from . import runner as board_runner
from .profile import BoardProfile, Faults
from .sandbox import Sandbox, SandboxError
from .vshell import VirtualShell

log = logging.getLogger(__name__)

# model_fn(model_path_on_host, inputs, data_format) -> list of arrays
ModelFn = Callable[[str, list, str], list]

SYNC_DATA_MAX = 64 * 1024
_OUTPUT_FILE = re.compile(r"output\d+\.npy$")


def simulator_model_fn(model_path: str, inputs: list, data_format: str) -> list:
    """Run a model with rknn_diag's own simulator through the vendor-style API."""
    from rknn_diag.api import RKNN  # imported lazily: the board layer does not need it otherwise

    rknn = RKNN()
    try:
        if rknn.load_rknn(model_path) != 0:
            raise RuntimeError(f"load_rknn({posixpath.basename(model_path)}) failed")
        if rknn.init_runtime() != 0:
            raise RuntimeError("init_runtime() failed")
        outputs = rknn.inference(inputs=inputs, data_format=data_format)
        if outputs is None:
            raise RuntimeError("inference() returned None")
        return outputs
    finally:
        rknn.release()


class _Closed(Exception):
    """The host closed the stream."""


class _Stream:
    """One ADB stream (a service instance) on a connection."""

    def __init__(self, conn: "_Connection", local_id: int, remote_id: int):
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.ready = asyncio.Event()   # set when we may send the next WRTE
        self.ready.set()
        self.closed = False
        self._buf = bytearray()
        self._data = asyncio.Event()
        self._eof = False

    def feed(self, data: bytes) -> None:
        self._buf += data
        self._data.set()

    def peer_closed(self) -> None:
        self._eof = True
        self.closed = True
        self._data.set()
        self.ready.set()

    async def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if self._eof:
                raise _Closed()
            self._data.clear()
            await self._data.wait()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def read_some(self) -> bytes:
        while not self._buf:
            if self._eof:
                return b""
            self._data.clear()
            await self._data.wait()
        out = bytes(self._buf)
        self._buf.clear()
        return out

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        step = self.conn.max_payload
        for start in range(0, len(data), step):
            await self.ready.wait()
            if self.closed:
                raise _Closed()
            self.ready.clear()  # the host answers every WRTE with OKAY before the next one
            await self.conn.send(P.A_WRTE, self.local_id, self.remote_id, bytes(view[start:start + step]))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.conn.send(P.A_CLSE, self.local_id, self.remote_id)
        self.conn.streams.pop(self.local_id, None)


class _Connection:
    def __init__(self, board: "VirtualBoard", reader, writer):
        self.board = board
        self.reader = reader
        self.writer = writer
        self.streams: dict[int, _Stream] = {}
        self.tasks: set[asyncio.Task] = set()
        self.max_payload = 4096
        self._next_id = 1

    @property
    def faults(self) -> Faults:
        return self.board.profile.faults

    async def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        if self.faults.delay_s:
            await asyncio.sleep(self.faults.delay_s)
        if (self.faults.hang and command != P.A_CNXN) or self.writer.is_closing():
            return
        self.writer.write(P.pack(command, arg0, arg1, data))
        await self.writer.drain()

    def abort(self) -> None:
        self.writer.transport.abort()

    async def serve(self) -> None:
        try:
            while True:
                command, arg0, arg1, data = await P.read_message(self.reader)
                if self.faults.hang and command != P.A_CNXN:
                    continue  # read and ignore: the board is listed but never answers
                await self._dispatch(command, arg0, arg1, data)
        except (asyncio.IncompleteReadError, ConnectionError, P.ProtocolError) as exc:
            log.debug("virtual board %s: connection ended: %s", self.board.serial, exc)
        finally:
            for stream in list(self.streams.values()):
                stream.peer_closed()
            for task in list(self.tasks):
                task.cancel()
            self.writer.close()

    async def _dispatch(self, command, arg0, arg1, data) -> None:
        if command == P.A_CNXN:
            self.max_payload = max(4096, min(arg1, P.MAX_PAYLOAD))
            await self.send(P.A_CNXN, P.A_VERSION, P.MAX_PAYLOAD, self.board.profile.banner())
        elif command == P.A_OPEN:
            service = data.rstrip(b"\0").decode("utf-8", "replace")
            handler = self.board.service_for(service)
            if handler is None:
                await self.send(P.A_CLSE, 0, arg0)  # open refused
                return
            local_id = self._next_id
            self._next_id += 1
            stream = _Stream(self, local_id, arg0)
            self.streams[local_id] = stream
            await self.send(P.A_OKAY, local_id, arg0)
            task = asyncio.create_task(self._run_service(handler, stream))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif command == P.A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.remote_id = arg0
                stream.ready.set()
        elif command == P.A_WRTE:
            stream = self.streams.get(arg1)
            if stream is None:
                await self.send(P.A_CLSE, arg1, arg0)
                return
            stream.feed(data)
            await self.send(P.A_OKAY, arg1, arg0)
        elif command == P.A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.peer_closed()
        # AUTH/SYNC/STLS and unknown commands: ignored (we never ask for AUTH).

    async def _run_service(self, handler, stream: _Stream) -> None:
        try:
            await handler(stream)
        except _Closed:
            pass
        except Exception:  # a bug in a service must not take the board down
            log.exception("virtual board %s: service failed", self.board.serial)
        finally:
            with contextlib.suppress(Exception):
                await stream.close()


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
        self._connections: set[_Connection] = set()
        self.gone = threading.Event()

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
        conn = _Connection(self, reader, writer)
        self._connections.add(conn)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)

    # -- services -----------------------------------------------------------------------
    def service_for(self, service: str):
        if service.startswith("shell:") and service != "shell:":
            command = service[len("shell:"):]
            return lambda stream: self._shell_service(stream, command)
        if service == "sync:":
            return self._sync_service
        m = re.fullmatch(r"tcp:(\d{1,5})", service)
        if m and 0 < int(m.group(1)) < 65536:
            return lambda stream: self._tcp_service(stream, int(m.group(1)))
        return None  # interactive shells, shell_v2, exec:, reverse: ... are not offered

    async def _shell_service(self, stream: _Stream, command: str) -> None:
        is_runner = "runner.py" in command
        if is_runner:
            if self.faults.hang_on_runner:
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

        def infer(model_path, inputs, data_format):
            return self.model_fn(model_path, inputs, data_format)

        lines: list[str] = []
        status = board_runner.execute(args, infer, log=lines.append)
        text_out = "\n".join(lines) + "\n"
        # Host paths must not leak into what the board prints.
        return status, text_out.replace(str(self.sandbox.root), "").encode()

    async def _sync_service(self, stream: _Stream) -> None:
        while True:
            header = await stream.read_exact(8)
            ident, length = header[:4], struct.unpack("<I", header[4:])[0]
            if ident == b"QUIT":
                return
            if ident not in (b"STAT", b"LIST", b"RECV", b"SEND") or length > 4096:
                await stream.write(_sync_fail(f"unknown sync request {ident!r}"))
                return
            path = (await stream.read_exact(length)).decode("utf-8", "replace")
            if ident == b"STAT":
                mode, size, mtime = self.sandbox.stat(path)
                await stream.write(b"STAT" + struct.pack("<III", mode, size, mtime))
            elif ident == b"LIST":
                await stream.write(self._list_reply(path))
            elif ident == b"RECV":
                await self._sync_recv(stream, path)
            else:
                await self._sync_send(stream, path)

    def _list_reply(self, path: str) -> bytes:
        try:
            entries = self.sandbox.listdir(path)
        except (SandboxError, OSError):
            entries = []
        out = bytearray()
        for name, mode, size, mtime in entries:
            raw = name.encode()
            out += b"DENT" + struct.pack("<IIII", mode, size, mtime, len(raw)) + raw
        return bytes(out + b"DONE" + bytes(16))

    async def _sync_recv(self, stream: _Stream, path: str) -> None:
        try:
            data = self.sandbox.read(path)
        except (SandboxError, OSError) as exc:
            await stream.write(_sync_fail(str(exc)))
            return
        if self.faults.corrupt_outputs and _OUTPUT_FILE.search(path) and data:
            flipped = bytearray(data)
            flipped[-1] ^= 0xFF
            flipped[len(flipped) // 2] ^= 0x55
            data = bytes(flipped)
        sent = 0
        for start in range(0, len(data), SYNC_DATA_MAX):
            chunk = data[start:start + SYNC_DATA_MAX]
            await self._maybe_drop(sent + len(chunk))
            await stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
            sent += len(chunk)
        await stream.write(b"DONE" + struct.pack("<I", 0))

    async def _sync_send(self, stream: _Stream, spec: str) -> None:
        path, _, mode_text = spec.rpartition(",")
        if not path:
            path, mode_text = spec, "33188"
        try:
            mode = int(mode_text)
        except ValueError:
            mode = 0o100644
        received = bytearray()
        while True:
            header = await stream.read_exact(8)
            ident, length = header[:4], struct.unpack("<I", header[4:])[0]
            if ident == b"DATA":
                if length > SYNC_DATA_MAX:
                    await stream.write(_sync_fail(f"DATA chunk of {length} bytes exceeds {SYNC_DATA_MAX}"))
                    return
                received += await stream.read_exact(length)
                await self._maybe_drop(len(received))
            elif ident == b"DONE":
                break
            else:
                await stream.write(_sync_fail(f"unexpected {ident!r} during SEND"))
                return
        try:
            self.sandbox.write(path, bytes(received), mode)
        except (SandboxError, OSError) as exc:
            await stream.write(_sync_fail(str(exc)))
            return
        await stream.write(b"OKAY" + bytes(4))

    async def _maybe_drop(self, transferred: int) -> None:
        limit = self.faults.drop_after_bytes
        if limit is not None and transferred > limit:
            for conn in list(self._connections):
                conn.abort()
            raise _Closed()

    async def _tcp_service(self, stream: _Stream, port: int) -> None:
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


def _sync_fail(message: str) -> bytes:
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw
