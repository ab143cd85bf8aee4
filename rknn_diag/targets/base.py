"""One interface over every place a model can run: our simulator, the vendor's
toolkit2 simulator, a board. The conformance suite, the doctor and the reports
see only this."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class BuildSpec:
    """What to do with a model: the arguments of config()/load_onnx()/build()/inference()."""

    config: dict[str, Any] = field(default_factory=dict)       # RKNN.config(**config)
    do_quantization: bool = False
    dataset: str | None = None                                  # dataset.txt path
    rknn_batch_size: int = 1
    data_format: str = "nchw"                                   # how inputs are laid out
    load_inputs: list[str] | None = None                        # load_onnx(inputs=...)
    load_outputs: list[str] | None = None                       # load_onnx(outputs=...)
    input_size_list: list[list[int]] | None = None
    export_path: str | None = None                              # keep the built model file here
    # A framework loader instead of load_onnx(model_path): (method, kwargs), e.g.
    # ("load_caffe", {"model": "m.prototxt", "blobs": "m.caffemodel"}); model_path is then a label.
    load: tuple[str, dict[str, Any]] | None = None

    @property
    def mode(self) -> str:
        if not self.do_quantization:
            return "float16"
        return str(self.config.get("quantized_dtype") or "default")


@dataclass
class RunResult:
    outputs: list[np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)   # name, chip, versions
    latency_ms: float | None = None


class Target(ABC):
    """A place to run models. Implementations raise `rknn_diag.errors.TargetError`
    for infrastructure trouble (unreachable, timeout, crash) and `RknnDiagError`
    subclasses for product trouble."""

    name: str = "?"
    # True for the vendor's own toolchain: its wrong answers are vendor findings, not ours.
    vendor: bool = False

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """name, chip, and every version the target knows (toolkit, runtime, driver, ...)."""

    @abstractmethod
    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        """Convert `model_path` (ONNX) per `spec`, run `inputs`, return the outputs."""

    def run_many(self, model_path: str, spec: BuildSpec, inputs_list: list[list[np.ndarray]]) -> list[RunResult]:
        """One conversion, one inference per input set (real models: several held-back images).
        Targets that can keep a built model override this; the default converts each time."""
        return [self.run(model_path, spec, inputs) for inputs in inputs_list]

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
