"""Channel equalization before 8-bit calibration: conv -> (ReLU) -> depthwise conv.

A tensor between a convolution and the depthwise convolution(s) reading it is quantized per
tensor, so one wide channel sets the step of all the others (PP-OCRv4 det: channels spanning
0.5 to 137 in one int8 tensor). Scaling channel c of that tensor by s_c > 0 — the producer's
weights and bias of output channel c times s_c, the depthwise weights of channel c divided by
it — leaves the float model's function unchanged when every activation between them is
positively homogeneous (ReLU: relu(s·x) = s·relu(x)). With per-channel weight quantization
both convolutions' weight codes are unchanged too (each channel's scale follows its weights),
so only the shared tensor gains: every narrow channel is stretched towards the tensor's
calibrated range (cross-layer equalization, Nagel et al. 2019, "Data-Free Quantization", sec. 4.1; here
with the calibration data's channel ranges).

The scales are kept in `BuiltModel.quant["equalized"]` ({producer node: [s_c ...]}) so other
shape sets of a dynamic_input build get the same weights (`apply`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..ir import Graph, Node
from ..log import Logger
from ..sim.reference import run_float32

# activations f with f(s·x) = s·f(x) for s > 0, per channel (PRelu's slope is per channel too)
HOMOGENEOUS = frozenset({"Relu", "LeakyRelu", "PRelu"})
MAX_SCALE = 64.0     # a nearly silent calibration channel is not blown up past this
# A channel is stretched to half the tensor's range, not all of it: a narrow channel's maximum
# over a few calibration images undershoots its maximum on other images more than the widest
# channel's does. Stretched all the way, MobileNetV3-small's held-back cosine fell on one image
# set of 48 (0.99759 -> 0.99429) while rising on another; at one half it rose or held on every
# set tried (det 16/32 images +2e-3/+5e-4, MobileNetV3 16/32/48 images +1.5e-4/+4.5e-4/+2e-6).
HEADROOM = 0.5


def _depthwise_reader(graph: Graph, node: Node, channels: int) -> bool:
    if node.op_type != "Conv" or len(node.inputs) < 2 or node.inputs[1] not in graph.constants:
        return False
    w = np.asarray(graph.constants[node.inputs[1]])
    return node.attrs.get("group", 1) == channels and w.ndim >= 3 and w.shape[:2] == (channels, 1)


def pairs(graph: Graph) -> list[tuple[Node, list[Node]]]:
    """(producer, its depthwise readers) where equalization is exact: a Conv with constant
    weights and bias, only homogeneous fused activations, whose output is no model output and
    is read only, as data input, by depthwise convolutions of its channel count."""
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    uses: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    found = []
    for p in graph.nodes:
        if p.op_type != "Conv" or len(p.inputs) < 3 or not all(i in graph.constants for i in p.inputs[1:3]):
            continue
        if any(op.op_type not in HOMOGENEOUS for op in p.post_ops) or len(p.outputs) != 1:
            continue
        t = p.outputs[0]
        readers = consumers.get(t, [])
        channels = np.shape(graph.constants[p.inputs[1]])[0]
        if t in outputs or not readers:
            continue
        if not all(r.inputs[0] == t and t not in r.inputs[1:] and _depthwise_reader(graph, r, channels)
                   for r in readers):
            continue
        own = [p.inputs[1], p.inputs[2]] + [r.inputs[1] for r in readers]   # the constants it rescales
        if all(uses.get(c) == 1 for c in own):
            found.append((p, readers))
    return found


class ChannelRanges:
    """A `run_float32` hook: per-channel (axis 1) min and max of the given tensors, in float32."""

    def __init__(self, tensors: set[str]):
        self.tensors = tensors
        self.lo: dict[str, np.ndarray] = {}
        self.hi: dict[str, np.ndarray] = {}

    def __call__(self, node: Node, outs: list[np.ndarray]) -> None:
        t = node.outputs[0]
        if t in self.tensors:
            v = np.asarray(outs[0], np.float32)
            axes = tuple(i for i in range(v.ndim) if i != 1)
            self.lo[t] = np.minimum(self.lo.get(t, np.inf), v.min(axis=axes))
            self.hi[t] = np.maximum(self.hi.get(t, -np.inf), v.max(axis=axes))

    @property
    def ranges(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {t: (self.lo[t], self.hi[t]) for t in self.lo}


def channel_ranges(graph: Graph, tensors: set[str], samples: Iterable[list[np.ndarray]]) -> dict[str, tuple]:
    """Per-channel (axis 1) min and max of `tensors` over the samples, in float32."""
    seen = ChannelRanges(tensors)
    for feeds in samples:
        run_float32(graph, feeds, seen)
    return seen.ranges


def scales_for(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """s_c stretching each channel to HEADROOM of the way to an end of the tensor's range
    [L, H] (the tensor's own range, and the channels already that wide, stay as they were)."""
    big_l, big_h = min(float(lo.min()), 0.0), max(float(hi.max()), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(hi > 0, big_h / hi, np.inf)
        down = np.where(lo < 0, big_l / lo, np.inf)
    s = np.minimum(np.minimum(up, down) * HEADROOM, MAX_SCALE)
    return np.where(np.isfinite(s) & (s > 1.0), s, 1.0).astype(np.float32)


def apply(graph: Graph, scales: dict[str, list[float]]) -> None:
    """Scale the producers named in `scales` and divide their depthwise readers (in place)."""
    nodes = {n.name: n for n in graph.nodes}
    readers = {p.name: rs for p, rs in pairs(graph)}
    for name, s in scales.items():
        if name not in readers:
            raise ValueError(f"equalized layer '{name}' is not a conv -> depthwise conv pair in this graph")
        p = nodes[name]
        s = np.asarray(s, np.float32)
        w = np.asarray(graph.constants[p.inputs[1]], np.float32)
        shape = (-1,) + (1,) * (w.ndim - 1)
        graph.constants[p.inputs[1]] = w * s.reshape(shape)
        graph.constants[p.inputs[2]] = np.asarray(graph.constants[p.inputs[2]], np.float32) * s
        for r in readers[name]:
            dw = np.asarray(graph.constants[r.inputs[1]], np.float32)
            graph.constants[r.inputs[1]] = dw / s.reshape((-1,) + (1,) * (dw.ndim - 1))


def equalize_with(graph: Graph, found: list[tuple[Node, list[Node]]], ranges: dict[str, tuple],
                  log: Logger | None = None) -> dict[str, list[float]]:
    """Equalize the pairs `found` on the channel ranges seen; returns the scales applied."""
    scales = {}
    for p, _ in found:
        if p.outputs[0] in ranges:
            s = scales_for(*ranges[p.outputs[0]])
            if (s > 1.0).any():
                scales[p.name] = [float(x) for x in s]
    apply(graph, scales)
    if log is not None and scales:
        widest = max(max(s) for s in scales.values())
        log.i(f"equalized the channels of {len(scales)} conv -> depthwise conv tensor(s) before 8-bit "
              f"calibration (channel scales up to {widest:.3g}; the float model's outputs are unchanged)")
    return scales


def equalize(graph: Graph, samples: Iterable[list[np.ndarray]], log: Logger | None = None) -> dict[str, list[float]]:
    """Equalize every eligible pair on the samples' channel ranges (a pass of its own)."""
    found = pairs(graph)
    if not found:
        return {}
    return equalize_with(graph, found, channel_ranges(graph, {p.outputs[0] for p, _ in found}, samples), log)
