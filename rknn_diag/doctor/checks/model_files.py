"""The --model files themselves: present, of a kind the doctor reads; TF Lite schema (§1.3.1 note 2)."""

from __future__ import annotations

import os
import struct

from ..core import check, error, ok, skip, warn
from ..modelinfo import KINDS, kind, models_of
from ..tables_frameworks import TFLITE_SCHEMA_VERSION


@check("model.files", "models", "1.3.5", "every --model exists and is of a kind the doctor reads")
def files(ctx):
    if not ctx.models:
        return skip("no --model given")
    out = []
    for p in ctx.models:
        if not p.is_file():
            out.append(error(f"{p} does not exist", "check the path given with --model"))
        elif kind(p) is None:
            out.append(warn(f"{p.name}: '{p.suffix}' models are not checked (only {', '.join(sorted(KINDS))})",
                            "convert to ONNX to get the model and performance checks"))
        else:
            out.append(ok(f"{p.name}: {kind(p)} model"))
    return out


def tflite_schema(data: bytes) -> tuple[bytes, int | None]:
    """(file identifier, Model.version) of a TF Lite flatbuffer, read from its root table.
    `data`: bytes, or a `_FileBytes` that reads only the few bytes asked for."""
    if len(data) < 8:
        raise ValueError("shorter than a flatbuffer header")
    ident = data[4:8]
    (root,) = struct.unpack("<I", data[0:4])
    (vt_back,) = struct.unpack("<i", data[root:root + 4])
    vtable = root - vt_back
    (vt_size,) = struct.unpack("<H", data[vtable:vtable + 2])
    if vt_size < 6:           # no slot for field 0 (Model.version)
        return ident, None
    (off,) = struct.unpack("<H", data[vtable + 4:vtable + 4 + 2])
    if off == 0:
        return ident, None
    (version,) = struct.unpack("<I", data[root + off:root + off + 4])
    return ident, version


class _FileBytes:
    """A file seen as bytes, read slice by slice with pread: a 2 GB model costs a few bytes."""

    def __init__(self, fd: int):
        self.fd, self.size = fd, os.fstat(fd).st_size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, s: slice) -> bytes:
        start, stop, _ = s.indices(self.size)
        return os.pread(self.fd, max(stop - start, 0), start) if start >= 0 else b""


@check("model.tflite.schema", "models", "1.3.1 note 2", "TF Lite models of the schema version the toolkit reads")
def tflite(ctx):
    paths = models_of(ctx, "tflite")
    if not paths:
        return skip("no .tflite --model given")
    out = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                ident, version = tflite_schema(_FileBytes(f.fileno()))
        except (ValueError, struct.error) as e:
            out.append(error(f"{p.name}: not a TF Lite flatbuffer ({e})", "export the model again with TFLiteConverter"))
            continue
        want = TFLITE_SCHEMA_VERSION
        if ident == f"TFL{want}".encode() and version in (None, want):
            out.append(ok(f"{p.name}: TF Lite schema version {want}"))
        else:
            out.append(error(f"{p.name}: identifier {ident!r}, schema version {version}; the toolkit reads schema "
                             f"version {want} only", "convert with a TensorFlow whose TF Lite schema is version "
                             f"{want}, or convert the original model instead"))
    return out
