"""float16 rounding inside onnxruntime's blocked (NCHWc) layout.

On x86 onnxruntime runs convolutions in a blocked channel layout (its NchwcTransformer:
`com.microsoft.nchwc` Conv/pool ops between ReorderInput/ReorderOutput). A Cast node has no
blocked form, so every float16 rounding (a Cast(float16) -> Cast(float) pair) between two
convolutions costs a ReorderOutput before it and a ReorderInput after it: four memory passes
per layer where the float32 model has none, a third of a small model's time.

Rounding is elementwise, so it commutes with any reordering of the elements: rounding the
blocked tensor and reordering the result gives the values that reordering first and rounding
then gives. The same holds for every elementwise op, and for pools that only select values.
`move_rounding_into_blocks` rewrites onnxruntime's own optimized model that way: a value
that is a ReorderOutput of a blocked tensor has that tensor as its blocked twin; a Cast, an
elementwise op (UNARY, BINARY on equal shapes) or a selecting pool (POOLS) whose inputs all
have twins gets a clone that reads the twins (its output's twin); a ReorderInput of a value
with a twin is replaced by the twin; a plain value still read in plain layout is one
ReorderOutput of its twin; what nobody reads any more goes. Between two convolutions

    b -ReorderOutput-> t -Cast16-> h -Cast32-> r -ReorderInput-> q
    becomes  b -Cast16-> h' -Cast32-> q

The blocked tensor also holds the padding channels up to a multiple of the block size; these
are rounded too, which changes nothing a real channel sees (blocked ops keep channels apart,
and a blocked Conv reads the padding channels with zero weights; onnxruntime relies on the
same). No op is computed in another way: the model computes the values the unrewritten one
computes, bit for bit (tests/sim/test_ort_blocked.py).

The optimized model comes from onnxruntime itself (`optimized_model_filepath`), valid on this
machine only (the block size is the CPU's); it is rewritten and loaded with graph optimization
off, so no later fusion crosses a rounding. Anything unexpected: the ordinary session.
"""

from __future__ import annotations

import os
import tempfile

import onnx

from .ort_lower import is_ort_refusal, session, session_options

NCHWC = "com.microsoft.nchwc"
# The ops onnxruntime's blocked layout starts from (NchwcTransformer): without one, nothing to do.
BLOCKED_FROM = frozenset({"Conv", "MaxPool", "AveragePool"})


# Elementwise ops that run on a blocked tensor as they are (layout-agnostic): one data input
# (other inputs scalar constants), or two of the same shape. Not Div/Exp/Log and the like: on a
# padding channel they could make an infinity or NaN that a blocked Conv's zero weight turns
# into NaN in a real channel.
UNARY = {("", "Relu"), ("", "Sigmoid"), ("", "Tanh"), ("", "HardSigmoid"), ("", "LeakyRelu"), ("", "Clip"),
         ("", "HardSwish"), ("", "Neg"), ("", "Abs"), ("", "Erf"), ("com.microsoft", "QuickGelu")}
BINARY = {("", "Add"), ("", "Sub"), ("", "Mul"), ("", "Max"), ("", "Min")}
# Pools with a blocked form of the same name and attributes in the NCHWc domain: only those that
# select values (an averaging pool sums in another order there: not the same float32 result).
POOLS = {"GlobalMaxPool": set(),
         "MaxPool": {"auto_pad", "kernel_shape", "dilations", "pads", "strides", "ceil_mode"}}


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _kind(node: onnx.NodeProto) -> tuple[str, str]:
    return ("" if node.domain == "ai.onnx" else node.domain, node.op_type)


