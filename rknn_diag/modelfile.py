"""The project's own model file: versioned, checksummed, no pickle anywhere.

Layout (little endian):
    MAGIC (8 bytes) | format version (u32) | header length (u64) | header (UTF-8 JSON)
    | tensor payload (raw bytes, each tensor at its recorded offset) | SHA-256 of all before (32 bytes)

The header records the toolkit version, target platform, every config/build
parameter, the graph and a table of tensors (name, dtype, shape, offset, size).
Tensors are raw numpy bytes of plain (non-object) dtypes only. Any truncation,
flipped byte, foreign or future-version file is refused with `ModelInvalidError`
(RKNN_ERR_MODEL_INVALID, guide §1.7.1).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import limits
from .config import RknnConfig
from .errors import ModelInvalidError, RknnDiagError
from .fileio import atomic_write
from .graph_check import check_graph
from .ir import Graph, Node, PostOp, Value
from .model import BuiltModel
from .qrules import roles

MAGIC = b"RKDIAG\x00\x01"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_DIGEST = 32
_ALLOWED_KINDS = "biuf"   # bool, signed, unsigned, float: never object/void


class _Tensors:
    """Collects arrays into one payload while the header is being written."""

    def __init__(self):
        self.table: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, arr: np.ndarray) -> int:
        arr = np.asarray(arr).copy(order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"cannot store dtype {arr.dtype} in a model file")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        self.table.append({"dtype": arr.dtype.str.replace(">", "<"), "shape": list(arr.shape),
                           "offset": self.size, "nbytes": len(data)})
        self.chunks.append(data)
        self.size += len(data)
        return len(self.table) - 1


def _enc(value: Any, t: _Tensors) -> Any:
    """JSON form of attribute values; arrays become {"__tensor__": index}."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return {"__tensor__": t.add(np.asarray(value))}
    if isinstance(value, (list, tuple)):
        return [_enc(v, t) for v in value]
    if isinstance(value, dict):
        return {k: _enc(v, t) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _dec(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return arrays[value["__tensor__"]]
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _dec(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_dec(v, arrays) for v in value]
    return value


def _value(v: Value) -> dict:
    return {"name": v.name, "shape": list(v.shape) if v.shape is not None else None,
            "dtype": np.dtype(v.dtype).str if v.dtype is not None else None}


def dumps(model: BuiltModel) -> bytes:
    t = _Tensors()
    g = model.graph
    header = {
        "toolkit": "rknn_diag", "toolkit_version": model.toolkit_version, "created": model.created,
        "target_platform": model.target_platform, "mode": model.mode, "rknn_batch_size": model.rknn_batch_size,
        "config": _enc(model.config.to_dict(), t), "build": _enc(model.build, t), "quant": _enc(model.quant, t),
        "graph": {
            "name": g.name, "opset": g.opset,
            "inputs": [_value(v) for v in g.inputs], "outputs": [_value(v) for v in g.outputs],
            "constants": {k: _enc(v, t) for k, v in sorted(g.constants.items())},
            "nodes": [{"op": n.op_type, "name": n.name, "inputs": n.inputs, "outputs": n.outputs,
                       "attrs": _enc(n.attrs, t), "source": n.source,
                       "post_ops": [{"op": p.op_type, "attrs": _enc(p.attrs, t), "inputs": _enc(p.inputs, t)}
                                    for p in n.post_ops]} for n in g.nodes],
            "meta": _enc({k: v for k, v in g.meta.items() if k != "shapes"}, t),
        },
    }
    header["tensors"] = t.table
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)) + head + b"".join(t.chunks)
    return body + hashlib.sha256(body).digest()


def save(model: BuiltModel, path: str | os.PathLike) -> None:
    """Write atomically: a crash mid-write never leaves a half file under `path`."""
    atomic_write(path, dumps(model), what="model file")


def _invalid(msg: str, where: str, fix: str = "rebuild and re-export the model") -> ModelInvalidError:
    return ModelInvalidError(msg, where=where, fix=fix, ref="1.7.1")


