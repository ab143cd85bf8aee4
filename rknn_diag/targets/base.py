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
    inputs_pass_through: list[int] | None = None                # inference(inputs_pass_through=...)
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
    # What the target can do, declared here and read by the plugin and the suite; nobody
    # recognises a target by its name.
    # The vendor's own toolchain: its wrong answers are vendor findings, not ours.
    vendor: bool = False
    # Our own converter and simulator, in this process: the built model can be inspected
    # (the integer oracle, the QDQ twin, per-layer checks) and toolchain-only cases belong here.
    own_toolchain: bool = False
    # Runs the same built model as our simulator: its outputs are also compared with the
    # simulator's (a difference is a firmware/driver finding).
    compares_with_simulator: bool = False
    # Needs --device-id SERIAL (one per xdist worker) and, with --adb-server, where to reach it.
    needs_device_id: bool = False
    # Must run a known model (`health_check()`) before it gets cases.
    checked_before_use: bool = False
    # Takes --device-id when given (the vendor's own board path), runs without one otherwise.
    board_optional: bool = False
    # Takes the real-model corpus (trained vision models); a board checks the board path only.
    runs_real_models: bool = True

    @classmethod
    def timeout_options(cls, step_timeout: float | None, run_timeout: float | None) -> dict[str, Any]:
        """--step-timeout/--run-timeout as this target's own keyword arguments."""
        return {}

    @classmethod
    def preflight(cls, device_ids: list[str] | None = None, adb_server: str | None = None) -> None:
        """Can this target be used at all? Raises a TargetError/ConfigError that says why and
        what to do. Cheap: it neither locks boards nor starts servers."""

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
