"""hybrid_quantization_step1's file names, as each generation's step-2 scripts expect them.

toolkit2: `<model file stem>.model`, `.data`, `.quantization.cfg` (its hybrid_quant example:
          ssd_mobilenet_v2.pb -> ssd_mobilenet_v2.model ...); the cfg's layer table is
          `custom_quantize_layers`.
1.x:      named after the ONNX graph's name with everything but letters and digits dropped
          (a torch export's 'torch-jit-export' -> torchjitexport.json, .data, .quantization.cfg,
          as its accuracy_analysis example reads them); other frontends and nameless graphs use
          the model file's stem. The cfg's layer table is `customized_quantize_layers`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..ir import Graph
from . import generation


def names(graph: Graph, script_generation: str) -> tuple[str, str, str]:
    """(base name, model-file extension, cfg layer-table key)."""
    stem = Path(str(graph.meta.get("source", graph.name))).stem or "model"
    if script_generation == generation.TOOLKIT1:
        from_graph = re.sub(r"[^A-Za-z0-9]", "", graph.name or "")
        is_onnx = str(graph.meta.get("source", "")).lower().endswith(".onnx")
        return (from_graph if is_onnx and from_graph else stem), "json", "customized_quantize_layers"
    return stem, "model", "custom_quantize_layers"