def loads(data: bytes, where: str = "<bytes>") -> BuiltModel:
    if len(data) == 0:
        raise _invalid("the model file is empty", where)
    if len(data) < _PREFIX.size + _DIGEST:
        raise _invalid(f"the model file is truncated ({len(data)} bytes)", where)
    magic, version, head_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        if data[:4] == b"RKNN":
            raise _invalid("this is a vendor RKNN model file, not an rknn_diag one", where,
                           fix="run it with the vendor toolkit (target toolkit2) or on a board")
        raise _invalid("not an rknn_diag model file (bad magic)", where, fix="export it with export_rknn()")
    if version < 1:
        raise _invalid(f"model file format {version} does not exist (formats start at 1)", where)
    if version > FORMAT_VERSION:
        raise _invalid(f"model file format {version} is newer than this toolkit reads ({FORMAT_VERSION})", where,
                       fix="upgrade rknn_diag, or re-export the model with this version")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise _invalid("checksum mismatch: the file is truncated or corrupted", where)
    if _PREFIX.size + head_len > len(body):
        raise _invalid("header length runs past the end of the file", where)
    try:
        header = json.loads(body[_PREFIX.size:_PREFIX.size + head_len].decode("utf-8"),
                            object_pairs_hook=_no_duplicate_keys)
        payload = memoryview(body)[_PREFIX.size + head_len:]
        arrays = [_array(spec, payload) for spec in header["tensors"]]
        model = _model(header, arrays)
    except ModelInvalidError:
        raise
    except Exception as e:  # a well-checksummed but inconsistent file: a writer bug or a forgery
        raise _invalid(f"the model file is inconsistent ({type(e).__name__}: {e})", where) from None
    _check_model(model, where)
    return model


