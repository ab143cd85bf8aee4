"""float16 rounding inside onnxruntime's blocked (NCHWc) layout.

On x86 onnxruntime runs convolutions in a blocked channel layout (its NchwcTransformer:
`com.microsoft.nchwc` Conv/pool ops between ReorderInput/ReorderOutput). A Cast node has no
blocked form, so every float16 rounding (a Cast(float16) -> Cast(float) pair) between two
convolutions costs a ReorderOutput before it and a ReorderInput after it: four memory passes
per layer where the float32 model has none, a third of a small model's time.

Rounding is elementwise, so it commutes with any reordering of the elements: rounding the
blocked tensor and reordering the result gives the values that reordering first and rounding
then gives. `move_rounding_into_blocks` rewrites onnxruntime's own optimized model that way:

    b -ReorderOutput-> t -Cast16-> h -Cast32-> r -ReorderInput-> q
    becomes  b -Cast16-> h' -Cast32-> q   (and r = ReorderOutput(q) where r has other readers)

The blocked tensor also holds the padding channels up to a multiple of the block size; these
are rounded too, which changes nothing a real channel sees (blocked ops keep channels apart,
and a blocked Conv reads the padding channels with zero weights; onnxruntime relies on the
same). Nothing else is touched: the model computes the values the unrewritten one computes,
bit for bit (tests/sim/test_ort_blocked.py).

The optimized model comes from onnxruntime itself (`optimized_model_filepath`), valid on this
machine only (the block size is the CPU's); it is rewritten and loaded with graph optimization
off, so no later fusion crosses a rounding. Anything unexpected: the ordinary session.
"""

from __future__ import annotations

import os
import tempfile

import onnx

from .ort_lower import LoweringError, is_ort_refusal, session_options

NCHWC = "com.microsoft.nchwc"


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _is_cast(node: onnx.NodeProto, to: int) -> bool:
    return node.op_type == "Cast" and node.domain in ("", "ai.onnx") and _attr(node, "to") == to


def move_rounding_into_blocks(model: onnx.ModelProto) -> int:
    """Rewrite `model` (onnxruntime's optimized graph) in place; returns the number of
    roundings moved into the blocked layout."""
    g = model.graph
    nodes = list(g.node)
    producer = {o: n for n in nodes for o in n.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}
    drop: set[int] = set()
    moved = 0
    for c32 in nodes:
        if not _is_cast(c32, onnx.TensorProto.FLOAT):
            continue
        c16 = producer.get(c32.input[0])
        if c16 is None or not _is_cast(c16, onnx.TensorProto.FLOAT16):
            continue
        ro = producer.get(c16.input[0])
        if ro is None or ro.op_type != "ReorderOutput" or ro.domain != NCHWC or _attr(ro, "channels_last", 0):
            continue
        t, h, r = c16.input[0], c16.output[0], c32.output[0]
        if len(readers.get(t, [])) != 1 or len(readers.get(h, [])) != 1 or t in graph_outputs or h in graph_outputs:
            continue
        ris = [n for n in readers.get(r, []) if n.op_type == "ReorderInput" and n.domain == NCHWC
               and not _attr(n, "channels_last", 0) and len(n.input) == 1]
        if not ris:
            continue
        # The casts now read the blocked tensor; the first ReorderInput's output is the result.
        q = ris[0].output[0]
        c16.input[0] = ro.input[0]
        c32.output[0] = q
        for ri in ris[1:]:   # the same tensor reordered twice: read the one result
            for n in nodes:
                for k, i in enumerate(n.input):
                    if i == ri.output[0]:
                        n.input[k] = q
            for k, o in enumerate(g.output):
                if o.name == ri.output[0]:
                    raise ValueError("a ReorderInput output is a graph output")
        drop.update(id(ri) for ri in ris)
        others = [n for n in readers.get(r, []) if n not in ris]
        if others or r in graph_outputs:   # plain readers keep the plain tensor, reordered once
            ro.input[0] = q
            ro.output[0] = r
        else:
            drop.add(id(ro))
        moved += 1
    if moved:
        keep = [n for n in nodes if id(n) not in drop]
        del g.node[:]
        g.node.extend(_topological(keep, {i.name for i in g.input} | {i.name for i in g.initializer}))
    return moved


def _topological(nodes: list[onnx.NodeProto], available: set[str]) -> list[onnx.NodeProto]:
    """Nodes in an order where each reads only what is available before it (the moved
    ReorderOutput now reads a cast after it)."""
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
            raise ValueError("the rewritten graph has a cycle or reads an unknown value")
        pending = rest
    return done


def blocked_session(model: onnx.ModelProto, threads: int):
    """An onnxruntime session of the lowered model with its float16 roundings moved into the
    blocked layout; None when onnxruntime blocked nothing (no convolutions, or a CPU without
    the layout) or would not load the rewrite: the caller makes the ordinary session."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="rknn_diag_ort_") as tmp:
        path = os.path.join(tmp, "optimized.onnx")
        so = session_options(threads)
        so.optimized_model_filepath = path
        try:
            ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as err:   # onnxruntime's own exception types, as in ort_lower.session
            raise LoweringError(f"onnxruntime refused the lowered model: {str(err)[:400]}") from None
        optimized = onnx.load(path)
    try:
        if move_rounding_into_blocks(optimized) == 0:
            return None
        so = session_options(threads)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(optimized.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - a layout this rewrite does not know: the plain session
        if not (isinstance(err, ValueError) or is_ort_refusal(err)):
            raise
        return None
