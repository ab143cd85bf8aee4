"""ONNX frontend: file -> checked, shape-inferred, optionally cut -> IR `Graph`.

Opsets 7 up to the newest the installed onnx defines are accepted: kernels take
each op's newest form and the registry passes `opset` to the ops whose meaning
changed (the vendor refuses anything above 19; we don't where nothing changed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from ..errors import ModelLoadError, RknnDiagError, UnsupportedOpError
from ..graph_check import check_graph, check_shape
from ..ir import Graph, Node, Value
from ..ops import check_node, check_tensor_type
from ..ops.registry import RUNTIME, is_custom
from . import qoperator

MIN_OPSET = 7


def _read(model: str | os.PathLike | bytes | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    if isinstance(model, onnx.ModelProto):
        return model, "<ModelProto>"
    if isinstance(model, (bytes, bytearray)):
        data, where = bytes(model), "<bytes>"
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelLoadError(f"ONNX model file not found: {path}", fix="check the path passed to load_onnx()")
        data, where = path.read_bytes(), str(path)
    if not data:
        raise ModelLoadError("the ONNX file is empty", where=where, fix="re-export the model")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf's DecodeError and friends
        raise ModelLoadError(f"not an ONNX model ({type(e).__name__}: {e})", where=where,
                             fix="check that the file is an ONNX export and not truncated") from None
    if not proto.graph.node and not proto.graph.output:
        raise ModelLoadError("the file parsed but holds no graph (is it really ONNX?)", where=where,
                             fix="re-export the model to ONNX")
    if not isinstance(model, (bytes, bytearray)) and any(
            t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        onnx.load_external_data_for_model(proto, str(Path(model).parent))
    return proto, where


def _opset(proto: onnx.ModelProto, where: str) -> int:
    newest = onnx.defs.onnx_opset_version()
    versions = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    opset = versions.get("ai.onnx")
    if opset is None:
        raise ModelLoadError("the model imports no default-domain opset", where=where, fix="re-export the model")
    if opset < MIN_OPSET or opset > newest:
        raise ModelLoadError(
            f"opset {opset} is outside what this toolkit reads ({MIN_OPSET}..{newest})", where=where,
            fix=("re-export with a newer opset, or upgrade with onnx.version_converter" if opset < MIN_OPSET
                 else "upgrade the onnx package, or re-export with an older opset"), ref="1.3.1")
    return opset


def attr_value(attr: onnx.AttributeProto) -> Any:
    v = helper.get_attribute_value(attr)
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode("utf-8") for s in v]
    if isinstance(v, (onnx.GraphProto, onnx.SparseTensorProto)) or (
            isinstance(v, list) and v and isinstance(v[0], onnx.GraphProto)):
        raise UnsupportedOpError("graph-valued attributes (If/Loop/Scan bodies) are not supported",
                                 fix="export the model without control flow", ref="1.3.5")
    return v


def _dims(t: onnx.TypeProto) -> tuple | None:
    if not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.tensor_type.shape.dim)


def _dtype(t: onnx.TypeProto) -> np.dtype | None:
    et = t.tensor_type.elem_type
    return np.dtype(helper.tensor_dtype_to_np_dtype(et)) if et else None


def _fix_input_sizes(proto: onnx.ModelProto, inputs: list[str], sizes: list[list[int]], where: str) -> None:
    if len(sizes) != len(inputs):
        raise ModelLoadError(f"input_size_list has {len(sizes)} entries for {len(inputs)} inputs {inputs}",
                             where=where, fix="give one shape per model input, in order")
    by_name = {i.name: i for i in proto.graph.input}
    for name, size in zip(inputs, sizes):
        vi = by_name[name]
        dims = vi.type.tensor_type.shape.dim
        size = list(size)
        if len(size) == len(dims) - 1:
            size = [1] + size   # vendor habit: sizes without the batch dimension
        if len(size) != len(dims):
            raise ModelLoadError(f"input_size_list gives {len(size)} dims for input '{name}' of rank {len(dims)}",
                                 where=where, fix=f"give {len(dims)} dims (with or without batch)")
        for d, s in zip(dims, size):
            if d.HasField("dim_value") and d.dim_value != s and d.dim_value > 0:
                raise ModelLoadError(f"input_size_list {size} contradicts input '{name}' "
                                     f"fixed shape {[x.dim_value or x.dim_param for x in dims]}",
                                     where=where, fix="only dynamic dimensions may be set")
            d.ClearField("dim_param")
            d.dim_value = int(s)


def load(model: str | os.PathLike | bytes | onnx.ModelProto, inputs: list[str] | None = None,
         input_size_list: list[list[int]] | None = None, outputs: list[str] | None = None) -> Graph:
    """Read, check and convert. Every refusal is a ModelLoadError (RKNN_ERR_MODEL_INVALID) or
    UnsupportedOpError: a malformed file is bad input, never an internal error."""
    where = "<ModelProto>" if isinstance(model, onnx.ModelProto) else (
        "<bytes>" if isinstance(model, (bytes, bytearray)) else str(model))
    try:
        return _load(model, inputs, input_size_list, outputs)
    except RknnDiagError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, MemoryError,
            RecursionError, onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ModelLoadError(f"the ONNX model is malformed ({type(e).__name__}: {e})", where=where,
                             fix="run onnx.checker.check_model(model, full_check=True) and re-export it") from None


def _load(model, inputs, input_size_list, outputs) -> Graph:
    proto, where = _read(model)
    if qoperator.has_qoperator(proto):   # QLinearConv & co.: the same model in QDQ form (its own scales)
        proto = qoperator.to_qdq(proto, where)
    proto_copy = onnx.ModelProto()
    proto_copy.CopyFrom(proto)
    proto = proto_copy
    opset = _opset(proto, where)

    init_names = {t.name for t in proto.graph.initializer}
    real_inputs = [i.name for i in proto.graph.input if i.name not in init_names]
    if inputs is not None or outputs is not None:
        proto = _cut(proto, inputs or real_inputs, outputs or [o.name for o in proto.graph.output], where)
        real_inputs = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if input_size_list is not None:
        _fix_input_sizes(proto, real_inputs, input_size_list, where)
    as_given = proto
    try:
        proto = shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception as e:
        raise ModelLoadError(f"ONNX shape inference failed: {e}", where=where,
                             fix="run onnx.checker.check_model on the model; fix or re-export it") from None
    if any(is_custom(n.op_type) for n in proto.graph.node):   # users' ops: their own shape_infer
        from .custom_shapes import infer_custom
        proto = infer_custom(proto, where)
    graph = _to_ir(proto, opset, where)
    check_graph(graph, where)
    _onnx_checker(as_given, where)
    return graph


_SCHEMA_ONLY = re.compile(r"is deprecated|No Op registered|No opset import for domain")


def _onnx_checker(proto: onnx.ModelProto, where: str) -> None:
    """onnx's own checker on every node and initializer, after our checks (ours name the node
    and the fix; it catches the rest: ill-typed attributes, bad tensor protos, ...). Not
    check_model: it also demands shapes on graph outputs, which real exports often omit."""
    ctx = onnx.checker.C.CheckerContext()
    ctx.ir_version = proto.ir_version or onnx.IR_VERSION
    ctx.opset_imports = {o.domain: o.version for o in proto.opset_import}
    lex = onnx.checker.LEXICAL_SCOPE_CONTEXT
    try:
        for t in proto.graph.initializer:
            onnx.checker.check_tensor(t, ctx)
        for n in proto.graph.node:
            try:
                onnx.checker.check_node(n, ctx, lex)
            except onnx.checker.ValidationError as e:
                # Our registry already judged the op itself (check_node in _to_ir): a schema the
                # installed onnx deprecated or lacks for this opset is no fault of the file.
                if not _SCHEMA_ONLY.search(str(e)):
                    raise
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"the ONNX checker refuses the model: {first}", where=where,
                             fix="run onnx.checker.check_model(model) for details and re-export it") from None


def _cut(proto: onnx.ModelProto, inputs: list[str], outputs: list[str], where: str) -> onnx.ModelProto:
    proto = shape_inference.infer_shapes(proto, strict_mode=False)
    known = {v for n in proto.graph.node for v in (*n.input, *n.output)} | {i.name for i in proto.graph.input}
    missing = [n for n in [*inputs, *outputs] if n not in known]
    if missing:
        raise ModelLoadError(f"tensor(s) {missing} named in inputs=/outputs= are not in the model", where=where,
                             fix="use tensor names as shown by Netron or onnx.helper.printable_graph")
    try:
        return onnx.utils.Extractor(proto).extract_model(inputs, outputs)
    except Exception as e:
        raise ModelLoadError(f"cannot cut the graph at inputs={inputs} outputs={outputs}: {e}", where=where,
                             fix="make sure the outputs depend only on the given inputs and constants") from None


def _check_types(g: onnx.GraphProto, where: str) -> None:
    """Refuse, at load, any tensor whose element type the toolkit does not run (bfloat16, float8 ...)."""
    for t in g.initializer:
        check_tensor_type(t.data_type, t.name, f"{where}, initializer")
    for v in [*g.input, *g.output, *g.value_info]:
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type:
            check_tensor_type(v.type.tensor_type.elem_type, v.name, where)


def _to_ir(proto: onnx.ModelProto, opset: int, where: str) -> Graph:
    g = proto.graph
    _check_types(g, where)
    for t in g.initializer:   # before to_array allocates what the header claims
        check_shape(t.name, tuple(t.dims), where, dtype=helper.tensor_dtype_to_np_dtype(t.data_type)
                    if t.data_type else None)
    constants = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inputs = [Value(i.name, _dims(i.type), _dtype(i.type)) for i in g.input if i.name not in constants]
    outputs = [Value(o.name, _dims(o.type), _dtype(o.type)) for o in g.output]
    shapes = {vi.name: _dims(vi.type) for vi in [*g.value_info, *g.input, *g.output]}
    dtypes = {vi.name: _dtype(vi.type) for vi in [*g.value_info, *g.input, *g.output]}
    dtypes.update({k: v.dtype for k, v in constants.items()})
    nodes: list[Node] = []
    for idx, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{idx}"
        if n.domain not in ("", "ai.onnx") and not is_custom(n.op_type):
            raise UnsupportedOpError(f"op '{n.op_type}' of domain '{n.domain}' is not supported",
                                     where=f"{where}, node '{name}'",
                                     fix="export with standard ONNX ops only", ref="1.3.5")
        try:
            attrs = {a.name: attr_value(a) for a in n.attribute}
            check_node(n.op_type, attrs, name, len(n.input), dtypes.get(n.input[0]) if n.input else None,
                       [constants.get(i, RUNTIME) if i else None for i in n.input])
        except UnsupportedOpError as e:
            e.where = f"{where}, node '{name}' ({n.op_type})"
            raise UnsupportedOpError(e.message, where=e.where, fix=e.fix, ref=e.ref) from None
        nodes.append(Node(n.op_type, name, list(n.input), list(n.output), attrs))
    graph = Graph(g.name or "model", nodes, inputs, outputs, constants, opset,
                  meta={"source": where, "producer": proto.producer_name, "shapes": shapes,
                        "ir_version": proto.ir_version})
    for v in inputs:
        if not v.is_static():
            raise ModelLoadError(f"input '{v.name}' has dynamic shape {v.shape}", where=where,
                                 fix="pass input_size_list=[[...]] to load_onnx() to fix its dimensions")
    return graph
