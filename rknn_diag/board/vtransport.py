"""The ADB transport on the virtual board's side: one `Connection` per host
connection, one `Stream` per opened service, with the protocol's flow control
(one WRTE in flight per stream, each answered by OKAY)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from . import adbproto as P

log = logging.getLogger(__name__)


class StreamClosed(Exception):
    """The host closed the stream."""


class Stream:
    """One ADB stream (a service instance) on a connection."""

    def __init__(self, conn: "Connection", local_id: int, remote_id: int):
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
                raise StreamClosed()
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
                raise StreamClosed()
            self.ready.clear()  # the host answers every WRTE with OKAY before the next one
            await self.conn.send(P.A_WRTE, self.local_id, self.remote_id, bytes(view[start:start + step]))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.conn.send(P.A_CLSE, self.local_id, self.remote_id)
        self.conn.streams.pop(self.local_id, None)


class Connection:
    def __init__(self, board, reader, writer):  # board: virtual.VirtualBoard
        self.board = board
        self.reader = reader
        self.writer = writer
        self.streams: dict[int, Stream] = {}
        self.tasks: set[asyncio.Task] = set()
        self.max_payload = 4096
        self._next_id = 1

    @property
    def faults(self):
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
            stream = Stream(self, local_id, arg0)
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

    async def _run_service(self, handler, stream: Stream) -> None:
        try:
            await handler(stream)
        except StreamClosed:
            pass
        except Exception:  # a bug in a service must not take the board down
            log.exception("virtual board %s: service failed", self.board.serial)
        finally:
            with contextlib.suppress(Exception):
                await stream.close()
