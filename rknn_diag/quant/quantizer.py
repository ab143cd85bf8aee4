"""Graph -> quantized BuiltModel: calibrate ranges, choose every tensor's parameters.

`BuiltModel.quant` (JSON + arrays, no pickle) holds:
    mode          canonical quantized dtype
    method        weight granularity (layer / channel / groupN)
    algorithm     calibration algorithm
    ranges        {tensor: [lo, hi]} calibrated float ranges (so hybrid step 2 re-chooses without data)
    tensors       {tensor: QParams dict} every quantized activation and data constant
    weights       {constant: QParams dict} every quantized weight
    layers        {node: 'float16' | 'int16' | 'int8' | 'uint8'} per-layer overrides (hybrid quantization)
    saturated     {tensor: [lo, hi]} ranges narrowed to where their readers saturate (quant.saturation)
Biases are int32 at input scale × weight scale, derived (`qrules.roles.bias_qparams`), not stored.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..config import RknnConfig
from ..errors import ConfigError
from ..ir import Graph, Node
from ..log import Logger
from ..qrules import roles
from ..qrules.schemes import MODES, QParams, Scheme, params_from_range, weight_params
# The float32 reference run lives in sim/ (quant calls down into sim); re-exported for callers.
from ..sim.reference import run_float32, run_node_float  # noqa: F401
from .observers import Observer
from .saturation import clip_ranges


# ---- calibration ---------------------------------------------------------------------------------
def calibrate(graph: Graph, samples: Iterable[list[np.ndarray]], algorithm: str,
              hook: Callable[[Node, list[np.ndarray]], None] | None = None) -> dict[str, list[float]]:
    """Observe every float activation over the samples; return {tensor: [lo, hi]} per the algorithm.
    Constants are observed once, always min/max (they are what they are). `hook` sees every
    node's outputs too (a statistic gathered in the same pass)."""
    observers: dict[str, Observer] = {}

    def see(name: str, val: np.ndarray) -> None:
        if name and isinstance(val, np.ndarray) and val.dtype.kind == "f":
            observers.setdefault(name, Observer(algorithm)).update(val)

    def seen(node: Node, outs: list[np.ndarray]) -> None:
        for o, val in zip(node.outputs, outs):
            see(o, val)
        if hook is not None:
            hook(node, outs)

    count = 0
    for feeds in samples:
        count += 1
        for v, x in zip(graph.inputs, feeds):
            see(v.name, np.asarray(x))
        run_float32(graph, feeds, seen)
    if count == 0:
        raise ConfigError("calibration got no samples", ref="1.4.3")
    return {"__observers__": observers}  # resolved to ranges by `ranges_for`


def ranges_for(observed: dict[str, Any], scheme: Scheme) -> dict[str, list[float]]:
    return {k: [float(a) for a in o.range(scheme)] for k, o in observed["__observers__"].items()}


def const_ranges(graph: Graph) -> dict[str, list[float]]:
    """Data constants (e.g. an Add's constant operand): their own min/max."""
    out = {}
    for node in graph.nodes:
        for i in roles.data_slots(node):
            name = node.inputs[i]
            if name in graph.constants and np.asarray(graph.constants[name]).dtype.kind == "f":
                if i == 1 and roles.weight_name(graph, node) == name:
                    continue
                c = np.asarray(graph.constants[name], np.float32)
                out[name] = [float(c.min(initial=0.0)), float(c.max(initial=0.0))]
    return out


# ---- choosing parameters -------------------------------------------------------------------------
def layer_scheme(base: Scheme, dtype: str) -> Scheme:
    """The scheme of a layer moved to another integer dtype by hybrid quantization."""
    if dtype == base.dtype:
        return base
    if dtype == "uint8":
        return Scheme("uint8", False)
    return Scheme(dtype, base.symmetric if dtype != "uint8" else False, base.pow2)


def assign(graph: Graph, ranges: dict[str, list[float]], mode: str, method: str,
           layers: dict[str, str] | None = None, edits: dict[str, dict] | None = None) -> dict[str, Any]:
    """Every tensor's QParams from the calibrated ranges, the mode, per-layer overrides and the
    user's edited parameters (hybrid step 2). Deterministic: same inputs, same parameters."""
    m = MODES[mode]
    layers = dict(layers or {})
    edits = edits or {}
    producers = graph.producers()
    consumers = graph.consumers()
    tensors: dict[str, QParams] = {}

    wide = roles.wide_tensors(graph) if m.wide_fused else set()

    def act_scheme(tensor: str) -> Scheme:
        p = producers.get(tensor)
        dt = layers.get(p.name) if p is not None else None
        scheme = layer_scheme(m.act, dt) if dt and dt != "float16" else m.act
        if tensor in wide and scheme.dtype == "int8":
            return layer_scheme(scheme, "int16")   # inside a fused layer (roles.wide_tensors)
        return scheme

    # activations and data constants from their ranges; a graph input that only float16
    # layers read stays float (its NaN/infinity reach them as they are)
    calibrated = ranges
    ranges = clip_ranges(graph, ranges, act_scheme, {n for n, d in layers.items() if d == "float16"})
    float_inputs = {v.name for v in graph.inputs
                    if consumers.get(v.name) and all(layers.get(c.name) == "float16" for c in consumers[v.name])}
    for name, (lo, hi) in ranges.items():
        if name not in float_inputs:
            tensors[name] = params_from_range(lo, hi, act_scheme(name))
    # shared scales, in topological order
    for node in graph.nodes:
        if node.op_type in roles.SHARE_SCALE and node.inputs and node.inputs[0] in tensors:
            for out in node.outputs:
                if out in tensors:
                    tensors[out] = tensors[node.inputs[0]]
        if node.op_type == "Concat" and node.outputs[0] in tensors:
            qo = tensors[node.outputs[0]]
            for i in node.inputs:
                p = producers.get(i)
                if (p is not None and i in tensors and p.op_type not in roles.SHARE_SCALE
                        and p.op_type != "Concat" and len(consumers.get(i, [])) == 1
                        and i not in {v.name for v in graph.outputs}):
                    tensors[i] = qo
    # user edits win (hybrid step 2)
    for name, e in edits.items():
        if name in tensors:
            tensors[name] = QParams.from_dict({**tensors[name].to_dict(), **e})
    weights: dict[str, QParams] = {}
    for node in graph.nodes:
        w = roles.weight_name(graph, node)
        if w is None or layers.get(node.name) == "float16":
            continue
        arr = np.asarray(graph.constants[w], np.float32)
        dt = layers.get(node.name)
        scheme = layer_scheme(m.weight, "int16") if dt == "int16" else m.weight
        gran = roles.granularity_for(node, arr, method if method else m.granularity)
        if scheme.dtype != "int4" and gran.startswith("group"):
            gran = "channel"
        weights[w] = weight_params(arr, scheme, gran, roles.weight_axis(node, arr))
        if w in edits:
            weights[w] = QParams.from_dict({**weights[w].to_dict(), **edits[w]})
    return {"tensors": {k: v.to_dict() for k, v in tensors.items()},
            "weights": {k: v.to_dict() for k, v in weights.items()},
            # ranges narrowed to their readers' saturation (quant.saturation): accuracy_analysis
            # compares such a tensor with its float value clamped the same way
            "saturated": {k: v for k, v in ranges.items() if v != calibrated.get(k)}}


