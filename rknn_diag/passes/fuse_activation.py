"""Fuse Relu/Clip/LeakyRelu into the layer before them (guide ch. 6 item 2: the NPU
always fuses a ReLU after a convolution), and HardSwish (with a scalar affine it carries) into
a convolution or Gemm, and Swish (SiLU) likewise: the NPU runs Conv+HardSwish as one layer (the vendor's per-layer
analysis of PP-OCRv4 det has no output for the convolution before each HardSwish), so a
quantized model never holds the pre-activation in 8 bits; the integer simulator applies the
chain to the accumulator's real value (`sim.int_sim`'s epilogue)."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, PostOp
from .rewire import sole_consumer

HOSTS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Add")
EPILOGUE_HOSTS = ("Conv", "Gemm")   # integer kernels that apply a fused HardSwish to the accumulator


def _post_op(graph: Graph, node) -> PostOp | None:
    if node.op_type == "Relu":
        return PostOp("Relu")
    if node.op_type == "LeakyRelu":
        return PostOp("LeakyRelu", {"alpha": node.attrs.get("alpha", 0.01)})
    if node.op_type == "Clip":
        if graph.opset < 11:
            return PostOp("Clip", {}, [np.float32(node.attrs.get("min", -np.inf)),
                                       np.float32(node.attrs.get("max", np.inf))])
        extra = node.inputs[1:3]
        if any(i and i not in graph.constants for i in extra):
            return None
        return PostOp("Clip", {}, [graph.constants[i] if i else None for i in extra])
    return None


def fuse_activations(graph: Graph) -> int:
    changed = 0
    for host in list(graph.nodes):
        if host.op_type not in HOSTS or host not in graph.nodes:
            continue
        act = sole_consumer(graph, host.outputs[0])
        if act is None or act.inputs[0] != host.outputs[0]:
            continue
        post = _post_op(graph, act)
        if post is None and act.op_type in ("HardSwish", "Swish") and host.op_type in EPILOGUE_HOSTS \
                and len(act.inputs) == 1 and all(p.op_type in ("Mul", "Add") for p in act.post_ops):
            post = PostOp(act.op_type, dict(act.attrs))
        if post is None:
            continue
        if host.op_type == "Add" and post.op_type != "Relu":
            continue  # the NPU fuses ReLU after elementwise add; other activations stay apart
        host.post_ops.append(post)
        if post.op_type in ("HardSwish", "Swish"):
            host.post_ops.extend(act.post_ops)   # its scalar affine (PP-LCNet's learnable affine)
        host.outputs = [act.outputs[0], *host.outputs[1:]]
        host.source.extend(s for s in act.source if s not in host.source)
        graph.nodes.remove(act)
        changed += 1
    return changed
