"""MatMul by a constant weight followed by a bias Add -> one layer with the bias inside, as the
NPU compilers do (a transformer's every Linear is exported as MatMul + Add). In a quantized
model the bias then joins the int32 accumulator instead of the raw MatMul output being
quantized first and the bias added as an 8-bit constant: on a DeiT-tiny that step alone was
most of the gap to float.

x of rank 2 becomes Gemm(x, W, b). x of rank r >= 3 (tokens × features) becomes
Transpose(features to axis 1) -> Conv with a 1×…×1 kernel (W transposed) and bias ->
Transpose back: both transposes only move values (exact on integers, no rounding in float16).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .rewire import is_graph_output, sole_consumer


def _bias(graph: Graph, add: Node, mm_out: str, m: int) -> str | None:
    if add.op_type != "Add" or len(add.inputs) != 2 or add.post_ops or mm_out not in add.inputs:
        return None
    b = add.inputs[1] if add.inputs[0] == mm_out else add.inputs[0]
    if b == mm_out or b not in graph.constants:
        return None
    v = np.asarray(graph.constants[b])
    if v.dtype.kind != "f" or v.size != m or (v.ndim and v.shape[-1] != m):
        return None
    return b


def _ranks(graph: Graph) -> dict[str, int]:
    """Static ranks of the graph's values (onnx shape inference on the graph as it is); {} when
    inference is not possible, so the pass then leaves the graph alone."""
    try:
        from ..sim.ort_lower import LoweringError, infer_values
    except ImportError:   # pragma: no cover - the package always ships it
        return {}
    try:
        return {k: len(s) for k, s in infer_values(graph)[1].items()}
    except (LoweringError, ValueError, KeyError, TypeError):
        return {}


def fuse_matmul_bias(graph: Graph) -> int:
    cands = []
    for mm in graph.nodes:
        if mm.op_type != "MatMul" or mm.post_ops or len(mm.inputs) != 2 or mm.inputs[1] not in graph.constants:
            continue
        w = np.asarray(graph.constants[mm.inputs[1]])
        if w.dtype.kind != "f" or w.ndim != 2 or mm.inputs[0] in graph.constants:
            continue
        add = sole_consumer(graph, mm.outputs[0])
        if add is None or is_graph_output(graph, mm.outputs[0]):
            continue
        b = _bias(graph, add, mm.outputs[0], w.shape[1])
        if b is not None:
            cands.append((mm, add, b))
    if not cands:
        return 0
    ranks = _ranks(graph)
    changed = 0
    for mm, add, b in cands:
        r = ranks.get(mm.inputs[0])
        if r is None or r < 2:
            continue
        x, w = mm.inputs[0], np.asarray(graph.constants[mm.inputs[1]], np.float32)
        bias = np.asarray(graph.constants[b], np.float32).reshape(-1)
        bname = f"{mm.name}.bias_fused"
        graph.constants[bname] = bias
        at = graph.nodes.index(mm)
        src = list(dict.fromkeys([*mm.source, *add.source]))
        if r == 2:
            new = [Node("Gemm", mm.name, [x, mm.inputs[1], bname], [add.outputs[0]], {}, source=src)]
        else:
            wname = f"{mm.name}.W_conv"
            graph.constants[wname] = np.ascontiguousarray(w.T.reshape(w.shape[1], w.shape[0], *[1] * (r - 2)))
            t_in, t_out = f"{mm.name}__features_first", f"{mm.name}__conv"
            new = [Node("Transpose", f"{mm.name}__to_channels", [x], [t_in], {"perm": [0, r - 1, *range(1, r - 1)]},
                        source=src),
                   Node("Conv", mm.name, [t_in, wname, bname], [t_out], {"kernel_shape": [1] * (r - 2)}, source=src),
                   Node("Transpose", f"{mm.name}__to_features", [t_out], [add.outputs[0]],
                        {"perm": [0, *range(2, r), 1]}, source=src)]
        graph.nodes[at:at + 1] = new
        graph.nodes.remove(add)
        changed += 1
    return changed
