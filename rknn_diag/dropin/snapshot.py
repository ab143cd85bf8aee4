"""accuracy_analysis as either generation's scripts call it.

* The layout of `output_dir` follows the script's generation (`dropin.generation`): toolkit2
  scripts read `golden/<tensor>.txt`, `simulator/<tensor>.txt`, `error_analysis.txt`; 1.x
  scripts the fp32/entire_qnt/individual_qnt folders (rknn_diag.quant.analysis).
* 1.x scripts pass `inputs='./dataset.txt'`: the first sample listed there is analysed (the
  vendor's 1.x guide describes the dataset form; one sample keeps the dumps one set).
* `output_dir=None` (toolkit2's hybrid example) means the default `./snapshot`.
* `target=CHIP` (toolkit2's npu_device_test): the quantized model also runs on that board and
  each layer's board output is compared (`runtime/`, the runtime_error columns). Like the
  vendor's runtime, which dumps every layer, the board runs a variant of the model whose layer
  outputs are all graph outputs (`board_variant`), through the same runner as inference() on a
  board; its outputs come back as float in the simulator's shapes (`board_outputs`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import platforms
from ..errors import ConfigError, RknnDiagError, TargetError
from ..ir import Value
from ..log import Logger
from ..model import BuiltModel
from . import generation

DEFAULT_DIR = "./snapshot"

# The chips toolkit2's accuracy_analysis(target=...) names (API reference 2.3.2, accuracy_analysis).
BOARD_CHIPS = ("rv1103", "rv1103b", "rv1106", "rv1106b", "rv1126b", "rk3562", "rk3566", "rk3568", "rk3576",
               "rk3588")
_SIMULATOR_ONLY = "leave target=None to analyse on the simulator"


def layout_for(script_generation: str | None, target_platform: list[str]) -> str:
    gen = script_generation or generation.of_platforms(target_platform)
    return "toolkit1" if gen == generation.TOOLKIT1 else "toolkit2"


def sample_paths(inputs: Any, n_inputs: int, log: Logger) -> Any:
    """The dataset-file form (`inputs='dataset.txt'`) -> that file's first sample's paths;
    any other form is returned as it is."""
    if isinstance(inputs, (str, os.PathLike)) and Path(inputs).suffix.lower() == ".txt":
        from ..quant.dataset import read_lines

        first = read_lines(inputs, n_inputs)[0]
        log.i(f"accuracy_analysis: analysing the first sample of {inputs} (line {first.lineno}: "
              f"{' '.join(p.name for p in first.paths)})")
        return [str(p) for p in first.paths]
    return inputs


def board_chip(target: Any, layout: str) -> str:
    """The chip of accuracy_analysis(target=...); refused, typed, where no board comparison exists."""
    chip = str(target).lower()
    if chip not in platforms.CHIPS:
        raise ConfigError(f"accuracy_analysis: unknown target '{target}'",
                          fix=f"use one of {', '.join(BOARD_CHIPS)}, or {_SIMULATOR_ONLY}")
    if chip not in BOARD_CHIPS or layout != "toolkit2":
        raise TargetError(f"accuracy_analysis on a {chip} board is not available: a board's per-layer outputs "
                          f"are compared for toolkit2's chips ({', '.join(BOARD_CHIPS)}); toolkit 1.x "
                          f"scripts get the 1.x layout, which has no board column",
                          fix=f"{_SIMULATOR_ONLY}; init_runtime(target='{chip}') and inference() compare the "
                              f"model's outputs on the board")
    return chip


def board_variant(model: BuiltModel) -> tuple[BuiltModel, list[str]]:
    """The quantized model with every layer's output a graph output, and those tensors in order.
    Same graph and quantization; float outputs (no merged dequantize), batch 1, one shape set."""
    graph = copy.copy(model.graph)
    tensors = list(dict.fromkeys(o for n in graph.nodes for o in n.outputs if o))
    graph.outputs = [Value(t) for t in tensors]
    graph.meta = {k: v for k, v in graph.meta.items() if k != "integer_outputs"}
    config = copy.copy(model.config)
    config.recorded = {k: v for k, v in config.recorded.items() if k != "merge_dequant_layer_and_output_node"}
    build = {k: v for k, v in model.build.items() if k != "shape_set_models"}   # dropin.dynamic.KEY
    return dataclasses.replace(model, graph=graph, config=config, rknn_batch_size=1, build=build), tensors


def board_inputs(raw: list[tuple[np.ndarray, str, bool]]) -> list[np.ndarray]:
    """quant.dataset.raw_sample's arrays in one layout, NCHW: the board runner takes one data_format."""
    return [a.transpose(0, 3, 1, 2) if fmt == "nhwc" and a.ndim == 4 else a for a, fmt, _ in raw]


def board_outputs(outputs: list[np.ndarray], order: list[str], wanted: dict[str, tuple],
                  board: str) -> dict[str, np.ndarray]:
    """The runner's outputs (one per tensor of `order`) -> {tensor: float32 array} for the
    `wanted` tensors, in the simulator's shapes. A 4-D output that arrives NHWC is turned back to
    NCHW (a shape equal to the simulator's is taken as it is)."""
    where = f"board {board}, accuracy_analysis"
    if len(outputs) != len(order):
        raise TargetError(f"board {board}: the runner returned {len(outputs)} outputs for the {len(order)} layer "
                          f"outputs of the analysis model", where=where,
                          fix="update the board runner (rknn_diag.board.runner) and rerun")
    got = dict(zip(order, outputs))
    out = {}
    for name, shape in wanted.items():
        a = np.asarray(got[name])
        if a.dtype.kind != "f":
            raise TargetError(f"board {board}: layer output '{name}' came back as {a.dtype}, not dequantized to "
                              f"float", where=where,
                              fix="the board runner must return float outputs (RKNNLite's default); update it")
        shape = tuple(shape)
        if a.shape != shape:
            if len(shape) == 4 and a.shape == (shape[0], shape[2], shape[3], shape[1]):
                a = a.transpose(0, 3, 1, 2)
            elif a.size == int(np.prod(shape)):
                a = a.reshape(shape)
            else:
                raise TargetError(f"board {board}: layer output '{name}' has shape {list(a.shape)}, the "
                                  f"simulator's {list(shape)}", where=where,
                                  fix="check the board's runtime matches the model (rknn-doctor)")
        out[name] = a.astype(np.float32, copy=False)
    return out


def board_failed(e: RknnDiagError, output_dir: str) -> RknnDiagError:
    """A board fault during the analysis, as its own type, saying what was kept."""
    cls = type(e) if type(e).__init__ is RknnDiagError.__init__ else TargetError
    return cls(f"the board run failed ({e.message}); the simulator's analysis is in "
                   f"{output_dir}, without the runtime/ part", where=e.where,
                   fix=(e.fix + "; then rerun accuracy_analysis") if e.fix else
                   "check the board (`adb devices`, rknn-doctor) and rerun accuracy_analysis", ref=e.ref)
