"""accuracy_analysis as either generation's scripts call it.

* The layout of `output_dir` follows the script's generation (`dropin.generation`): toolkit2
  scripts read `golden/<tensor>.txt`, `simulator/<tensor>.txt`, `error_analysis.txt`; 1.x
  scripts the fp32/entire_qnt/individual_qnt folders (rknn_diag.quant.analysis).
* 1.x scripts pass `inputs='./dataset.txt'`: the first sample listed there is analysed (the
  vendor's 1.x guide describes the dataset form; one sample keeps the dumps one set).
* `output_dir=None` (toolkit2's hybrid example) means the default `./snapshot`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..log import Logger
from . import generation

DEFAULT_DIR = "./snapshot"


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
