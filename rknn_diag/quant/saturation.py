"""Calibrated ranges narrowed to where the tensor's readers can still tell values apart.

A tensor read only by functions that saturate (HardSwish is 0 for x <= -3, HardSigmoid is
constant outside [-beta/alpha, (1-beta)/alpha], Relu below 0, Clip outside its bounds) needs no
codes for the saturated part: clamping there changes no reader's output, and the codes go to
the part that matters. Sigmoid and Tanh never reach their limits, so they are clipped where they
come within a quarter of an output step of them (an error below the reader's own rounding, and
clear of the rounding tie at half a step, where two correct implementations could round apart). The vendor's
converter does the same (its hybrid_quantization_step1 cfg shows min -3 before HardSwish, ±2.5
or ±3 before HardSigmoid, ±7 before the final Sigmoid of PP-OCRv4 det, next to the unclipped
`ori_min`/`ori_max`); a conv output spanning [-147, 105] in front of a Sigmoid otherwise leaves
one code per unit of logit, a quarter of the Sigmoid's range per step near 0.
"""

from __future__ import annotations

import math

from ..ir import Graph, Node
from ..qrules.schemes import Scheme

# limits of exactly saturating readers; None = unbounded on that side
_EXACT = ("HardSwish", "HardSigmoid", "Relu", "Clip")
_SMOOTH = ("Sigmoid", "Tanh")


def _exact_limits(graph: Graph, node: Node) -> tuple[float | None, float | None] | None:
    """Input bounds outside which `node`'s output no longer changes; None when it does not saturate
    (or has fused post-ops, which are applied after and keep the limits)."""
    op = node.op_type
    if op == "HardSwish":
        return -3.0, None
    if op == "HardSigmoid":
        a, b = float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5))
        if a <= 0:
            return None
        return -b / a, (1.0 - b) / a
    if op == "Relu":
        return 0.0, None
    if op == "Clip":
        return graph.clip_bounds(node)
    return None


def _smooth_limit(node: Node, out_step: float) -> float | None:
    """|x| beyond which Sigmoid/Tanh is within a quarter of an output step of its limit (8-bit
    Sigmoid: ln(4·255 - 1) = 6.93; the vendor clips at 7)."""
    quarter = out_step / 4
    if not quarter > 0:
        return None
    if node.op_type == "Sigmoid":
        return math.log(1.0 / quarter - 1.0) if quarter < 0.5 else None     # 1 - sigmoid(t) = quarter
    if node.op_type == "Tanh":
        return math.atanh(1.0 - quarter) if quarter < 1.0 else None
    return None


def _step(rng: list[float] | None, scheme: Scheme) -> float:
    """The finest output step a range can get under `scheme` (pow2 scales are only coarser)."""
    if rng is None:
        return 0.0
    qlo, qhi = scheme.qrange
    lo, hi = min(rng[0], 0.0), max(rng[1], 0.0)
    if scheme.symmetric:
        return max(-lo, hi) / qhi
    return (hi - lo) / (qhi - qlo)


def clip_ranges(graph: Graph, ranges: dict[str, list[float]], scheme_of, float_layers: set[str]) -> dict[str, list[float]]:
    """`ranges` with each tensor read only by saturating layers narrowed to their limits.
    `scheme_of(tensor)` gives a tensor's activation scheme; `float_layers` are the layers that
    run in float16 (they see every clipping error, so only exact clipping applies to them)."""
    consumers = graph.consumers()
    outputs = {v.name for v in graph.outputs}
    out = dict(ranges)
    for name, (lo, hi) in ranges.items():
        readers = consumers.get(name, [])
        if not readers or name in outputs or name in graph.constants:
            continue
        lows, highs = [], []
        for r in readers:
            if not r.inputs or r.inputs[0] != name or name in r.inputs[1:]:
                break                                        # read as a parameter or twice
            lim = _exact_limits(graph, r) if r.op_type in _EXACT else None
            if lim is None and r.op_type in _SMOOTH and r.name not in float_layers and r.outputs:
                t = _smooth_limit(r, _step(ranges.get(r.outputs[0]), scheme_of(r.outputs[0])))
                lim = None if t is None else (-t, t)
            if lim is None:
                break
            lows.append(lim[0])
            highs.append(lim[1])
        else:
            # the union of what the readers can tell apart; a side is bounded only if every reader bounds it
            new_lo = lo if any(v is None for v in lows) else max(lo, min(lows))
            new_hi = hi if any(v is None for v in highs) else min(hi, max(highs))
            if new_lo < new_hi:                             # else every value is saturated: keep the range
                out[name] = [float(new_lo), float(new_hi)]
    return out
