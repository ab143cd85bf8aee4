"""One build per mode, the way a user makes it: through the public `RKNN` API for our
simulator (config → load → build → export_rknn → load_rknn → init_runtime → inference), and
through a target (`rknn_diag.targets`) for the vendor's toolkit2 or a board."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, RknnDiagError


@dataclass
class Job:
    """What the user asked for: the model, the chip, the preprocessing, the calibration set."""

    model: Path
    platform: str
    mean: list[list[float]] | None = None
    std: list[list[float]] | None = None
    input_size_list: list[list[int]] | None = None
    calib: Path | None = None
    log_path: Path | None = None        # the API's log lines go here, not to the console
    extra_config: dict[str, Any] = field(default_factory=dict)

    def config(self, mode: str) -> dict[str, Any]:
        cfg: dict[str, Any] = {"target_platform": self.platform, **self.extra_config}
        if self.mean is not None:
            cfg["mean_values"] = self.mean
        if self.std is not None:
            cfg["std_values"] = self.std
        if mode != "float16":
            cfg["quantized_dtype"] = mode
        return cfg

    def rknn(self, mode: str):
        """A configured RKNN object with the model loaded (not built)."""
        from ..api import RKNN

        r = RKNN(verbose_file=str(self.log_path) if self.log_path else None)
        with self.quiet():
            call(r, "config", **self.config(mode))
            suffix = self.model.suffix.lower()
            if suffix == ".onnx":
                call(r, "load_onnx", model=str(self.model), input_size_list=self.input_size_list)
            elif suffix in (".pt", ".pth"):
                if not self.input_size_list:
                    raise ConfigError("a TorchScript model needs --input-size", fix="pass --input-size 1,3,224,224")
                call(r, "load_pytorch", model=str(self.model), input_size_list=self.input_size_list)
            elif suffix == ".tflite":
                call(r, "load_tflite", model=str(self.model))
            else:
                raise ConfigError(f"{self.model.name}: `rknn-diag model` reads .onnx, .pt and .tflite models",
                                  fix="export the model to ONNX, or use `rknn-diag convert CONFIG.yml`")
        return r

    def quiet(self):
        """The API's vendor-style log lines go to the log file (they print to stdout)."""
        if self.log_path is None:
            return contextlib.nullcontext()
        fh = open(self.log_path, "a", encoding="utf-8")
        stack = contextlib.ExitStack()
        stack.enter_context(fh)
        stack.enter_context(contextlib.redirect_stdout(fh))
        return stack


def call(rknn, method: str, *args, **kwargs):
    """An API call that must succeed: its typed error is raised (the API returns codes)."""
    ret = getattr(rknn, method)(*args, **kwargs)
    if ret is None or (isinstance(ret, int) and ret != 0):
        err = rknn.last_error
        if isinstance(err, RknnDiagError):
            raise err
        raise RuntimeError(f"RKNN.{method}() failed: {err!r}")
    return ret


@dataclass
class Run:
    """One mode on one target: its outputs on the held-back samples and how long it took."""

    mode: str
    target: str
    outputs: list[list[np.ndarray]]
    latency_ms: float | None
    build_s: float
    latency_kind: str = ""        # what the latency measures
    rknn_path: Path | None = None
    layer_ms: list[dict] = field(default_factory=list)


def ours(job: Job, mode: str, raws: list[tuple[list[np.ndarray], list[str]]] | None, out_dir: Path,
         name: str | None = None) -> tuple[Run, Any]:
    """Build with our toolkit, export, load the file back and run the held-back samples.
    Returns the run and the built RKNN object (kept for the per-layer analysis)."""
    from ..api import RKNN

    start = time.perf_counter()
    r = job.rknn(mode)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (f"{name}.rknn" if name else f"{job.model.stem}.{mode}.rknn")
    with job.quiet():
        call(r, "build", do_quantization=mode != "float16", dataset=str(job.calib) if mode != "float16" else None)
        call(r, "export_rknn", str(path))
    build_s = time.perf_counter() - start
    runner = RKNN(verbose_file=str(job.log_path) if job.log_path else None)
    with job.quiet():
        call(runner, "load_rknn", str(path))
        call(runner, "init_runtime")
        outputs = [runner.inference(inputs=arrays, data_format=formats) for arrays, formats in raws or []]
        if any(o is None for o in outputs):
            raise runner.last_error or RuntimeError("inference failed")
        first = raws[0] if raws else (None, None)
        perf = runner.eval_perf(inputs=first[0], data_format=first[1], is_print=False, loop_cnt=3)
    runner.release()
    layers = sorted(perf["layers"], key=lambda d: -d["ms"]) if perf else []
    return Run(mode, "simulator", outputs, perf["total_ms"] if perf else None, build_s,
               "host-CPU time of our simulator (eval_perf, mean of 3)", path, layers), r


def on_target(job: Job, mode: str, raws, target_name: str, options: dict[str, Any]) -> Run:
    """The same build on the vendor's toolkit2 simulator or a board (rknn_diag.targets)."""
    from ..targets import BuildSpec, make_target

    formats = {f for _, fs in raws for f in fs}
    spec = BuildSpec(config=job.config(mode), do_quantization=mode != "float16",
                     dataset=str(job.calib) if mode != "float16" else None,
                     data_format=formats.pop() if len(formats) == 1 else "nchw",
                     input_size_list=job.input_size_list)
    start = time.perf_counter()
    with make_target(target_name, **options) as target:
        results = target.run_many(str(job.model), spec, [arrays for arrays, _ in raws])
    lat = [r.latency_ms for r in results if r.latency_ms is not None]
    return Run(mode, target_name, [r.outputs for r in results], float(np.mean(lat)) if lat else None,
               time.perf_counter() - start, f"inference time reported by {target_name}")
