"""What each tensor is to the quantizer: activation, weight, bias, quantized constant or raw.

Shared by the quantizer, the integer simulator and the QDQ twin so the three agree
on which inputs are quantized and how (one place for these rules).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from ..ops import registry
from .schemes import QParams, bias_params

# Derived from each op's registry entry (`OpSpec.quant`, rknn_diag.ops.registry): adding an op
# there classifies it here, in both integer backends and in the quantized suite.
_SPECS = registry.specs()


def _ops(test) -> tuple[str, ...]:
    return tuple(sorted(op for op, spec in _SPECS.items() if test(spec.quant)))


# Ops whose input 1 is a weight (quantized with the weight scheme) and input 2 a bias (int32).
WEIGHT_OPS = _ops(lambda q: q.weights)

# Inputs that carry data (quantized); the others are parameters (shapes, indices, scales,
# Clip bounds, PRelu slopes ...) passed to the kernel raw. Default: input 0 only.
ALL = registry.ALL_INPUTS
DATA_INPUTS: dict[str, tuple[int, ...] | None] = {
    op: spec.quant.data for op, spec in sorted(_SPECS.items()) if spec.quant.data != (0,)}

# Output shares input 0's quantization parameters (so the op is exact on integers or a
# pure requantization-free rescale): data movement, max pooling, clamps (§ "Concat and
# MaxPool share scales"; Concat itself gets its own scale and its inputs are unified to it).
SHARE_SCALE = _ops(lambda q: q.shares_scale)
# Of those, the ones computed directly on the integers (value-preserving: they only move,
# select or take the max of values, so integers in = integers out, bit-exact) whatever their
# attributes; nearest Resize is direct by its `direct_if`.
DIRECT = _ops(lambda q: q.path == registry.DIRECT and q.direct_if is None)
# Elementwise ops of one input run as a lookup table over every input code (int_sim.LUT_OPS).
TABLE_OPS = _ops(lambda q: q.path == registry.TABLE)
# Ops with a dedicated integer kernel (int_sim's dispatch).
KERNEL_OPS = _ops(lambda q: q.path == registry.KERNEL)
# Layers whose answer depends on NaN or infinity (IsNaN, IsInf), which have no integer: kept
# in float16 in a quantized build.
NONFINITE_OPS = _ops(lambda q: q.path == registry.KEEP_FLOAT16)
# Ops whose output error is not bounded by the input's quantization error relative to the
# output's magnitude (division by values near 0, discontinuities, exponentials, ranks).
AMPLIFYING = _ops(lambda q: q.amplifies)


def is_direct(node: Node) -> bool:
    """Value-preserving on integers: DIRECT ops, and conditionally direct ones (nearest Resize /
    Upsample) whose registry condition holds for the node's attributes."""
    q = registry.quant_traits(node.op_type)
    return q.path == registry.DIRECT and (q.direct_if is None or q.direct_if(node.attrs))


def data_slots(node: Node) -> set[int]:
    idx = registry.quant_traits(node.op_type).data
    n = len(node.inputs)
    return set(range(n)) if idx is ALL else {i for i in idx if i < n}


def weight_name(graph: Graph, node: Node) -> str | None:
    if node.op_type in WEIGHT_OPS and len(node.inputs) > 1 and node.inputs[1] in graph.constants:
        w = graph.constants[node.inputs[1]]
        if np.asarray(w).dtype.kind == "f" and np.ndim(w) >= 2:
            return node.inputs[1]
    return None


def bias_name(graph: Graph, node: Node) -> str | None:
    """A 1-D constant bias of a weight op whose weight is a constant."""
    if weight_name(graph, node) is None or node.op_type == "MatMul" or len(node.inputs) < 3:
        return None
    b = node.inputs[2]
    if b and b in graph.constants and np.ndim(graph.constants[b]) == 1:
        if node.op_type == "Gemm" and (node.attrs.get("beta", 1.0) != 1.0 or node.attrs.get("alpha", 1.0) != 1.0):
            return None
        return b
    return None


def weight_axis(node: Node, w: np.ndarray) -> int:
    """The output-channel axis of the weight (per-channel quantization axis)."""
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if node.attrs.get("transB", 0) else 1
    if node.op_type == "MatMul":
        return w.ndim - 1
    return 0


# Layers whose output the NPU can add into its accumulator: an elementwise Add of two tensors
# fused into the convolution that produced one of them (the vendor's per-layer analysis shows
# that operand almost unrounded: ResNet-18's block convs 4x smaller error than at 8 bits).
ACCUMULATING_HOSTS = ("Conv", "Gemm")


def residual_operands(graph: Graph) -> set[str]:
    """Outputs of a convolution that an Add of two tensors reads as its only reader: the NPU
    fuses that Add into the convolution, so the operand never exists in 8 bits (the quantizer
    keeps it at 16 bits, which changes precision only, never the result's meaning). One operand
    per Add, the last one a convolution produced, as the vendor chooses (ResNet's downsample
    branch over its second block conv)."""
    producers, consumers = graph.producers(), graph.consumers()
    outputs = {v.name for v in graph.outputs}
    found = set()
    for node in graph.nodes:
        if (node.op_type != "Add" or len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]
                or any(i in graph.constants for i in node.inputs)):
            continue
        for name in reversed(node.inputs):
            p = producers.get(name)
            if (p is not None and p.op_type in ACCUMULATING_HOSTS and name not in outputs
                    and len(consumers.get(name, [])) == 1):
                found.add(name)
                break
    return found


def attention_internals(graph: Graph) -> set[str]:
    """The scores and probabilities of an attention written as MatMul(q, k) (· scale) -> Softmax ->
    MatMul(·, v), each read only by the next: the vendor's converter makes the chain one layer
    (`exSDPAttention` in its per-layer analysis) that never writes them in 8 bits."""
    producers, consumers = graph.producers(), graph.consumers()
    outputs = {v.name for v in graph.outputs}

    def only_reader(name: str):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in outputs else None

    found = set()
    for sm in graph.nodes:
        if sm.op_type != "Softmax" or sm.post_ops:
            continue
        after = only_reader(sm.outputs[0])
        if after is None or after.op_type != "MatMul" or after.inputs[0] != sm.outputs[0]:
            continue
        chain, name = [sm.outputs[0]], sm.inputs[0]
        p = producers.get(name)
        if p is not None and p.op_type in ("Mul", "Div") and only_reader(name) is sm \
                and any(i in graph.constants for i in p.inputs[1:]):
            chain.append(name)             # the 1/sqrt(d) scale after the scores
            name = p.inputs[0]
            p = producers.get(name)
        if p is None or p.op_type != "MatMul" or only_reader(name) is None \
                or any(i in graph.constants for i in p.inputs):
            continue
        found.update([name, *chain])
    return found


def wide_tensors(graph: Graph) -> set[str]:
    """Tensors inside a layer the NPU fuses, kept at 16 bits in 8-bit RKNPU2 builds."""
    return residual_operands(graph) | attention_internals(graph)


def granularity_for(node: Node, w: np.ndarray, wanted: str) -> str:
    """Per-group quantization runs along axis 1 with output channels on axis 0 (Conv, Gemm
    transB=1); other layouts, and grouped ConvTranspose, fall back to per channel / per layer."""
    if node.op_type == "ConvTranspose" and node.attrs.get("group", 1) != 1:
        return "layer"
    if wanted.startswith("group") and weight_axis(node, w) != 0:
        return "channel"
    return wanted


def bias_qparams(graph: Graph, node: Node, tensors: dict[str, QParams], weights: dict[str, QParams]) -> QParams | None:
    """int32 bias parameters of a weight op (input scale × weight scale), or None."""
    b = bias_name(graph, node)
    w = weight_name(graph, node)
    if b is None or w not in weights or node.inputs[0] not in tensors:
        return None
    wq = weights[w]
    if wq.group is not None or not tensors[node.inputs[0]].per_tensor:
        return None
    return bias_params(tensors[node.inputs[0]].scale, wq)
