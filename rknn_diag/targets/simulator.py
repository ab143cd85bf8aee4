"""Our own simulator as a target: the user's sequence of calls, through the pipeline behind the
RKNN API (`rknn_diag.pipeline.Toolchain`, which raises typed errors where the facade returns
codes) — config -> load_onnx -> build -> export_rknn -> load_rknn -> init_runtime -> inference."""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..pipeline import Toolchain
from .base import BuildSpec, RunResult, Target


class SimulatorTarget(Target):
    name = "simulator"
    own_toolchain = True

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "chip": "simulator", "versions": {"rknn_diag": __version__}}

    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        return self.run_many(model_path, spec, [inputs])[0]

    def run_many(self, model_path: str, spec: BuildSpec, inputs_list: list[list[np.ndarray]]) -> list[RunResult]:
        """One conversion and one inference per input set; every failing step raises its typed error."""
        log = io.StringIO()
        with tempfile.TemporaryDirectory(prefix="rknn_diag_sim_") as tmp, redirect_stdout(log):
            converter = Toolchain()
            try:
                built = Path(spec.export_path) if spec.export_path else Path(tmp) / "model.rknn"
                converter.config(**spec.config)
                if spec.load:
                    getattr(converter, spec.load[0])(**spec.load[1])
                else:
                    converter.load_onnx(model=model_path, inputs=spec.load_inputs, outputs=spec.load_outputs,
                                        input_size_list=spec.input_size_list)
                converter.build(do_quantization=spec.do_quantization, dataset=spec.dataset,
                                rknn_batch_size=spec.rknn_batch_size)
                converter.export_rknn(str(built))
                runner = Toolchain()
                runner.load_rknn(str(built))
                runner.init_runtime()
                runs = []
                for inputs in inputs_list:
                    start = time.perf_counter()
                    outs = runner.inference(inputs=list(inputs), data_format=spec.data_format)
                    runs.append(RunResult(outs, self.info(), (time.perf_counter() - start) * 1e3))
                return runs
            finally:
                converter.release()
