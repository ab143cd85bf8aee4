"""Quantization (`build(do_quantization=True, dataset=...)`).

Modes (`config(quantized_dtype=...)`; aliases and the chip table in `rknn_diag.platforms`):

    mode                      activations            weights                         chips
    asymmetric_quantized-u8   uint8 asymmetric       uint8 asymmetric, per layer     RKNPU1 (default)
    dynamic_fixed_point-i8    int8, scale 2^-fl      int8, 2^-fl, per layer          RKNPU1
    dynamic_fixed_point-i16   int16, scale 2^-fl     int16, 2^-fl, per layer         RKNPU1
    w8a8                      int8 asymmetric        int8 asymmetric, channel|layer  RKNPU2 (default)
    w8a16                     int16 symmetric        int8 symmetric, channel|layer   rk3562
    w16a16i_dfp               int16, scale 2^-fl     int16, 2^-fl, per layer         rv1103/rv1106
    w4a16                     int16 symmetric        int4 symmetric, groups of 32..256 input channels
                                                                                     rk3576/rv1126b

w8a8 keeps tensors inside a layer the NPU fuses at 16 bits (`qrules.roles.wide_tensors`): a conv
output that an Add alone reads (the Add runs in the conv's accumulator), and an attention's
scores and probabilities (MatMul -> Softmax -> MatMul is one layer). The weight scheme is the
vendor simulator's, read from its per-layer errors (tests/toolkit2/test_vendor_layer_errors.py).
Modes with 8-bit activations and per-channel weights also equalize the channels of each
conv -> ReLU -> depthwise conv tensor before calibration (`equalize`; the vendor does not).

Modules: `dataset` (dataset.txt), `observers` (normal / kl_divergence / mmse), `equalize`,
`quantizer` (graph -> `BuiltModel.quant`), `qdq` (the ONNX QDQ twin, the quantized reference),
`qdq_import` (QDQ models built with do_quantization=False), `analysis` (accuracy_analysis),
`hybrid` (hybrid_quantization_step1/2). The integer simulator is `rknn_diag.sim.int_sim`.
The rules both use sit below both in `rknn_diag.qrules`: `schemes` (the formulas and rounding
rules, one place) and `roles` (which inputs are data, weights, biases — derived from each op's
registry entry, `OpSpec.quant`).
"""

from __future__ import annotations

from typing import Any

from ..config import RknnConfig
from ..ir import Graph
from ..log import Logger


def quantize_graph(graph: Graph, cfg: RknnConfig, dataset: str, log: Logger | None = None,
                   layers: dict[str, str] | None = None, equalize: bool = True) -> dict[str, Any]:
    """Calibrate `graph` on `dataset` (streamed, batch_size × epochs samples) -> BuiltModel.quant.
    In modes with 8-bit activations and per-channel weights the graph's conv -> depthwise
    channels are equalized first (`quant.equalize`, in place; `equalize=False` for a graph
    that already was, as hybrid step 2's)."""
    from . import equalize as eq
    from .dataset import stream
    from .quantizer import build_quant, resolve_method
    from ..qrules.schemes import MODES

    if not graph.inputs:  # nothing to feed: the graph's values do not depend on any data
        if log is not None:
            log.w("the model has no inputs; the dataset is not used for calibration")
        return build_quant(graph, cfg, [[]], log, layers)
    eligible = equalize and MODES[cfg.dtype].act.dtype in ("int8", "uint8") and \
        resolve_method(cfg, cfg.dtype) == "channel"
    found = eq.pairs(graph) if eligible else []
    if not found:
        return build_quant(graph, cfg, stream(dataset, graph.inputs, cfg, log), log, layers)
    scales: dict[str, list[float]] = {}
    if cfg.quantized_algorithm == "normal":
        # One pass: an equalized tensor keeps its min/max (its channels stretch to at most
        # equalize.HEADROOM of it) and no other tensor changes, so min/max calibration before
        # equalizing holds after it; only the weights are chosen after.
        seen = eq.ChannelRanges({p.outputs[0] for p, _ in found})
        quant = build_quant(graph, cfg, stream(dataset, graph.inputs, cfg, log), log, layers, seen,
                            lambda g: scales.update(eq.equalize_with(g, found, seen.ranges, log)))
    else:   # histograms change with the channels: equalize first, then calibrate
        scales = eq.equalize(graph, stream(dataset, graph.inputs, cfg, log, progress=False), log)
        quant = build_quant(graph, cfg, stream(dataset, graph.inputs, cfg, log), log, layers)
    if scales:
        quant["equalized"] = scales
    return quant