def _no_duplicate_keys(pairs: list) -> dict:
    """JSON allows a key twice (last wins); a header that says two things is refused."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"header key '{k}' appears twice")
        out[k] = v
    return out


def _check_model(model: BuiltModel, where: str) -> None:
    """What the checksum cannot vouch for (anyone can recompute it): the header must describe
    a model this toolkit would have built — a known mode that matches the content, outputs,
    names that resolve, sizes within limits, op attributes in range. Else it never runs."""
    from .ops import check_node
    from .qrules.schemes import MODES, RANGES, QParams

    g = model.graph
    try:
        check_graph(g, where, ModelInvalidError)
        for v in g.inputs:
            if not v.is_static():
                raise _invalid(f"input '{v.name}' has no fixed shape ({v.shape})", where)
        for n in g.nodes:
            check_node(n.op_type, n.attrs, n.name, len(n.inputs))
            for p in n.post_ops:
                check_node(p.op_type, p.attrs, n.name, 1 + len(p.inputs))
    except ModelInvalidError:
        raise
    except RknnDiagError as e:   # an op or attribute no build of ours writes
        raise _invalid(f"the model file holds what no build writes: {e.message}",
                       f"{where}, {e.where}" if e.where else where) from None
    if not isinstance(model.rknn_batch_size, int) or not 1 <= model.rknn_batch_size <= limits.MAX_DIM:
        raise _invalid(f"rknn_batch_size {model.rknn_batch_size!r} is out of range", where)
    mode, q = model.mode, model.quant
    if not isinstance(mode, str) or (mode != "float16" and mode not in MODES):
        raise _invalid(f"unknown model mode {mode!r}", where,
                       fix=f"a model file's mode is float16 or one of {', '.join(MODES)}; rebuild it")
    if not isinstance(q, dict):
        raise _invalid("the quantization table is not a table", where)
    if mode == "float16":
        if q:
            raise _invalid("a float16 model file carries quantization parameters", where)
        return
    if q.get("mode") != mode:
        raise _invalid(f"the header says mode {mode!r} but the quantization table says {q.get('mode')!r}", where)
    tensors, weights = q.get("tensors"), q.get("weights", {})
    if not isinstance(tensors, dict) or not isinstance(weights, dict):   # empty is fine: a Q/DQ-only graph
        raise _invalid(f"a {mode} model file without quantization parameters", where)
    values = {v.name for v in g.inputs} | set(g.constants) | {o for n in g.nodes for o in n.outputs}
    layers = q.get("layers", {})
    nodes = {n.name for n in g.nodes}
    if not isinstance(layers, dict) or any(k not in nodes or v not in ("float16", *RANGES)
                                           for k, v in layers.items()):
        raise _invalid("the per-layer quantization overrides name unknown layers or dtypes", where)
    # A quantized/float or mode/dtype mismatch would run and give other numbers: refuse it.
    allowed = {MODES[mode].act.dtype, MODES[mode].weight.dtype, *layers.values()} - {"float16"}
    if q.get("method") == "imported":   # QDQ/QOperator models keep their own dtypes (quant.qdq_import)
        allowed = set(RANGES)
    # 16-bit tensors inside a fused layer (an Add's conv operand, attention scores)
    wide = roles.wide_tensors(g) if MODES[mode].wide_fused else set()
    for table, names in (("tensors", tensors), ("weights", weights)):
        for name, d in names.items():
            if name not in (g.constants if table == "weights" else values):
                raise _invalid(f"quantization parameters for '{name}', which the graph does not have", where)
            try:
                qp = QParams.from_dict(d)
            except Exception as e:
                raise _invalid(f"quantization parameters of '{name}' are malformed ({e})", where) from None
            lo, hi = RANGES.get(qp.dtype, (1, 0))
            if lo > hi or (qp.dtype not in allowed and not (table == "tensors" and name in wide
                                                             and qp.dtype == "int16")):
                raise _invalid(f"'{name}' is quantized to {qp.dtype!r}, which a {mode} model does not use", where)
            if not (np.all(np.isfinite(qp.scale)) and np.all(qp.scale > 0)):
                raise _invalid(f"'{name}' has a scale that is not a positive finite number", where)
            if np.any(qp.zero_point < lo) or np.any(qp.zero_point > hi):
                raise _invalid(f"'{name}' has a zero point outside {qp.dtype}'s range", where)


def _array(spec: dict, payload: memoryview) -> np.ndarray:
    dtype = np.dtype(spec["dtype"])
    if dtype.kind not in _ALLOWED_KINDS or dtype.hasobject:
        raise ValueError(f"dtype {dtype} not allowed")
    off, n = int(spec["offset"]), int(spec["nbytes"])
    shape = tuple(int(d) for d in spec["shape"])
    if off < 0 or off + n > len(payload) or n != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise ValueError(f"tensor at offset {off} size {n} does not fit")
    return np.frombuffer(payload[off:off + n], dtype=dtype).reshape(shape).copy()


def _model(h: dict, arrays: list[np.ndarray]) -> BuiltModel:
    g = h["graph"]

    def value(d):
        return Value(d["name"], tuple(d["shape"]) if d["shape"] is not None else None,
                     np.dtype(d["dtype"]) if d["dtype"] else None)

    nodes = [Node(n["op"], n["name"], n["inputs"], n["outputs"], _dec(n["attrs"], arrays),
                  [PostOp(p["op"], _dec(p["attrs"], arrays), _dec(p["inputs"], arrays)) for p in n["post_ops"]],
                  list(n["source"])) for n in g["nodes"]]
    graph = Graph(g["name"], nodes, [value(v) for v in g["inputs"]], [value(v) for v in g["outputs"]],
                  {k: _dec(v, arrays) for k, v in g["constants"].items()}, int(g["opset"]), _dec(g["meta"], arrays))
    return BuiltModel(graph, RknnConfig.from_dict(_dec(h["config"], arrays)), h["mode"], int(h["rknn_batch_size"]),
                      _dec(h["build"], arrays), _dec(h["quant"], arrays), h["toolkit_version"], h["created"])


def load(path: str | os.PathLike) -> BuiltModel:
    path = Path(path)
    if not path.is_file():
        raise ModelInvalidError(f"model file not found: {path}", fix="check the path passed to load_rknn()")
    return loads(path.read_bytes(), str(path))
