"""The ADB transport's wire format (AOSP adb protocol.txt), device side.

A message is a 24-byte little-endian header (command, arg0, arg1, payload
length, payload checksum, command ^ 0xffffffff) followed by the payload.
"""

from __future__ import annotations

import asyncio
import struct

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453

NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN",
         A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE", A_STLS: "STLS"}

# 0x01000001: peers may skip payload checksums. We still send correct ones so
# a peer speaking the older 0x01000000 version is served as well.
A_VERSION = 0x01000001
# Largest payload we accept and send (the host answers with its own maximum;
# the smaller one applies).
MAX_PAYLOAD = 256 * 1024

HEADER = struct.Struct("<6I")


class ProtocolError(Exception):
    """A malformed message from the peer."""


def checksum(data: bytes) -> int:
    # The legacy "crc" is the plain byte sum.
    return sum(data) & 0xFFFFFFFF


def pack(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return HEADER.pack(command, arg0, arg1, len(data), checksum(data),
                       command ^ 0xFFFFFFFF) + data


async def read_message(reader: asyncio.StreamReader) -> tuple[int, int, int, bytes]:
    """Read one message; raises asyncio.IncompleteReadError at EOF."""
    header = await reader.readexactly(HEADER.size)
    command, arg0, arg1, length, _check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic 0x{magic:08x} for command 0x{command:08x}")
    if length > 16 * 1024 * 1024:
        raise ProtocolError(f"payload length {length} is implausible")
    data = await reader.readexactly(length) if length else b""
    return command, arg0, arg1, data