def move_rounding_into_blocks(model: onnx.ModelProto, shapes: dict[str, tuple] | None = None) -> int:
    """Rewrite `model` (onnxruntime's optimized graph) in place so that float16 roundings, and
    the elementwise ops and pools between blocked ops, read blocked tensors; returns the number
    of nodes moved into the blocked layout. `shapes`: static shapes of the plain values (the
    lowered model's), needed to move a two-input op (both inputs must have one shape)."""
    g = model.graph
    shapes = shapes or {}
    scalar = {i.name for i in g.initializer if len(i.dims) == 0 or all(d == 1 for d in i.dims)}
    twin: dict[str, tuple[str, int]] = {}   # plain value -> (its blocked twin, real channels)
    made: set[str] = set()                  # plain values whose twin this rewrite computes
    out: list[onnx.NodeProto] = []
    for n in g.node:
        out.append(n)
        kind = _kind(n)
        data = [i for i in n.input if i and i not in scalar]
        if kind == (NCHWC, "ReorderOutput") and not _attr(n, "channels_last", 0):
            twin[n.output[0]] = (n.input[0], int(_attr(n, "channels")))
            continue
        if len(n.output) != 1 or not data or any(i not in twin for i in data):
            continue
        channels = {twin[i][1] for i in data}
        ok = len(channels) == 1
        if kind == ("", "Cast"):
            ok = ok and _attr(n, "to") in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
        elif kind in UNARY:
            ok = ok and len(data) == 1
        elif kind in BINARY:
            ok = ok and (len(data) == 1 or (len(data) == 2 and shapes.get(data[0]) is not None
                                            and shapes.get(data[0]) == shapes.get(data[1])))
        elif kind[0] == "" and kind[1] in POOLS:
            ok = ok and len(data) == 1 and {a.name for a in n.attribute} <= POOLS[kind[1]]
        else:
            ok = False
        if not ok:
            continue
        clone = onnx.NodeProto()
        clone.CopyFrom(n)
        clone.name = (n.name or n.output[0]) + "__blocked"
        if kind[1] in POOLS:
            clone.domain = NCHWC
        for k, i in enumerate(n.input):
            if i in twin:
                clone.input[k] = twin[i][0]
        clone.output[0] = n.output[0] + "__blocked"
        out.append(clone)
        twin[n.output[0]] = (clone.output[0], channels.pop())
        made.add(n.output[0])
    # A ReorderInput of a value that has a twin: its readers read the twin.
    alias = {}
    for n in out:
        if (_kind(n) == (NCHWC, "ReorderInput") and not _attr(n, "channels_last", 0) and len(n.input) == 1
                and n.input[0] in twin):
            alias[n.output[0]] = twin[n.input[0]][0]
    if not alias:
        return 0
    graph_outputs = {o.name for o in g.output}
    if graph_outputs & set(alias):
        raise ValueError("a ReorderInput output is a graph output")
    out = [n for n in out if not (n.output and n.output[0] in alias)]
    for n in out:
        for k, i in enumerate(n.input):
            if i in alias:
                n.input[k] = alias[i]
    # A computed plain value still read in plain layout: reorder its twin once instead of
    # computing the plain chain too.
    readers: dict[str, int] = {}
    for n in out:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    for k, n in enumerate(out):
        v = n.output[0] if len(n.output) == 1 else None
        if v in made and (readers.get(v) or v in graph_outputs) and not n.name.endswith("__blocked"):
            b, c = twin[v]
            out[k] = onnx.helper.make_node("ReorderOutput", [b], [v], name=v + "__reorder", domain=NCHWC,
                                           channels=c, channels_last=0)
    out = _live(_topological(out, {i.name for i in g.input} | {i.name for i in g.initializer}), graph_outputs)
    del g.node[:]
    g.node.extend(out)
    return len(alias) + len(made)


def _live(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """The nodes (in topological order) something still reads, or that make a graph output."""
    need = set(outputs)
    keep = []
    for n in reversed(nodes):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(n.input)
    return keep[::-1]


def _topological(nodes: list[onnx.NodeProto], available: set[str]) -> list[onnx.NodeProto]:
    """Nodes in an order where each reads only what is available before it (a replacing
    ReorderOutput reads a twin made after the plain node it replaces)."""
    done: list[onnx.NodeProto] = []
    have = set(available) | {""}
    pending = list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(i in have for i in n.input):
                done.append(n)
                have.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError(f"the rewritten graph has a cycle or reads an unknown value: {[(n.op_type, list(n.input), list(n.output)) for n in rest[:3]]}")
        pending = rest
    return done


def blocked_session(model: onnx.ModelProto, threads: int, shapes: dict[str, tuple] | None = None):
    """An onnxruntime session of the lowered model, its float16 roundings moved into the blocked
    layout where onnxruntime blocked something (`shapes`: the lowered values' static shapes);
    else, or when onnxruntime would not load the rewrite, the ordinary session."""
    import onnxruntime as ort

    if not any(n.op_type in BLOCKED_FROM for n in model.graph.node):   # nothing onnxruntime blocks
        return session(model, threads)
    with tempfile.TemporaryDirectory(prefix="rknn_diag_ort_") as tmp:
        path = os.path.join(tmp, "optimized.onnx")
        so = session_options(threads)
        so.optimized_model_filepath = path
        try:
            plain = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            optimized = onnx.load(path)
        except Exception as err:  # noqa: BLE001 - onnxruntime's own types, or no file written
            if not (is_ort_refusal(err) or isinstance(err, OSError)):
                raise
            return session(model, threads)   # raises LoweringError when onnxruntime refuses the model
    try:
        if move_rounding_into_blocks(optimized, shapes) == 0:
            return plain
        so = session_options(threads)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(optimized.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - a layout this rewrite does not know: the plain session
        if not (isinstance(err, ValueError) or is_ort_refusal(err)):
            raise
        return plain
