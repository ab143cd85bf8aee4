"""The pipeline behind the vendor-shaped API: load -> passes -> quantize -> built model, then
export, load, runtime and inference, each step raising a typed error (`rknn_diag.errors`).

`rknn_diag.api.RKNN` is a thin facade over `Toolchain` that turns those errors into the
vendor's return codes and log lines; the targets (and tools) call `Toolchain` directly, so
nothing below the facade imports it (tests/test_layers.py).
"""

from __future__ import annotations

import copy
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, config as config_mod, modelfile
from .errors import ConfigError, RknnDiagError, StateError, TargetError
from .frontends import onnx_loader
from .log import Logger
from .model import BuiltModel
from .passes import optimize
from .sim import backend as sim_backend
from .sim.preprocess import check_config, formats_per_input, prepare
from .dropin import custom_op as custom_op_mod, dynamic, generation as gen_mod, io_nodes, pruning, vendor_args


class Toolchain:
    """The vendor's sequence of calls, each raising a typed error: config -> load_* -> build ->
    export_rknn / load_rknn -> init_runtime -> inference (and the diagnosis calls). The facade
    (`rknn_diag.api.RKNN`) is this with return codes; targets and tools call it directly."""

    def __init__(self, verbose: bool = False, verbose_file: str | None = None):
        self.log = Logger(verbose, verbose_file)
        self.cfg = config_mod.RknnConfig()
        self._cfg_set = False
        self._cfg_failed: RknnDiagError | None = None   # a config() that raised: nothing builds on defaults
        self.graph = None
        self.model: BuiltModel | None = None
        self.runtime: Any = None   # a simulator of rknn_diag.sim.backend, or a board runtime
        self.analysis = None   # accuracy_analysis() DataFrame
        self.generation: str | None = None   # toolkit generation the script is written for (dropin.generation)
        self.perf_debug = False
        self._shape_set_graphs: list = []   # config(dynamic_input=...): one loaded graph per shape set
        self._declared_graph = None         # ... and the model at its own input shapes (dynamic.declared)
        self._custom_ops: list = []         # (op type, registration) this object made; undone at release()

    # ---- configuration and loading -------------------------------------------------
    def config(self, **kwargs: Any) -> int:
        try:
            self.cfg = config_mod.parse(**vendor_args.for_parse(kwargs))
        except RknnDiagError as e:
            self._cfg_failed = e
            raise
        self._cfg_failed = None
        self._cfg_set = True
        self.generation = gen_mod.of_config(kwargs)
        vendor_args.config_settings(self.log, kwargs)
        return 0

    def load_onnx(self, model: str, inputs: list[str] | None = None, input_size_list: list[list[int]] | None = None,
                  outputs: list[str] | None = None, **kwargs: Any) -> int:
        if kwargs:
            raise ConfigError(f"load_onnx() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_onnx takes model, inputs, input_size_list, outputs")
        self._config_ok()
        if not self._cfg_set:
            self.log.w(f"config() was not called; using defaults (target_platform={self.cfg.target_platform[0]})")
        self.log.i(f"Loading : {model if isinstance(model, (str, os.PathLike)) else '<in-memory model>'}")
        sets = dynamic.shape_sets(self.cfg.recorded)
        if sets:   # config(dynamic_input=...): one graph per shape set
            if input_size_list is not None:
                self.log.w("load_onnx(): 'input_size_list' is replaced by config(dynamic_input=...)'s shape sets")
            self._shape_set_graphs = dynamic.load_sets(onnx_loader.load, model, inputs, outputs, sets)
            self._declared_graph = dynamic.declared(lambda: onnx_loader.load(model, inputs, None, outputs),
                                                    self._shape_set_graphs)
            self.graph = self._shape_set_graphs[0]
        else:
            self._shape_set_graphs, self._declared_graph = [], None
            self.graph = onnx_loader.load(model, inputs, input_size_list, outputs)
        self.model = None
        return 0

    def _config_ok(self) -> None:
        if self._cfg_failed is not None:
            raise ConfigError(f"config() failed earlier ({self._cfg_failed.message}); not building on defaults",
                              fix="correct the config() call and call it again before loading/building")

    def load_pytorch(self, model: str, input_size_list: list[list[int]], **kwargs: Any) -> int:
        from .frontends import pytorch_loader
        if kwargs:
            raise ConfigError(f"load_pytorch() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_pytorch takes model (a TorchScript .pt) and input_size_list")
        # toolkit 1.x gives each input's size without the batch ([[3, 224, 224]]), toolkit2 with it
        batchless = (self.generation or gen_mod.of_platforms(self.cfg.target_platform)) == gen_mod.TOOLKIT1
        return self._loaded(str(model), lambda: pytorch_loader.load(model, input_size_list, batchless),
                            lambda shapes: pytorch_loader.load(model, shapes))

    def load_tensorflow(self, tf_pb: str, inputs: list[str], outputs: list[str], input_size_list: list[list[int]],
                        input_is_nchw: bool = False, predef_file: str | None = None, **kwargs: Any) -> int:
        from .frontends import tf_loader
        if kwargs:
            raise ConfigError(f"load_tensorflow() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_tensorflow takes tf_pb, inputs, outputs, input_size_list")
        if input_is_nchw or predef_file:
            raise ConfigError("input_is_nchw=True / predef_file are not supported",
                              fix="give NHWC sizes in input_size_list and a graph without predefined ops")
        return self._loaded(str(tf_pb), lambda: tf_loader.load(tf_pb, inputs, outputs, input_size_list,
                                                                          warn=self.log.w),
                            lambda shapes: tf_loader.load(tf_pb, inputs, outputs, shapes, warn=self.log.w))

    def load_tflite(self, model: str, **kwargs: Any) -> int:
        from .frontends import tflite_loader
        if kwargs:
            raise ConfigError(f"load_tflite() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_tflite takes model (the .tflite file)")
        return self._loaded(str(model), lambda: tflite_loader.load(model))

    def _loaded(self, what: str, load, load_at=None) -> int:
        """The common tail of the framework loaders: log, convert, forget an older build.
        `load_at(shapes)` loads at one config(dynamic_input=...) shape set (one shape per input,
        as the set gives it); a frontend without it refuses dynamic_input."""
        if not self._cfg_set:
            self.log.w(f"config() was not called; using defaults (target_platform={self.cfg.target_platform[0]})")
        self.log.i(f"Loading : {what}")
        sets = dynamic.shape_sets(self.cfg.recorded)
        if sets and load_at is None:
            raise ConfigError(f"config(dynamic_input=...) is not supported when loading {what} here (the file "
                              f"fixes its input shapes)", fix="convert the model to ONNX and use load_onnx(), or "
                                                              "drop dynamic_input")
        self._shape_set_graphs = [load_at(shapes) for shapes in sets] if sets else []
        self._declared_graph = dynamic.declared(load, self._shape_set_graphs) if sets else None
        self.graph = self._shape_set_graphs[0] if sets else load()
        self.model = None
        return 0

    def load_caffe(self, model: str, blobs: str | None = None, proto: str = "caffe", input_name: str | None = None,
                   **kwargs: Any) -> int:
        from .frontends import caffe_loader
        if blobs in caffe_loader.PROTOS and proto not in caffe_loader.PROTOS:   # toolkit 1.x order: model, proto, blobs
            blobs, proto = proto, blobs
        if kwargs:
            raise ConfigError(f"load_caffe() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_caffe takes model, blobs, proto, input_name")
        # toolkit2 reads a top-level `input:`/`input_dim:`; toolkit 1.x refuses it (guide §3.1)
        toolkit2 = (self.generation or gen_mod.of_platforms(self.cfg.target_platform)) == gen_mod.TOOLKIT2
        return self._loaded(str(model), lambda: caffe_loader.load(model, blobs, proto, legacy_input=toolkit2),
                            lambda shapes: caffe_loader.load(model, blobs, proto, toolkit2, shapes))

    def load_darknet(self, model: str, weight: str, **kwargs: Any) -> int:
        from .frontends import darknet_loader
        if kwargs:
            raise ConfigError(f"load_darknet() got unknown argument(s) {sorted(kwargs)}",
                              fix="load_darknet takes model (the .cfg) and weight (the .weights)")
        return self._loaded(str(model), lambda: darknet_loader.load(model, weight))

    # ---- custom operators (dropin.custom_op) -------------------------------------------
    def reg_custom_op(self, custom_op: Any) -> int:
        self._custom_ops.append(custom_op_mod.register_toolkit2(custom_op))
        self.log.i(f"custom op '{self._custom_ops[-1][0]}' registered: the simulator calls its compute()")
        return 0

    def register_op(self, op_path: str) -> int:
        self._custom_ops.append(custom_op_mod.register_toolkit1(op_path))
        self.log.i(f"custom op '{self._custom_ops[-1][0]}' registered from {op_path}: the simulator calls its "
                   f"compute_output_tensor()")
        return 0

    # ---- build and model files -------------------------------------------------------
    def build(self, do_quantization: bool = True, dataset: str | None = None, rknn_batch_size: int = 1,
              pre_compile: bool = False, **kwargs: Any) -> int:
        if self.graph is None:
            raise StateError("build() called before a model was loaded", fix="call load_onnx() first")
        self._config_ok()
        vendor_args.note(self.log, "build", pre_compile=pre_compile)
        vendor_args.screen(self.log, "build", kwargs)
        if not isinstance(rknn_batch_size, int) or rknn_batch_size < 1:
            raise ConfigError(f"rknn_batch_size must be an integer >= 1; got {rknn_batch_size!r}", ref="1.5.5")
        check_config(self.graph.inputs, self.cfg.preprocess)
        if do_quantization:
            if dataset is None:
                raise ConfigError("do_quantization=True needs a dataset", fix="pass dataset='dataset.txt' "
                                  "(one sample per line), or build(do_quantization=False)", ref="1.4.3")
        build_args = {"do_quantization": bool(do_quantization), "dataset": dataset,
                      "pre_compile": bool(pre_compile), **{k: repr(v) for k, v in kwargs.items()}}
        shared = None
        if do_quantization and self._declared_graph is not None:   # dynamic_input: see dynamic.declared
            shared = self._build_one(self._declared_graph, True, dataset, rknn_batch_size, build_args).quant
        self.model = self._build_one(self.graph, do_quantization, dataset, rknn_batch_size, build_args, shared)
        if self._shape_set_graphs[1:]:   # dynamic_input: the other sets share the same parameters
            others = [self._build_one(g, do_quantization, dataset, rknn_batch_size, build_args,
                                      shared or self.model.quant) for g in self._shape_set_graphs[1:]]
            dynamic.attach(self.model, others)
            self.log.i(f"dynamic_input: built {1 + len(others)} shape sets {self.model.build['dynamic_input']}")
        io_nodes.report(self.model, self.log)
        self.log.i(f"Build done: {len(self.model.graph.nodes)} layers, {self.model.mode}, "
                   f"target {','.join(self.cfg.target_platform)}")
        return 0

    def _build_one(self, source, do_quantization, dataset, rknn_batch_size, build_args, shared_quant=None):
        from .quant.qdq_import import has_qdq
        if do_quantization:
            from .quant import quantize_graph
            graph = self._optimize(source)
            if shared_quant:   # another shape set: the first set's parameters, and its equalized weights
                from .quant.equalize import apply
                quant = copy.deepcopy(shared_quant)
                apply(graph, quant.get("equalized", {}))
            else:
                quant = quantize_graph(graph, self.cfg, dataset, self.log)
            return BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size, build_args, quant)
        if has_qdq(source):   # already quantized: keep the model's own parameters (§1.4.1)
            from .quant.qdq_import import import_qdq, verify_weights
            graph, quant = import_qdq(copy.deepcopy(source), self.log)
            graph = self._optimize(graph)
            verify_weights(graph, quant, self.log)
            return BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size, build_args, quant)
        return BuiltModel(self._optimize(source), self.cfg, "float16", rknn_batch_size, build_args)

    def _optimize(self, graph):
        if not self.cfg.recorded.get("model_pruning"):
            return optimize(graph, self.cfg.optimization_level)
        sizes = [pruning.Size.of(graph)]
        branches = pruning.remove_branches(graph)
        sizes.append(pruning.Size.of(graph))
        graph = optimize(graph, self.cfg.optimization_level)
        sizes.append(pruning.Size.of(graph))
        channels = pruning.zero_channels(graph)
        graph.meta["model_pruning"] = pruning.report([*sizes, pruning.Size.of(graph)], branches, channels, self.log)
        return graph

    def export_rknn(self, export_path: str, **kwargs: Any) -> int:
        if self.model is None:
            raise StateError("export_rknn() called before build()", fix="call build() first")
        vendor_args.screen(self.log, "export_rknn", kwargs)
        modelfile.save(self.model, export_path)
        self.log.i(f"Export rknn model to {export_path}")
        return 0

    def load_rknn(self, path: str, **kwargs: Any) -> int:
        vendor_args.screen(self.log, "load_rknn", kwargs)
        self.model = modelfile.load(path)
        self.cfg = self.model.config
        self._close_runtime()
        return 0

    # ---- runtime -------------------------------------------------------------------------
    def init_runtime(self, target: str | None = None, device_id: str | None = None, perf_debug: bool = False,
                     eval_mem: bool = False, async_mode: bool = False, core_mask: int | None = None,
                     **kwargs: Any) -> int:
        if self.model is None:
            raise StateError("init_runtime() called before build() or load_rknn()",
                             fix="build or load a model first")
        vendor_args.note(self.log, "init_runtime", eval_mem=eval_mem, async_mode=async_mode, core_mask=core_mask)
        vendor_args.screen(self.log, "init_runtime", {k: v for k, v in kwargs.items() if k != "adb_server"})
        self.perf_debug = bool(perf_debug)
        if self.runtime is not None:
            self._close_runtime()
        if target is not None:
            custom_op_mod.check_not_on_board(self.model.graph, target)
            self.runtime = self._board_runtime(target, device_id, kwargs.get("adb_server"), self.model)
            return 0
        custom_op_mod.check_registered(self.model.graph)
        if dynamic.KEY in self.model.build:
            self.runtime = dynamic.DynamicRuntime(dynamic.models_of(self.model), _simulator)
        else:
            self.runtime = _simulator(self.model)
        return 0

    def _board_runtime(self, target: str, device_id: str | None, adb_server: str | None,
                       model: BuiltModel) -> Any:
        """`model` in a runtime on a board. Boards are targets, which sit above the pipeline: the facade
        (`rknn_diag.api.RKNN`) supplies them; the pipeline alone runs on the simulator."""
        raise TargetError(f"init_runtime(target='{target}'): this toolchain object runs on the simulator only",
                          fix="use rknn_diag.api.RKNN for a board, or init_runtime() without a target")

    def inference(self, inputs: list, data_format: str | list = "nhwc", inputs_pass_through: list | None = None,
                  get_frame_id: bool = False, **kwargs: Any) -> list[np.ndarray] | None:
        if self.runtime is None or self.model is None:
            raise StateError("inference() called before init_runtime()", fix="call init_runtime() first")
        vendor_args.note(self.log, "inference", get_frame_id=get_frame_id)
        vendor_args.screen(self.log, "inference", kwargs)
        m, rt = self.model, self.runtime
        if isinstance(rt, dynamic.DynamicRuntime):      # dynamic_input: the set matching the inputs
            m, rt = rt.pick(inputs, data_format)
        if getattr(rt, "on_board", False):     # a board: preprocessing runs in the model there
            return rt.infer(*_board_feeds(m, inputs, data_format), inputs_pass_through)
        feeds = prepare(m.graph.inputs, m.config.preprocess, inputs, data_format, inputs_pass_through,
                        m.rknn_batch_size)
        if m.mode != "float16" and inputs_pass_through:
            feeds = rt.passed_through(feeds, inputs_pass_through)
        dump = _layer_dumper() if os.environ.get("NN_LAYER_DUMP") == "1" else None
        run = io_nodes.runner(m, rt)    # merge_dequant_layer_and_output_node: integer outputs
        if m.rknn_batch_size == 1:
            return run(feeds, dump)
        # rknn_batch_size > 1: inputs arrive concatenated on axis 0 (guide §1.5.5-1.5.7).
        chunks = [np.split(f, m.rknn_batch_size, axis=0) for f in feeds]
        results = [run([c[b] for c in chunks], dump) for b in range(m.rknn_batch_size)]
        return [np.concatenate(outs, axis=0) for outs in zip(*results)]

    # ---- quantization diagnosis (guide §2.1) -------------------------------------------------
    def accuracy_analysis(self, inputs: list, output_dir: str = "./snapshot", target: str | None = None,
                          device_id: str | None = None, **kwargs: Any):
        """Per-layer error of the quantized model against float32 (see quant.analysis).
        `inputs`: one sample — file paths (jpg/png/bmp/npy, as in dataset.txt) or arrays
        (NCHW, before mean/std). `target`/`device_id`: the model also runs on that board and
        each layer's board output is compared (dropin.snapshot). Returns 0; the DataFrame is
        kept in `self.analysis`."""
        if self.model is None or self.model.mode == "float16":
            raise StateError("accuracy_analysis() needs a quantized model",
                             fix="call build(do_quantization=True, dataset=...) first", ref="2.1")
        adb_server = kwargs.pop("adb_server", None)   # ours, as for init_runtime: a private adb server
        vendor_args.screen(self.log, "accuracy_analysis", kwargs)
        from .dropin import snapshot
        from .quant.analysis import analyse
        from .quant.dataset import prepare_raw, sample_from_inputs
        output_dir = output_dir or snapshot.DEFAULT_DIR
        layout = snapshot.layout_for(self.generation, self.model.config.target_platform)
        chip = None if target is None else snapshot.board_chip(target, layout)
        values = self.model.graph.inputs
        inputs = snapshot.sample_paths(inputs, len(values), self.log)
        raw = sample_from_inputs(inputs, values, self.model.config, self.log, raw=True)
        feeds = prepare_raw(raw, values, self.model.config, "accuracy_analysis inputs")
        if chip is None:
            self.analysis = analyse(self.model, feeds, output_dir, layout)
        else:   # connected first: a wrong or missing board ends the call before any work
            variant, order = snapshot.board_variant(self.model)
            board = self._board_runtime(chip, device_id, adb_server, variant)
            try:
                def on_board(wanted: dict[str, tuple]) -> dict[str, np.ndarray]:
                    self.log.i(f"accuracy_analysis: running the {len(order)} layer outputs on board {board.serial}")
                    try:
                        outs = board.infer(snapshot.board_inputs(raw), "nchw")
                    except RknnDiagError as e:
                        raise snapshot.board_failed(e, output_dir) from e
                    return snapshot.board_outputs(outs, order, wanted, board.serial)
                self.analysis = analyse(self.model, feeds, output_dir, layout, on_board)
            finally:
                board.close()
        worst = ", ".join(self.analysis.attrs.get("worst", [])[:3])
        self.log.i(f"accuracy_analysis written to {output_dir}; worst layers: {worst}")
        return 0

    def hybrid_quantization_step1(self, dataset: str | None = None, rknn_batch_size: int = 1,
                                  proposal: bool = False, proposal_dataset_size: int = 1, **kwargs: Any) -> int:
        if self.graph is None:
            raise StateError("hybrid_quantization_step1() called before a model was loaded",
                             fix="call load_onnx() first")
        if dataset is None:
            raise ConfigError("hybrid_quantization_step1 needs a dataset", ref="1.4.3")
        vendor_args.screen(self.log, "hybrid_quantization_step1", kwargs)
        from .quant import quantize_graph
        from .quant.hybrid import step1
        graph = optimize(self.graph, self.cfg.optimization_level)
        quant = quantize_graph(graph, self.cfg, dataset, self.log)
        model = BuiltModel(graph, self.cfg, quant["mode"], rknn_batch_size,
                           {"do_quantization": True, "dataset": dataset, "hybrid": "step1"}, quant)
        from .dropin import hybrid_files
        name, ext, key = hybrid_files.names(self.graph, self.generation or gen_mod.of_platforms(self.cfg.target_platform))
        proposed = None
        if proposal:
            from .dropin.proposal import propose
            proposed = propose(model, dataset, proposal_dataset_size, self.log)
        paths = step1(model, name, model_ext=ext, layer_key=key, proposed=proposed)
        self.log.i(f"hybrid step 1 wrote {paths['cfg']}, {paths['json']}, {paths['data']}")
        return 0

    def hybrid_quantization_step2(self, model_input: str, data_input: str, model_quantization_cfg: str,
                                  dataset: str | None = None, pre_compile: bool = False, **kwargs: Any) -> int:
        from .quant.hybrid import step2
        vendor_args.note(self.log, "hybrid_quantization_step2", pre_compile=pre_compile)
        vendor_args.screen(self.log, "hybrid_quantization_step2", kwargs)
        self.model = step2(model_input, data_input, model_quantization_cfg, dataset, self.log)
        self.cfg = self.model.config
        self.graph = self.model.graph
        self._close_runtime()
        layers = self.model.quant.get("layers", {})
        self.log.i(f"hybrid step 2 done: {len(layers)} customized layer(s) {layers or ''}")
        return 0

    # ---- facts ------------------------------------------------------------------------------
    def get_sdk_version(self) -> str:
        if getattr(self.runtime, "on_board", False):   # the board's own parts, as the vendor prints them
            f = self.runtime.facts()
            return (f"rknn_diag {__version__} (board {self.runtime.serial})\nAPI: {__version__}\n"
                    f"DRV: rknn_server: {f.get('rknn_server') or 'not found'}\n"
                    f"DRV: rknnrt: {f.get('runtime') or 'not found'}\n"
                    f"NPU driver: {f.get('npu_driver') or 'not found'}\ntarget: {f.get('chip')}")
        return (f"rknn_diag {__version__} (simulator)\nAPI: {__version__}\nDRV: simulator {__version__}\n"
                f"target: {','.join(self.cfg.target_platform)}")

    def eval_memory(self, is_print: bool = True) -> dict[str, int] | None:
        if self.model is None:
            raise StateError("eval_memory() called before build() or load_rknn()")
        from .sim.memory import estimate
        mem = estimate(self.model)
        if getattr(self.runtime, "on_board", False):
            self.log.w(f"eval_memory(): board {self.runtime.serial} is not measured (the board runner reports no "
                       f"memory); these are the model's own sizes, as without a board")
        if is_print:
            self.log.i(f"weights {mem['weight_memory']} B, activations peak {mem['internal_memory']} B, "
                       f"total {mem['total_memory']} B")
        return mem

    def eval_perf(self, inputs: list | None = None, data_format: str | list | None = None, is_print: bool = True,
                  loop_cnt: int = 1, **kwargs: Any) -> dict[str, Any] | None:
        """Host-CPU time of the simulator, per layer: `inputs` (as for inference(); zeros if None),
        averaged over `loop_cnt` runs. The per-layer table is printed with init_runtime(perf_debug=True)."""
        if self.runtime is None or self.model is None:
            raise StateError("eval_perf() called before init_runtime()")
        vendor_args.screen(self.log, "eval_perf", kwargs)
        if isinstance(inputs, bool):   # toolkit2's signature is eval_perf(is_print=True): eval_perf(False)
            is_print, inputs = inputs, None
        if not isinstance(loop_cnt, int) or isinstance(loop_cnt, bool) or loop_cnt < 1:
            raise ConfigError(f"loop_cnt must be an integer >= 1; got {loop_cnt!r}")
        if getattr(self.runtime, "on_board", False):
            return self._board_perf(inputs, data_format, is_print, loop_cnt)
        m, rt = self.model, self.runtime
        if isinstance(rt, dynamic.DynamicRuntime):
            m, rt = rt.pick(inputs, data_format) if inputs is not None else (rt.models[0], rt.runtimes[0])
        if inputs is None:
            feeds = [np.zeros((v.shape[0] * m.rknn_batch_size, *v.shape[1:]), v.dtype or np.float32)
                     for v in m.graph.inputs]
        else:
            feeds = prepare(m.graph.inputs, m.config.preprocess, inputs, data_format, None, m.rknn_batch_size)
        layer_ms: dict[tuple[str, str], float] = {}
        totals = []
        for _ in range(loop_cnt):
            last = [time.perf_counter()]

            def hook(node, outs):
                now = time.perf_counter()
                key = (node.name, node.op_type)
                layer_ms[key] = layer_ms.get(key, 0.0) + (now - last[0]) * 1e3
                last[0] = now

            start = last[0]
            rt.run(feeds, hook)
            totals.append((time.perf_counter() - start) * 1e3)
        times = [(n, o, ms / loop_cnt) for (n, o), ms in layer_ms.items()]
        total = float(np.mean(totals))
        if is_print:
            if self.perf_debug:
                for name, op, ms in times:
                    self.log.i(f"{op:<20} {name:<40} {ms:8.3f} ms")
            self.log.i(f"Total simulator time: {total:.3f} ms, mean of {loop_cnt} run(s) "
                       f"(host CPU, not an NPU estimate)")
        return {"total_ms": total, "loop_cnt": loop_cnt, "runs_ms": totals,
                "layers": [{"name": n, "op": o, "ms": t} for n, o, t in times]}

    def _board_perf(self, inputs: list | None, data_format: str | list | None, is_print: bool,
                    loop_cnt: int) -> dict[str, Any]:
        """eval_perf() on a board (1.x eval_perf example: init_runtime(target=...), eval_perf(loop_cnt=100)):
        the board runner's own time per run, which loads the model, starts its runtime and infers once
        (an upper bound of the inference time). Per-layer times need the vendor driver's profiler,
        which the runner does not expose: with perf_debug a W line says so."""
        m = self.model
        if inputs is None:      # as on the simulator: zeros, in the model's own layout
            inputs, data_format = [np.zeros(v.shape, v.dtype or np.float32) for v in m.graph.inputs], "nchw"
        feeds, fmt = _board_feeds(m, inputs, data_format or "nhwc")
        if self.perf_debug:
            self.log.w("eval_perf(): per-layer times are not available on a board (the board runner reports "
                       "one time per run); init_runtime() without a target gives the simulator's per-layer times")
        runs = [self.runtime.timed(feeds, fmt) for _ in range(loop_cnt)]
        total = float(np.mean(runs))
        if is_print:
            self.log.i(f"Total board time: {total:.3f} ms, mean of {loop_cnt} run(s) (the board runner's time "
                       f"for loading the model, starting its runtime and one inference)")
        return {"total_ms": total, "loop_cnt": loop_cnt, "runs_ms": runs, "layers": []}

    def _close_runtime(self) -> None:
        close = getattr(self.runtime, "close", None)
        if close is not None:
            close()
        self.runtime = None

    def release(self) -> None:
        self._close_runtime()
        self.model = None
        self.graph = None
        custom_op_mod.unregister(self._custom_ops)
        self._custom_ops = []
        self.log.close()


def _board_feeds(m: BuiltModel, inputs: Any, data_format: str | list) -> tuple[list, str]:
    """Raw inputs for the board runner, which takes one data_format for all inputs."""
    formats = set(formats_per_input(data_format, len(m.graph.inputs)))
    if len(formats) > 1:
        raise ConfigError("the board runner takes one data_format for all inputs",
                          fix="pass every input in the same layout on a board")
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs], formats.pop()


def _simulator(model: BuiltModel):
    """The model's simulator on the chosen execution backend (RKNN_DIAG_BACKEND; sim.backend)."""
    return sim_backend.simulator(model.graph, model.mode, model.quant)


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