def resolve_method(cfg: RknnConfig, mode: str) -> str:
    """The weight granularity in force: the config's for modes that take one, else the mode's own."""
    m = MODES[mode]
    if m.granularity == "layer":
        return "layer"            # RKNPU1 modes and 16-bit dynamic fixed point quantize weights per layer
    return cfg.quantized_method


def build_quant(graph: Graph, cfg: RknnConfig, samples: Iterable[list[np.ndarray]],
                log: Logger | None = None, layers: dict[str, str] | None = None,
                hook: Callable[[Node, list[np.ndarray]], None] | None = None,
                before_assign: Callable[[Graph], None] | None = None) -> dict[str, Any]:
    """Calibrate on `samples` and choose every parameter: the `BuiltModel.quant` dict. `hook`
    rides along the calibration pass; `before_assign` may change the weights after it."""
    mode = cfg.dtype
    observed = calibrate(graph, samples, cfg.quantized_algorithm, hook)
    if before_assign is not None:
        before_assign(graph)
    ranges = ranges_for(observed, MODES[mode].act)
    ranges.update(const_ranges(graph))
    method = resolve_method(cfg, mode)
    layers = float_only_layers(graph, layers, log, mode)
    q = assign(graph, ranges, mode, method, layers)
    return {"mode": mode, "method": method, "algorithm": cfg.quantized_algorithm, "ranges": ranges,
            "layers": layers, **q}


def float_only_layers(graph: Graph, layers: dict[str, str] | None, log: Logger | None = None,
                      mode: str | None = None) -> dict[str, str]:
    """The per-layer table with every layer that needs NaN/infinity (`roles.NONFINITE_OPS`)
    kept in float16, as the vendor keeps such layers out of the integer path: a quantized
    IsNaN would silently answer False everywhere. In a mode with 8-bit activations, a Softmax
    writing a model output stays float16 too: rknn-toolkit2 2.5.0 returns it in float16 computed
    from the quantized logits (measured on its caffe/mobilenet_v2 example, bench/dropin_examples.py),
    where an 8-bit output would leave a 1000-class softmax a handful of levels."""
    out = dict(layers or {})
    outputs = {v.name for v in graph.outputs} if mode and MODES[mode].act.dtype in ("int8", "uint8") else set()
    # through layout-only layers (SSD's conf: Softmax -> Flatten) the Softmax still writes the
    # output; those layers stay float16 with it
    layout = {}
    for node in reversed(graph.nodes):
        if node.op_type in ("Reshape", "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze") and \
                set(node.outputs) & outputs:
            outputs.add(node.inputs[0])
            layout[node.inputs[0]] = node
    for node in graph.nodes:
        if node.op_type in roles.NONFINITE_OPS and out.get(node.name) != "float16":
            out[node.name] = "float16"
            if log is not None:
                log.i(f"layer '{node.name}' ({node.op_type}) stays float16: NaN and infinity have no integer form")
        elif node.op_type == "Softmax" and set(node.outputs) & outputs and node.name not in out:
            out[node.name] = "float16"
            after = layout.get(node.outputs[0])
            while after is not None and after.name not in out:
                out[after.name] = "float16"
                after = layout.get(after.outputs[0])
            if log is not None:
                log.i(f"layer '{node.name}' (Softmax) writes a model output: it stays float16, as the vendor "
                      f"returns it")
    return out


def shift_to_int8(quant: dict[str, Any]) -> dict[str, Any]:
    """The int8 twin of a u8 quantization (NNAPI's coupling idea): every uint8 tensor and weight
    becomes int8 with zero point - 128, the same real values. Integer kernels see the same
    centred integers (q - zero_point), so results must be identical after dequantization."""
    def shift(d: dict) -> dict:
        if d["dtype"] != "uint8":
            return d
        return {**d, "dtype": "int8", "zero_point": np.asarray(d["zero_point"], np.int32) - 128}

    out = dict(quant)
    out["tensors"] = {k: shift(v) for k, v in quant["tensors"].items()}
    out["weights"] = {k: shift(v) for k, v in quant["weights"].items()}
    return out
