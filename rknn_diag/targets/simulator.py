"""Our own simulator as a target: the full user path through the RKNN API —
config -> load_onnx -> build -> export_rknn -> load_rknn -> init_runtime -> inference."""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import RknnDiagError
from .base import BuildSpec, RunResult, Target


class SimulatorTarget(Target):
    name = "simulator"

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "chip": "simulator", "versions": {"rknn_diag": __version__}}

    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        return self.run_many(model_path, spec, [inputs])[0]

    def run_many(self, model_path: str, spec: BuildSpec, inputs_list: list[list[np.ndarray]]) -> list[RunResult]:
        from ..api import RKNN

        log = io.StringIO()
        with tempfile.TemporaryDirectory(prefix="rknn_diag_sim_") as tmp, redirect_stdout(log):
            rknn = RKNN()
            try:
                built = Path(spec.export_path) if spec.export_path else Path(tmp) / "model.rknn"
                _call(rknn, log, "config", **spec.config)
                if spec.load:
                    _call(rknn, log, spec.load[0], **spec.load[1])
                else:
                    _call(rknn, log, "load_onnx", model=model_path, inputs=spec.load_inputs,
                          outputs=spec.load_outputs, input_size_list=spec.input_size_list)
                _call(rknn, log, "build", do_quantization=spec.do_quantization, dataset=spec.dataset,
                      rknn_batch_size=spec.rknn_batch_size)
                _call(rknn, log, "export_rknn", str(built))
                runner = RKNN()
                _call(runner, log, "load_rknn", str(built))
                _call(runner, log, "init_runtime")
                runs = []
                for inputs in inputs_list:
                    start = time.perf_counter()
                    outs = runner.inference(inputs=list(inputs), data_format=spec.data_format)
                    latency = (time.perf_counter() - start) * 1e3
                    if outs is None:
                        raise runner.last_error if isinstance(runner.last_error, RknnDiagError) else \
                            RuntimeError(f"inference failed: {log.getvalue()}")
                    runs.append(RunResult(outs, self.info(), latency))
                return runs
            finally:
                rknn.release()


def _call(rknn, log: io.StringIO, method: str, *args, **kwargs) -> None:
    ret = getattr(rknn, method)(*args, **kwargs)
    if ret != 0:
        err = rknn.last_error
        if isinstance(err, RknnDiagError):
            raise err
        raise RuntimeError(f"{method}() returned {ret}: {log.getvalue().strip()}")
