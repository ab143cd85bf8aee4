"""Quantization: schemes (formulas), dataset (dataset.txt), observers (calibration),
quantizer (graph -> parameters), qdq (the ONNX QDQ twin), hybrid and analysis (§2.1 tools)."""

from __future__ import annotations

from typing import Any

from ..config import RknnConfig
from ..ir import Graph
from ..log import Logger


def quantize_graph(graph: Graph, cfg: RknnConfig, dataset: str, log: Logger | None = None,
                   layers: dict[str, str] | None = None) -> dict[str, Any]:
    """Calibrate `graph` on `dataset` (streamed, batch_size × epochs samples) -> BuiltModel.quant."""
    from .dataset import stream
    from .quantizer import build_quant

    if not graph.inputs:  # nothing to feed: the graph's values do not depend on any data
        if log is not None:
            log.w("the model has no inputs; the dataset is not used for calibration")
        return build_quant(graph, cfg, [[]], log, layers)
    return build_quant(graph, cfg, stream(dataset, graph.inputs, cfg, log), log, layers)
