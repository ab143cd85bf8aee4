"""The `sync:` service (AOSP SYNC.TXT, version 1): STAT, LIST, RECV, SEND, QUIT
on the board's sandbox, with the transfer faults (drop mid-transfer, damaged
output files)."""

from __future__ import annotations

import re
import struct

from .sandbox import SandboxError
from .vtransport import Stream, StreamClosed

SYNC_DATA_MAX = 64 * 1024
_OUTPUT_FILE = re.compile(r"output\d+\.npy$")


class SyncService:
    def __init__(self, board):
        self.board = board
        self.sandbox = board.sandbox

    @property
    def faults(self):
        return self.board.profile.faults

    async def serve(self, stream: Stream) -> None:
        while True:
            header = await stream.read_exact(8)
            ident, length = header[:4], struct.unpack("<I", header[4:])[0]
            if ident == b"QUIT":
                return
            if ident not in (b"STAT", b"LIST", b"RECV", b"SEND") or length > 4096:
                await stream.write(sync_fail(f"unknown sync request {ident!r}"))
                return
            path = (await stream.read_exact(length)).decode("utf-8", "replace")
            if ident == b"STAT":
                mode, size, mtime = self.sandbox.stat(path)
                await stream.write(b"STAT" + struct.pack("<III", mode, size, mtime))
            elif ident == b"LIST":
                await stream.write(self.list_reply(path))
            elif ident == b"RECV":
                await self.recv(stream, path)
            else:
                await self.send(stream, path)

    def list_reply(self, path: str) -> bytes:
        try:
            entries = self.sandbox.listdir(path)
        except (SandboxError, OSError):
            entries = []
        out = bytearray()
        for name, mode, size, mtime in entries:
            raw = name.encode()
            out += b"DENT" + struct.pack("<IIII", mode, size, mtime, len(raw)) + raw
        return bytes(out + b"DONE" + bytes(16))

    async def recv(self, stream: Stream, path: str) -> None:
        try:
            data = self.sandbox.read(path)
        except (SandboxError, OSError) as exc:
            await stream.write(sync_fail(str(exc)))
            return
        if self.faults.corrupt_outputs and _OUTPUT_FILE.search(path) and data:
            flipped = bytearray(data)
            flipped[-1] ^= 0xFF
            flipped[len(flipped) // 2] ^= 0x55
            data = bytes(flipped)
        sent = 0
        for start in range(0, len(data), SYNC_DATA_MAX):
            chunk = data[start:start + SYNC_DATA_MAX]
            await self.maybe_drop(sent + len(chunk))
            await stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
            sent += len(chunk)
        await stream.write(b"DONE" + struct.pack("<I", 0))

    async def send(self, stream: Stream, spec: str) -> None:
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
                    await stream.write(sync_fail(f"DATA chunk of {length} bytes exceeds {SYNC_DATA_MAX}"))
                    return
                received += await stream.read_exact(length)
                await self.maybe_drop(len(received))
            elif ident == b"DONE":
                break
            else:
                await stream.write(sync_fail(f"unexpected {ident!r} during SEND"))
                return
        try:
            self.sandbox.write(path, bytes(received), mode)
        except (SandboxError, OSError) as exc:
            await stream.write(sync_fail(str(exc)))
            return
        await stream.write(b"OKAY" + bytes(4))

    async def maybe_drop(self, transferred: int) -> None:
        limit = self.faults.drop_after_bytes
        if limit is not None and transferred > limit:
            self.board.drop_connections()
            raise StreamClosed()


def sync_fail(message: str) -> bytes:
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw
