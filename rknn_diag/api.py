"""`from rknn_diag.api import RKNN`: a drop-in for the vendor's `from rknn.api import RKNN`.

Same method names, parameters and return values (0 on success, a negative
RKNN_ERR_* code on failure, `None` from inference() on failure), vendor-style
E/W/I/D log lines. Thin: it translates to the library, which raises typed
errors; this facade logs them and returns their codes.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, config as config_mod, modelfile
from .errors import RKNN_ERR_FAIL, ConfigError, RknnDiagError, StateError, TargetError
from .frontends import onnx_loader
from .log import Logger
from .model import BuiltModel
from .passes import optimize
from .sim.float_sim import FloatSimulator
from .sim.preprocess import check_config, prepare


def _api(failure: Any = RKNN_ERR_FAIL):
    """Run a method; turn library errors into a logged message and the vendor return value."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self: "RKNN", *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except RknnDiagError as e:
                self.log.e(f"{fn.__name__}: {e}")
                self.last_error = e
                return failure if failure is not RKNN_ERR_FAIL else e.code
            except Exception as e:  # a bug of ours: say so, never crash the user's script
                self.log.e(f"{fn.__name__}: internal error {type(e).__name__}: {e}")
                self.log.d(traceback.format_exc())
                self.last_error = e
                return failure
        return wrapper

    return deco


class RKNN:
    def __init__(self, verbose: bool = False, verbose_file: str | None = None):
        self.log = Logger(verbose, verbose_file)
        self.cfg = config_mod.RknnConfig()
        self._cfg_set = False
        self._cfg_failed: RknnDiagError | None = None   # a config() that raised: nothing builds on defaults
        self.graph = None
        self.model: BuiltModel | None = None
        self.runtime: Any = None   # FloatSimulator or IntegerSimulator
        self.last_error: Exception | None = None
        self.analysis = None   # accuracy_analysis() DataFrame

    # ---- configuration and loading -------------------------------------------------
    @_api()
    def config(self, **kwargs: Any) -> int:
        try:
            self.cfg = config_mod.parse(**kwargs)
        except RknnDiagError as e:
            self._cfg_failed = e
            raise
        self._cfg_failed = None
        self._cfg_set = True
        for key in self.cfg.recorded:
            self.log.d(f"config: '{key}' is recorded in the model but does not change the simulation")
        return 0

    @_api()
    def load_onnx(self, model: str, inputs: list[str] | None = None, input_size_list: list[list[int]] | None = None,
                  outputs: list[str] | None = None, **kwargs: Any) -> int:
        if kwargs:
            raise ConfigError(f"load_onnx() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_onnx takes model, inputs, input_size_list, outputs")
        self._config_ok()
        if not self._cfg_set:
            self.log.w(f"config() was not called; using defaults (target_platform={self.cfg.target_platform[0]})")
        self.log.i(f"Loading : {model if isinstance(model, (str, os.PathLike)) else '<in-memory model>'}")
        self.graph = onnx_loader.load(model, inputs, input_size_list, outputs)
        self.model = None
        return 0

    def _config_ok(self) -> None:
        if self._cfg_failed is not None:
            raise ConfigError(f"config() failed earlier ({self._cfg_failed.message}); not building on defaults",
                              fix="correct the config() call and call it again before loading/building")

    def _unsupported_frontend(self, name: str) -> int:
        self.log.e(f"{name}: this framework is not supported by rknn_diag yet; export the model to ONNX "
                   f"and use load_onnx()")
        return RKNN_ERR_FAIL

    def load_pytorch(self, *a, **k) -> int:
        return self._unsupported_frontend("load_pytorch")

    def load_tensorflow(self, *a, **k) -> int:
        return self._unsupported_frontend("load_tensorflow")

    def load_tflite(self, *a, **k) -> int:
        return self._unsupported_frontend("load_tflite")

    def load_caffe(self, *a, **k) -> int:
        return self._unsupported_frontend("load_caffe")

    def load_darknet(self, *a, **k) -> int:
        return self._unsupported_frontend("load_darknet")

    # ---- build and model files -------------------------------------------------------
    @_api()
    def build(self, do_quantization: bool = True, dataset: str | None = None, rknn_batch_size: int = 1,
              pre_compile: bool = False, **kwargs: Any) -> int:
        if self.graph is None:
            raise StateError("build() called before a model was loaded", fix="call load_onnx() first")
        self._config_ok()
        if not isinstance(rknn_batch_size, int) or rknn_batch_size < 1:
            raise ConfigError(f"rknn_batch_size must be an integer >= 1; got {rknn_batch_size!r}", ref="1.5.5")
        check_config(self.graph.inputs, self.cfg.preprocess)
        if do_quantization:
            if dataset is None:
                raise ConfigError("do_quantization=True needs a dataset", fix="pass dataset='dataset.txt' "
                                  "(one sample per line), or build(do_quantization=False)", ref="1.4.3")
        from .quant.qdq_import import has_qdq
        build_args = {"do_quantization": bool(do_quantization), "dataset": dataset,
                      "pre_compile": bool(pre_compile), **{k: repr(v) for k, v in kwargs.items()}}
        if do_quantization:
            from .quant import quantize_graph
            graph = optimize(self.graph, self.cfg.optimization_level)
            quant = quantize_graph(graph, self.cfg, dataset, self.log)
            self.model = BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size, build_args, quant)
        elif has_qdq(self.graph):   # already quantized: keep the model's own parameters (§1.4.1)
            from .quant.qdq_import import import_qdq, verify_weights
            graph, quant = import_qdq(copy.deepcopy(self.graph), self.log)
            graph = optimize(graph, self.cfg.optimization_level)
            verify_weights(graph, quant, self.log)
            self.model = BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size, build_args, quant)
        else:
            graph = optimize(self.graph, self.cfg.optimization_level)
            self.model = BuiltModel(graph, self.cfg, "float16", rknn_batch_size, build_args)
        self.log.i(f"Build done: {len(graph.nodes)} layers, {self.model.mode}, "
                   f"target {','.join(self.cfg.target_platform)}")
        return 0

    @_api()
    def export_rknn(self, export_path: str, **kwargs: Any) -> int:
        if self.model is None:
            raise StateError("export_rknn() called before build()", fix="call build() first")
        modelfile.save(self.model, export_path)
        self.log.i(f"Export rknn model to {export_path}")
        return 0

    @_api()
    def load_rknn(self, path: str, **kwargs: Any) -> int:
        self.model = modelfile.load(path)
        self.cfg = self.model.config
        self._close_runtime()
        return 0

    # ---- runtime -------------------------------------------------------------------------
    @_api()
    def init_runtime(self, target: str | None = None, device_id: str | None = None, perf_debug: bool = False,
                     eval_mem: bool = False, async_mode: bool = False, core_mask: int | None = None,
                     **kwargs: Any) -> int:
        if self.model is None:
            raise StateError("init_runtime() called before build() or load_rknn()",
                             fix="build or load a model first")
        if self.runtime is not None:
            self._close_runtime()
        if target is not None:
            from .targets.board_runtime import BoardRuntime
            self.runtime = BoardRuntime(self.model, target, device_id, kwargs.get("adb_server"))
            return 0
        if self.model.mode == "float16":
            self.runtime = FloatSimulator(self.model.graph)
        else:
            from .sim.int_sim import IntegerSimulator
            self.runtime = IntegerSimulator(self.model.graph, self.model.quant)
        return 0

    @_api(failure=None)
    def inference(self, inputs: list, data_format: str | list = "nhwc", inputs_pass_through: list | None = None,
                  get_frame_id: bool = False) -> list[np.ndarray] | None:
        if self.runtime is None or self.model is None:
            raise StateError("inference() called before init_runtime()", fix="call init_runtime() first")
        if isinstance(data_format, (list, tuple)):
            data_format = data_format[0] if data_format else "nhwc"
        m = self.model
        if getattr(self.runtime, "on_board", False):     # a board: preprocessing runs in the model there
            if inputs_pass_through:
                raise ConfigError("inputs_pass_through is not supported on a board runtime",
                                  fix="pass inputs as images, or run on the simulator (init_runtime())")
            return self.runtime.infer(inputs if isinstance(inputs, (list, tuple)) else [inputs], data_format)
        feeds = prepare(m.graph.inputs, m.config.preprocess, inputs, data_format, inputs_pass_through,
                        m.rknn_batch_size)
        if m.mode != "float16" and inputs_pass_through:
            feeds = self.runtime.passed_through(feeds, inputs_pass_through)
        dump = _layer_dumper() if os.environ.get("NN_LAYER_DUMP") == "1" else None
        if m.rknn_batch_size == 1:
            return self.runtime.run(feeds, dump)
        # rknn_batch_size > 1: inputs arrive concatenated on axis 0 (guide §1.5.5-1.5.7).
        chunks = [np.split(f, m.rknn_batch_size, axis=0) for f in feeds]
        results = [self.runtime.run([c[b] for c in chunks], dump) for b in range(m.rknn_batch_size)]
        return [np.concatenate(outs, axis=0) for outs in zip(*results)]

    # ---- quantization diagnosis (guide §2.1) -------------------------------------------------
    @_api()
    def accuracy_analysis(self, inputs: list, output_dir: str = "./snapshot", target: str | None = None,
                          device_id: str | None = None, **kwargs: Any):
        """Per-layer error of the quantized model against float32 (see quant.analysis).
        `inputs`: one sample — file paths (jpg/png/bmp/npy, as in dataset.txt) or arrays
        (NCHW, before mean/std). Returns 0; the DataFrame is kept in `self.analysis`."""
        if self.model is None or self.model.mode == "float16":
            raise StateError("accuracy_analysis() needs a quantized model",
                             fix="call build(do_quantization=True, dataset=...) first", ref="2.1")
        if target is not None:
            raise TargetError("accuracy_analysis on a board is not available in this version",
                              fix="leave target=None to analyse on the simulator")
        from .quant.analysis import analyse
        from .quant.dataset import sample_from_inputs
        feeds = sample_from_inputs(inputs, self.model.graph.inputs, self.model.config, self.log)
        self.analysis = analyse(self.model, feeds, output_dir)
        worst = ", ".join(self.analysis.attrs.get("worst", [])[:3])
        self.log.i(f"accuracy_analysis written to {output_dir}; worst layers: {worst}")
        return 0

    @_api()
    def hybrid_quantization_step1(self, dataset: str | None = None, rknn_batch_size: int = 1,
                                  proposal: bool = False, **kwargs: Any) -> int:
        if self.graph is None:
            raise StateError("hybrid_quantization_step1() called before a model was loaded",
                             fix="call load_onnx() first")
        if dataset is None:
            raise ConfigError("hybrid_quantization_step1 needs a dataset", ref="1.4.3")
        from .quant import quantize_graph
        from .quant.hybrid import step1
        graph = optimize(self.graph, self.cfg.optimization_level)
        quant = quantize_graph(graph, self.cfg, dataset, self.log)
        model = BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size,
                           {"do_quantization": True, "dataset": dataset, "hybrid": "step1"}, quant)
        name = Path(str(self.graph.meta.get("source", graph.name))).stem or "model"
        paths = step1(model, name)
        self.log.i(f"hybrid step 1 wrote {paths['cfg']}, {paths['json']}, {paths['data']}")
        return 0

    @_api()
    def hybrid_quantization_step2(self, model_input: str, data_input: str, model_quantization_cfg: str,
                                  **kwargs: Any) -> int:
        from .quant.hybrid import step2
        self.model = step2(model_input, data_input, model_quantization_cfg)
        self.cfg = self.model.config
        self.graph = self.model.graph
        self._close_runtime()
        layers = self.model.quant.get("layers", {})
        self.log.i(f"hybrid step 2 done: {len(layers)} customized layer(s) {layers or ''}")
        return 0

    # ---- facts ------------------------------------------------------------------------------
    def get_sdk_version(self) -> str:
        return (f"rknn_diag {__version__} (simulator)\nAPI: {__version__}\nDRV: simulator {__version__}\n"
                f"target: {','.join(self.cfg.target_platform)}")

    @_api(failure=None)
    def eval_memory(self, is_print: bool = True) -> dict[str, int] | None:
        if self.model is None:
            raise StateError("eval_memory() called before build() or load_rknn()")
        from .sim.memory import estimate
        mem = estimate(self.model)
        if is_print:
            self.log.i(f"weights {mem['weight_memory']} B, activations peak {mem['internal_memory']} B, "
                       f"total {mem['total_memory']} B")
        return mem

    @_api(failure=None)
    def eval_perf(self, is_print: bool = True, **kwargs: Any) -> dict[str, Any] | None:
        if self.runtime is None or self.model is None:
            raise StateError("eval_perf() called before init_runtime()")
        if getattr(self.runtime, "on_board", False):
            raise StateError("eval_perf() times the simulator's layers; it is not available on a board",
                             fix="init_runtime() without a target for per-layer times")
        times: list[tuple[str, str, float]] = []
        last = [time.perf_counter()]

        def hook(node, outs):
            now = time.perf_counter()
            times.append((node.name, node.op_type, (now - last[0]) * 1e3))
            last[0] = now

        feeds = [np.zeros((v.shape[0] * self.model.rknn_batch_size, *v.shape[1:]), v.dtype or np.float32)
                 for v in self.model.graph.inputs]
        start = time.perf_counter()
        last[0] = start
        self.runtime.run(feeds, hook)
        total = (time.perf_counter() - start) * 1e3
        if is_print:
            for name, op, ms in times:
                self.log.i(f"{op:<20} {name:<40} {ms:8.3f} ms")
            self.log.i(f"Total simulator time: {total:.3f} ms (host CPU, not an NPU estimate)")
        return {"total_ms": total, "layers": [{"name": n, "op": o, "ms": t} for n, o, t in times]}

    def list_devices(self, adb_server: str | None = None) -> tuple[list[str], list[str]]:
        """(adb_devices, ntb_devices), like the vendor's; empty lists with an E line when no
        adb server answers (guide §1.7.2 items 2-3)."""
        try:
            from .board.discovery import list_devices
            return list_devices(adb_server)
        except ImportError:
            self.log.e("list_devices: the board layer needs adbutils (pip install 'rknn_diag[board]')")
        except RknnDiagError as e:
            self.log.e(f"list_devices: {e}")
            self.last_error = e
        return [], []

    def _close_runtime(self) -> None:
        close = getattr(self.runtime, "close", None)
        if close is not None:
            close()
        self.runtime = None

    def release(self) -> None:
        self._close_runtime()
        self.model = None
        self.graph = None
        self.log.close()


def _layer_dumper():
    """NN_LAYER_DUMP=1: write every layer's output to the current folder, named by the
    output tensor and the source layers merged into it (guide §2.2, §2.1 note)."""
    counter = [0]

    def safe(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", s)[:80]

    def dump(node, outs):
        for name, val in zip(node.outputs, outs):
            if name:
                fname = f"{counter[0]:04d}_{safe(name)}__{'+'.join(safe(s) for s in node.source)}.npy"
                np.save(Path.cwd() / fname, np.asarray(val), allow_pickle=False)
        counter[0] += 1

    return dump
