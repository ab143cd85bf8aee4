"""What each tensor is to the quantizer: activation, weight, bias, quantized constant or raw.

Shared by the quantizer, the integer simulator and the QDQ twin so the three agree
on which inputs are quantized and how (one place for these rules).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .schemes import QParams, bias_params

# Ops whose input 1 is a weight (quantized with the weight scheme) and input 2 a bias (int32).
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")

# Inputs that carry data (quantized); the others are parameters (shapes, indices, scales,
# Clip bounds, PRelu slopes ...) passed to the kernel raw. Default: input 0 only.
ALL = None
DATA_INPUTS: dict[str, tuple[int, ...] | None] = {
    "Add": ALL, "Sub": ALL, "Mul": ALL, "Div": ALL, "Max": ALL, "Min": ALL, "Sum": ALL, "Mean": ALL,
    "Concat": ALL, "MatMul": (0, 1), "Pow": (0,), "Where": (1, 2), "Conv": (0,), "ConvTranspose": (0,),
    "Gemm": (0,), "Equal": ALL, "Greater": ALL, "Less": ALL, "GreaterOrEqual": ALL, "LessOrEqual": ALL,
}

# Output shares input 0's quantization parameters (so the op is exact on integers or a
# pure requantization-free rescale): data movement, max pooling, clamps (§ "Concat and
# MaxPool share scales"; Concat itself gets its own scale and its inputs are unified to it).
SHARE_SCALE = (
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "GatherElements", "Split",
    "Pad", "Tile", "Expand", "Identity", "Dropout", "DepthToSpace", "SpaceToDepth", "MaxPool", "GlobalMaxPool",
    "Resize", "Upsample", "Relu", "Clip", "ReduceMax", "ReduceMin",
)
# Of those, the ones computed directly on the integers (value-preserving: they only move,
# select or take the max of values, so integers in = integers out, bit-exact).
DIRECT = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "GatherElements",
          "Split", "Pad", "Tile", "Expand", "Identity", "DepthToSpace", "SpaceToDepth", "MaxPool",
          "GlobalMaxPool", "ReduceMax", "ReduceMin")


def is_direct(node: Node) -> bool:
    """Value-preserving on integers: the DIRECT ops, and Resize/Upsample in nearest mode
    (except tf_crop_and_resize)."""
    if node.op_type in DIRECT:
        return True
    def attr(k, d):
        v = node.attrs.get(k, d)
        return v.decode() if isinstance(v, bytes) else str(v)
    # tf_crop_and_resize writes extrapolation_value (a float) outside the box: not value-preserving
    return (node.op_type in ("Resize", "Upsample") and attr("mode", "nearest") == "nearest"
            and attr("coordinate_transformation_mode", "half_pixel") != "tf_crop_and_resize")


def data_slots(node: Node) -> set[int]:
    idx = DATA_INPUTS.get(node.op_type, (0,))
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
