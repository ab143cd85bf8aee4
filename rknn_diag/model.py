"""A built model: the optimised graph plus everything the build decided."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import RknnConfig
from .ir import Graph


@dataclass
class BuiltModel:
    graph: Graph
    config: RknnConfig
    mode: str = "float16"                 # float16, or the canonical quantized dtype
    rknn_batch_size: int = 1
    build: dict[str, Any] = field(default_factory=dict)    # build() arguments, dataset path ...
    quant: dict[str, Any] = field(default_factory=dict)    # per-tensor quantization parameters
    toolkit_version: str = __version__
    created: float = field(default_factory=time.time)

    @property
    def target_platform(self) -> list[str]:
        return self.config.target_platform
