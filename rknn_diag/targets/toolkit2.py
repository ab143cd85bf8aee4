"""The vendor's rknn-toolkit2 (converter + x86 simulator) as a `Target`.

Each case runs in its own worker process (`toolkit2_worker.py`) with a hard
timeout enforced from here: the vendor's native code can segfault its own
process or hang where no Python alarm reaches it (VENDOR_TOOLKIT.md). One crash
or hang ends one case, as a `VendorCrash`/`VendorTimeout`, and the next case
runs in a new process. Data crosses the boundary as .npy files and JSON only.
The worker is either a fresh interpreter (default; ~1 s of it is the vendor's
import) or, with preload=True / RKNN_DIAG_TOOLKIT2_PRELOAD=1, a fork of a
server that imported the vendor once (~0.1 s a case; same outputs, same crashes).

Every difference between the project's terms (the toolkit 1.x API that
`rknn_diag.api.RKNN` copies) and toolkit2 2.5.0 is handled in ONE place below:
`to_vendor()` on the way in and `from_vendor_outputs()` on the way out. Each
adjustment it makes is recorded in `RunResult.info["notes"]`.

The vendor needs old pins (numpy 1.26, onnx 1.18, ...), so it lives in its own
environment: `tox -e toolkit2`. The worker may run under another interpreter
than this module (`python=` / RKNN_DIAG_TOOLKIT2_PYTHON), e.g. the tox env's.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rknn_diag.errors import (  # noqa: F401  (the vendor errors are re-exported for callers)
    DatasetError,
    TargetError,
    InputError,
    ModelLoadError,
    PreloadServerError,
    ToolkitNotInstalled,
    VendorCrash,
    VendorError,
    VendorTimeout,
    VendorUnsupported,
)
from rknn_diag.targets.base import BuildSpec, RunResult, Target

# --------------------------------------------------------------------------
# Facts about the vendor toolkit (rknn-toolkit2 2.5.0; see VENDOR_TOOLKIT.md).
# --------------------------------------------------------------------------
DISTRIBUTION = "rknn-toolkit2"
# load_onnx refuses higher opsets ("Unsupport onnx opset 22, need <= 19!").
MAX_OPSET = 19
# config(quantized_dtype=...) accepts exactly these and raises on anything else.
QUANTIZED_DTYPES = ("w8a8", "w8a16", "w16a16i_dfp", "w4a16")
# toolkit 1.x names (our API's, guide §1.4) that toolkit2 has no equivalent for.
V1_QUANTIZED_DTYPES = ("asymmetric_quantized-u8", "asymmetric_quantized-8",
                       "dynamic_fixed_point-i8", "dynamic_fixed_point-i16",
                       "dynamic_fixed_point-8", "dynamic_fixed_point-16",
                       "asymmetric_affine-u8")
DEFAULT_QUANTIZED_DTYPE = "w8a8"
DEFAULT_PLATFORM = "rk3588"
# Versions reported by info(): the vendor and the pins it depends on.
REPORTED_DISTRIBUTIONS = (DISTRIBUTION, "numpy", "onnx", "onnxruntime", "protobuf", "torch")

# A conv case takes ~1.5 s end to end here; a big model's w8a8 build takes minutes.
DEFAULT_TIMEOUT_S = 300.0
ENV_PYTHON = "RKNN_DIAG_TOOLKIT2_PYTHON"     # interpreter that has the vendor installed
ENV_TIMEOUT = "RKNN_DIAG_TOOLKIT2_TIMEOUT"   # seconds per case
ENV_PRELOAD = "RKNN_DIAG_TOOLKIT2_PRELOAD"   # 1: fork cases from a preloaded server
WORKER = Path(__file__).with_name("toolkit2_worker.py")
INSTALL_FIX = ("create the vendor environment with `tox -e toolkit2` (the ordered 4-step install in "
               "tox.ini) and run there, or point Toolkit2Target(python=...) / "
               f"{ENV_PYTHON} at its interpreter, e.g. .tox/toolkit2/bin/python")


# --------------------------------------------------------------------------
# The one mapping between the project's terms and the vendor's.
# --------------------------------------------------------------------------
@dataclass
class VendorPlan:
    job: dict[str, Any]                                  # what the worker calls, in vendor terms
    notes: list[str] = field(default_factory=list)       # every adjustment made, for the report
    output_shapes: list[tuple | None] = field(default_factory=list)  # ONNX layout of each output


def to_vendor(model_path: str, spec: BuildSpec, inputs: Sequence[np.ndarray], workdir: str,
              *, target_platform: str = DEFAULT_PLATFORM) -> VendorPlan:
    """Translate one case into the vendor's calls. Raises VendorUnsupported for a
    case the vendor cannot take, before any vendor process starts."""
    import onnx
    from google.protobuf.message import DecodeError

    notes: list[str] = []
    where = str(model_path)

    # --- config() ------------------------------------------------------------
    config = dict(spec.config)
    platform = config.pop("target_platform", None) or target_platform
    if isinstance(platform, (list, tuple)):           # toolkit 1.x took a list of chips
        if len(platform) != 1:
            raise VendorUnsupported(f"target_platform {platform!r}: rknn-toolkit2 builds for one chip",
                                    where=where, fix="give a single chip, e.g. 'rk3588'")
        platform = platform[0]
    config["target_platform"] = str(platform).lower()

    if "channel_mean_value" in config:                # oldest 1.x form: "m0 m1 m2 scale"
        vals = [float(v) for v in str(config.pop("channel_mean_value")).split()]
        config["mean_values"] = [vals[:-1]]
        config["std_values"] = [[vals[-1]] * (len(vals) - 1)]
        notes.append("channel_mean_value split into mean_values/std_values")
    for key in ("mean_values", "std_values"):
        # Both APIs default to identity (mean 0, std 1) when these are absent, so
        # absent stays absent; a flat list means one input.
        val = config.get(key)
        if isinstance(val, np.ndarray):
            val = config[key] = val.tolist()
        if val is not None and len(val) and not isinstance(val[0], (list, tuple, np.ndarray)):
            config[key] = [list(val)]
            notes.append(f"{key} given flat; wrapped as one input's values")

    if spec.do_quantization:
        qdtype = config.get("quantized_dtype") or DEFAULT_QUANTIZED_DTYPE
        if qdtype not in QUANTIZED_DTYPES:
            kind = "a toolkit 1.x dtype with no toolkit2 equivalent" if qdtype in V1_QUANTIZED_DTYPES \
                else "not a toolkit2 dtype"
            raise VendorUnsupported(
                f"quantized_dtype {qdtype!r} is {kind}: rknn-toolkit2 accepts only "
                f"{', '.join(QUANTIZED_DTYPES)}", stage="config", where=where,
                fix="expected for this target: mark the case xfail on toolkit2 with this reason")
        config["quantized_dtype"] = qdtype
    elif "quantized_dtype" in config:
        # float16 build: the vendor would still validate (and refuse) a 1.x name.
        notes.append(f"quantized_dtype {config.pop('quantized_dtype')!r} dropped: do_quantization=False")

    if spec.load:
        return _framework_plan(spec, config, inputs, workdir, notes)

    # --- load_onnx(): opset ---------------------------------------------------
    try:
        model = onnx.load(model_path)
    except (OSError, ValueError, DecodeError) as e:
        raise ModelLoadError(f"cannot read the ONNX model: {e}", where=where,
                             fix="check the path; a truncated or non-ONNX file cannot be converted") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    vendor_model = os.path.abspath(model_path)
    if opset is not None and opset > MAX_OPSET:
        from onnx import version_converter
        try:
            model = version_converter.convert_version(model, MAX_OPSET)
        except (RuntimeError, ValueError, IndexError, onnx.checker.ValidationError) as e:   # the converter's limits
            raise VendorUnsupported(
                f"opset {opset} > {MAX_OPSET} (the vendor's limit) and onnx.version_converter "
                f"could not down-convert it: {e}", stage="load_onnx", where=where,
                fix="expected for this target: mark the case xfail on toolkit2") from None
        model.ir_version = min(model.ir_version, 9)   # IR 9 is opset 19's; the vendor's onnx reads it
        vendor_model = os.path.join(workdir, "model_opset19.onnx")
        onnx.save(model, vendor_model)
        notes.append(f"opset {opset} down-converted to {MAX_OPSET} with onnx.version_converter")
    output_shapes = [_static_shape(o) for o in model.graph.output] if not spec.load_outputs else []
    initializers = {i.name for i in model.graph.initializer}
    input_shapes = [_static_shape(i) for i in model.graph.input if i.name not in initializers]
    if spec.input_size_list:
        input_shapes = [tuple(s) for s in spec.input_size_list]

    # --- build(): calibration dataset ------------------------------------------
    dataset = spec.dataset
    if spec.do_quantization and dataset:
        dataset = _dataset_to_nchw(dataset, input_shapes, workdir, notes)

    # --- inference(): data_format ----------------------------------------------
    # The vendor assumes 'nhwc' when not told; say what our inputs are, per input.
    fmt = spec.data_format.lower()
    if fmt not in ("nchw", "nhwc"):
        raise VendorUnsupported(f"data_format {spec.data_format!r}: the vendor knows nchw and nhwc",
                                stage="inference", where=where, fix="use 'nchw' or 'nhwc'")

    job = {
        "source_model": os.path.abspath(model_path),   # for people reading a kept repro; unused
        "config": config,
        "load_onnx": {"model": vendor_model, "inputs": spec.load_inputs,
                      "outputs": spec.load_outputs, "input_size_list": spec.input_size_list},
        "build": {"do_quantization": bool(spec.do_quantization),
                  "dataset": dataset if spec.do_quantization else None,
                  # the vendor's default (None) is a batch of 1; pass only a real change
                  "rknn_batch_size": spec.rknn_batch_size if spec.rknn_batch_size != 1 else None},
        "inference": {"data_format": [fmt] * len(inputs)},
    }
    return VendorPlan(job=job, notes=notes, output_shapes=output_shapes)


# The vendor's framework loaders and the arguments toolkit2 2.5.0 takes (our extras, e.g. the
# toolkit-1 `proto=` of load_caffe, are dropped with a note).
VENDOR_LOAD_ARGS = {"load_caffe": ("model", "blobs", "input_name"), "load_darknet": ("model", "weight"),
                    "load_pytorch": ("model", "input_size_list"), "load_tflite": ("model",),
                    "load_tensorflow": ("tf_pb", "inputs", "outputs", "input_size_list")}


def _framework_plan(spec: BuildSpec, config: dict, inputs: Sequence[np.ndarray], workdir: str,
                    notes: list[str]) -> VendorPlan:
    """A case loaded by a framework loader: the same calls, that loader instead of load_onnx."""
    method, kwargs = spec.load
    if method not in VENDOR_LOAD_ARGS:
        raise VendorUnsupported(f"{method} is not a loader of rknn-toolkit2", stage=method,
                                fix="use load_caffe, load_darknet, load_pytorch, load_tflite or load_tensorflow")
    args = {k: os.path.abspath(v) if k in ("model", "blobs", "weight", "tf_pb") and v else v
            for k, v in kwargs.items() if k in VENDOR_LOAD_ARGS[method]}
    dropped = sorted(set(kwargs) - set(args))
    if dropped:
        notes.append(f"{method}: {dropped} dropped (not in rknn-toolkit2's signature)")
    sizes = args.get("input_size_list") if method == "load_tensorflow" else None
    if sizes and any(len(s) == 3 for s in sizes):
        # toolkit 1.x (the guide) takes [H, W, C]; toolkit2 wants the placeholder's rank, batch included
        args["input_size_list"] = [[1, *s] if len(s) == 3 else list(s) for s in sizes]
        notes.append("load_tensorflow: input_size_list without the batch dimension (toolkit 1.x form) given "
                     "with a leading 1, the form rknn-toolkit2 takes")
    dataset = spec.dataset
    if spec.do_quantization and dataset:
        shapes = [tuple(x.shape[i] for i in (0, 3, 1, 2)) if x.ndim == 4 and spec.data_format == "nhwc"
                  else tuple(x.shape) for x in inputs]
        dataset = _dataset_to_nchw(dataset, shapes, workdir, notes)
    job = {"config": config, "load": {"method": method, "kwargs": args},
           "build": {"do_quantization": bool(spec.do_quantization),
                     "dataset": dataset if spec.do_quantization else None,
                     "rknn_batch_size": spec.rknn_batch_size if spec.rknn_batch_size != 1 else None},
           "inference": {"data_format": [spec.data_format.lower()] * len(inputs)}}
    return VendorPlan(job=job, notes=notes, output_shapes=[])


def from_vendor_outputs(outputs: list[np.ndarray], plan: VendorPlan) -> list[np.ndarray]:
    """Outputs in the ONNX model's layout (NCHW). The vendor returns that layout
    today; an NHWC output is transposed back and noted rather than passed on."""
    fixed = []
    for i, out in enumerate(outputs):
        want = plan.output_shapes[i] if i < len(plan.output_shapes) else None
        if (want is not None and out.ndim == 4 and tuple(out.shape) != want
                and tuple(out.shape) == (want[0], want[2], want[3], want[1])):
            out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
            plan.notes.append(f"output {i} came back NHWC; transposed to NCHW")
        fixed.append(out)
    return fixed


def _save_inputs(workdir: str, inputs: Sequence[np.ndarray], prefix: str) -> list[str]:
    """One inference's inputs as .npy files for the worker (numbers only: no pickle crosses)."""
    names = []
    for i, x in enumerate(inputs):
        names.append(f"{prefix}_{i}.npy")
        try:
            np.save(os.path.join(workdir, names[-1]), np.ascontiguousarray(x), allow_pickle=False)
        except ValueError as e:   # object arrays would need pickle
            raise InputError(f"input {i} cannot cross to the vendor process: {e}",
                             where=f"input {i}", fix="pass numeric numpy arrays") from None
    return names


def _jsonable(o: Any) -> Any:
    """numpy values in config (mean_values as an array, np.float32 thresholds)."""
    if isinstance(o, (np.ndarray, np.generic)):
        return o.tolist()
    raise TypeError(f"config value of type {type(o).__name__} cannot be passed to the vendor process")


def _static_shape(value_info) -> tuple | None:
    dims = value_info.type.tensor_type.shape.dim
    if not dims or any(not d.HasField("dim_value") for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


def _dataset_to_nchw(dataset: str, input_shapes: list[tuple | None], workdir: str,
                     notes: list[str]) -> str:
    """toolkit2 wants calibration .npy files NCHW, toolkit 1.x wanted NHWC (guide
    §1.4.6). Rewrite the dataset file with NCHW copies; images pass through."""
    base = os.path.dirname(os.path.abspath(dataset))
    lines_out, transposed = [], 0
    try:
        with open(dataset, encoding="utf-8") as f:
            lines = [ln.split() for ln in f if ln.strip()]
    except OSError as e:
        raise DatasetError(f"cannot read the dataset file: {e}", where=dataset,
                           fix="give build(dataset=) a text file listing one sample per line") from None
    for n, tokens in enumerate(lines):
        out_tokens = []
        for k, tok in enumerate(tokens):
            path = tok if os.path.isabs(tok) else os.path.join(base, tok)
            shape = input_shapes[k] if k < len(input_shapes) else None
            if not tok.endswith(".npy") or shape is None or len(shape) != 4:
                out_tokens.append(path)
                continue
            try:
                arr = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:   # missing, truncated, or pickled objects
                raise DatasetError(f"cannot load calibration sample {tok}: {e}",
                                   where=f"{dataset}:{n + 1}, input {k}",
                                   fix="samples are .npy arrays saved without pickle") from None
            arr4 = arr[None] if arr.ndim == 3 else arr
            _, c, h, w = shape
            if arr4.ndim == 4 and arr4.shape[1:] == (h, w, c):
                # NHWC (the project's layout, as in toolkit 1.x). When C == H == W the
                # shape cannot tell; the project's layout is assumed.
                arr4 = arr4.transpose(0, 3, 1, 2)
                transposed += 1
            new = os.path.join(workdir, f"calib_{n}_{k}.npy")
            np.save(new, np.ascontiguousarray(arr4), allow_pickle=False)
            out_tokens.append(new)
        lines_out.append(" ".join(out_tokens))
    new_ds = os.path.join(workdir, "dataset.txt")
    with open(new_ds, "w", encoding="utf-8") as f:
        f.write("\n".join(lines_out) + "\n")
    if transposed:
        notes.append(f"{transposed} calibration .npy file(s) transposed NHWC -> NCHW for toolkit2")
    return new_ds


# What the vendor says when init_runtime(target=, device_id=) cannot reach the board or its
# rknn_server (seen with 2.5.0: "E RKNNAPI: rknn_init,  server connect fail!  ret = -9(ERROR_PIPE)!",
# "The rknn_server on the concected device is abnormal, ...").
_BOARD_UNREACHABLE = re.compile(r"rknn_server|server connect fail|ERROR_PIPE|device.{0,40}not found|"
                                r"no devices|adb", re.I)

# What the vendor says when it declines a feature on purpose while building.
_REFUSAL = re.compile(r"unsupport|not support|need to be constant", re.I)


def vendor_reason(message: str) -> tuple[str, bool]:
    """(reason, deliberate) from a vendor exception's text.

    The vendor wraps every exception in a ValueError whose text is a traceback.
    When its innermost frame is the vendor's own logger (`RKNNLog.e`) the vendor
    chose to report an error; any other innermost frame (its graph optimizer,
    onnxruntime, ...) is an unexpected exception inside the vendor. The reason is
    whatever follows the last frame."""
    lines = message.splitlines()
    frames = [i for i, ln in enumerate(lines) if ln.startswith("  File ")]
    if not frames:
        return message.strip(), True
    i = frames[-1] + 1
    while i < len(lines) and lines[i].startswith("    "):   # source line, ^^^ markers
        i += 1
    reason = "\n".join(lines[i:]).strip() or message.strip()
    return reason, "RKNNLog.e" in lines[frames[-1]]


def classify(stage: str, message: str) -> type[VendorError]:
    """A deliberate refusal while reading settings or the model, or one that says
    'not supported' while building, puts the case outside the vendor's support
    (VendorUnsupported); every other failure is a vendor finding (VendorError)."""
    reason, deliberate = vendor_reason(message)
    if not deliberate:
        return VendorError
    if stage in ("config", "load_onnx") or (stage == "build" and _REFUSAL.search(reason)):
        return VendorUnsupported
    return VendorError


# --------------------------------------------------------------------------
# The vendor's log: ANSI colours, \r progress bars, "E"/"W"/"I" lines.
# --------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def clean_log(raw: bytes) -> str:
    text = _ANSI.sub("", raw.decode("utf-8", errors="replace"))
    # Keep the last state of each progress bar line only.
    return "\n".join(line.split("\r")[-1] for line in text.split("\n"))


# Lines the vendor prints around every error that say nothing about this one.
_NOISE = re.compile(r"^E (rknn-toolkit2 version:|\w+: Traceback \(most recent call last\):$)")


def _error_lines(log: str, kinds: str = "E", limit: int = 20, skip: str = "") -> str:
    """The vendor's distinct `kinds` lines (E: errors, W: warnings), minus its
    boilerplate and anything already quoted in `skip`."""
    seen: dict[str, None] = {}
    prefixes = tuple(f"{k} " for k in kinds)
    for line in log.splitlines():
        said = re.sub(r"^\w+: ", "", line[2:]).strip()   # "E build: reason" -> "reason"
        if line.startswith(prefixes) and not _NOISE.match(line) and said not in skip:
            seen[line] = None
    return "\n".join(list(seen)[-limit:])


def _tail(log: str, n: int = 15) -> str:
    return "\n".join([ln for ln in log.splitlines() if ln.strip()][-n:]) or "(no output)"


# --------------------------------------------------------------------------
# The target.
# --------------------------------------------------------------------------
_PROBE = """
import json, sys
from importlib import metadata
out = {}
for dist in sys.argv[1:]:
    try:
        out[dist] = metadata.version(dist)
    except metadata.PackageNotFoundError:
        out[dist] = None
print(json.dumps(out))
"""

# Runs the worker file with neither its folder (our targets package, with
# modules named base.py etc.) nor the cwd (-c puts '' first) on sys.path.
_BOOTSTRAP = ("import runpy, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
              "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


class Toolkit2Target(Target):
    """rknn-toolkit2's simulator (init_runtime() without a target)."""

    name = "toolkit2"
    vendor = True

    board_optional = True   # --device-id: init_runtime(target=CHIP, device_id=SERIAL) through rknn_server

    @classmethod
    def timeout_options(cls, step_timeout: float | None, run_timeout: float | None) -> dict[str, Any]:
        return {} if run_timeout is None else {"timeout": run_timeout}

    @classmethod
    def preflight(cls, device_ids: list[str] | None = None, adb_server: str | None = None) -> None:
        cls(preload=False).versions()     # ToolkitNotInstalled names the interpreter and the fix

    def __init__(self, *, target_platform: str = DEFAULT_PLATFORM,
                 python: str | Sequence[str] | None = None, timeout: float | None = None,
                 workdir_root: str | None = None, keep_workdirs: bool = False,
                 preload: bool | None = None, device_id: str | None = None, adb_server: str | None = None):
        python = python or os.environ.get(ENV_PYTHON) or sys.executable
        # device_id: the vendor's own board path, init_runtime(target=CHIP, device_id=SERIAL): the
        # vendor converts and simulates nothing here; it talks to rknn_server on the board over adb.
        self.device_id = device_id
        self.adb_server = adb_server
        self._board_facts: dict[str, Any] | None = None
        if device_id:
            self.name = f"toolkit2:{device_id}"
            self.serial = device_id
            target_platform = self.board_facts().get("chip") or target_platform
        self.python: list[str] = [python] if isinstance(python, str) else list(python)
        self.target_platform = target_platform
        self.timeout = float(timeout if timeout is not None else os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT_S))
        self.workdir_root = workdir_root
        self.keep_workdirs = keep_workdirs
        self._versions: dict[str, str | None] | None = None
        # preload: fork each case from a server that imported the vendor once.
        if preload is None:
            preload = os.environ.get(ENV_PRELOAD, "").strip().lower() in ("1", "true", "yes", "on")
        self.preload = preload
        self._server: _PreloadServer | None = None

    # -- what is installed -----------------------------------------------------
    def versions(self) -> dict[str, str | None]:
        """Versions of the vendor and its pins in the worker's interpreter;
        raises ToolkitNotInstalled when the vendor is not there."""
        if self._versions is None:
            cmd = [*self.python, "-c", _PROBE, *REPORTED_DISTRIBUTIONS]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise ToolkitNotInstalled(f"cannot run the vendor's interpreter {self.python}: {e}",
                                          fix=INSTALL_FIX) from None
            if proc.returncode != 0:
                raise ToolkitNotInstalled(
                    f"the vendor's interpreter {self.python} failed to report versions "
                    f"(exit {proc.returncode}): {proc.stderr.strip()[-500:]}", fix=INSTALL_FIX)
            self._versions = json.loads(proc.stdout)
        if not self._versions.get(DISTRIBUTION):
            raise ToolkitNotInstalled(f"{DISTRIBUTION} is not installed for {' '.join(self.python)}",
                                      fix=INSTALL_FIX)
        return self._versions

    def available(self) -> bool:
        try:
            self.versions()
        except ToolkitNotInstalled:
            return False
        return True

    def board_facts(self) -> dict[str, Any]:
        """The board's chip and firmware versions, read over adb like any board's (device_id only)."""
        if self._board_facts is None:
            from rknn_diag.board import discovery
            from rknn_diag.board.facts import read_board_facts
            from rknn_diag.board.steps import DEFAULT_STEP_TIMEOUT, run_step
            device = run_step(self.device_id, "connect",
                              lambda: discovery.connect(self.device_id, self.adb_server, DEFAULT_STEP_TIMEOUT),
                              DEFAULT_STEP_TIMEOUT)
            self._board_facts = read_board_facts(device)
        return self._board_facts

    def info(self) -> dict[str, Any]:
        versions = self.versions()
        info = {"name": self.name, "chip": self.target_platform, "target_platform": self.target_platform,
                "toolkit": versions[DISTRIBUTION], "versions": {k: v for k, v in versions.items() if v},
                "python": " ".join(self.python)}
        if self.device_id:
            facts = self.board_facts()
            info["board"] = self.device_id
            info["versions"].update({k: str(facts[k]) for k in ("rknn_server", "runtime", "npu_driver") if facts.get(k)})
        return info

    # -- one case --------------------------------------------------------------
    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        return self.run_many(model_path, spec, [inputs])[0]

    def export(self, model_path: str, spec: BuildSpec, rknn_path: str) -> None:
        """Convert with the vendor and write its .rknn to `rknn_path`; nothing is run (the
        host side of `--target board --converter toolkit2`)."""
        self.run_many(model_path, spec, [[]], export=os.path.abspath(rknn_path))

    def run_many(self, model_path: str, spec: BuildSpec, inputs_list: list[list[np.ndarray]],
                 export: str | None = None) -> list[RunResult]:
        info = self.info()   # raises ToolkitNotInstalled first, before any work
        inputs, more = inputs_list[0], inputs_list[1:]
        workdir = tempfile.mkdtemp(prefix="toolkit2-case-", dir=self.workdir_root)
        keep = self.keep_workdirs
        try:
            plan = to_vendor(model_path, spec, inputs, workdir, target_platform=self.target_platform)
            plan.job["inputs"] = _save_inputs(workdir, inputs, "in")
            plan.job["more_inputs"] = [_save_inputs(workdir, xs, f"in{k + 1}") for k, xs in enumerate(more)]
            if export:
                plan.job["export"], plan.job["runtime"] = export, False
            if self.device_id:
                plan.job["init_runtime"] = {"target": self.target_platform, "device_id": self.device_id}
            with open(os.path.join(workdir, "job.json"), "w", encoding="utf-8") as f:
                json.dump(plan.job, f, indent=1, default=_jsonable)
            try:
                result, log = self._spawn(workdir, model_path, info)
            except (VendorCrash, VendorTimeout) as e:
                self._keep_repro(workdir, plan, e)
                keep = True
                raise
            where = f"{model_path}, {result.get('stage')}()"
            if result["status"] != "ok":
                stage, message = result.get("stage") or "?", result.get("message", "")
                self._board_unreachable(stage, message, log)
                cls = classify(stage, message)
                verb = "refused" if cls is VendorUnsupported else "failed"
                reason, _ = vendor_reason(message)
                context = _error_lines(log, "E", skip=reason)
                raise cls(f"rknn-toolkit2 {info['toolkit']} {verb} the case at {stage}(): {reason}"
                          + (f"\nother vendor errors:\n{context}" if context else ""), stage=stage, log=log,
                          returncode=result.get("ret"), where=where,
                          fix=("expected for this target: mark the case xfail on toolkit2 with this reason"
                               if cls is VendorUnsupported else
                               "a vendor finding: keep the log and the repro; compare with our simulator"))
            timings = result.get("timings", {})
            run_info = {**info, "notes": plan.notes, "timings": timings,
                        "vendor_warnings": _error_lines(log, "W").splitlines()}
            lat = timings.get("inference_s")
            runs = []
            for names in [result["outputs"], *result.get("more_outputs", [])]:
                outputs = [np.load(os.path.join(workdir, n), allow_pickle=False) for n in names]
                runs.append(RunResult(outputs=from_vendor_outputs(outputs, plan), info=run_info,
                                      latency_ms=None if lat is None else lat * 1e3))
            return runs
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)

    def _board_unreachable(self, stage: str, message: str, log: str) -> None:
        """On the board path, the vendor failing to reach the board or its rknn_server is
        infrastructure (TargetError), not a vendor finding about the case."""
        if not self.device_id or stage != "init_runtime":
            return
        reason, _ = vendor_reason(message)
        said = _error_lines(log, "E") + "\n" + reason
        if _BOARD_UNREACHABLE.search(said):
            raise TargetError(f"rknn-toolkit2 could not use board {self.device_id} through rknn_server: "
                              f"{reason.splitlines()[0][:300]}\n{_error_lines(log, 'E', limit=5)}",
                              where=f"board {self.device_id}, step init_runtime",
                              fix="start rknn_server on the board (rknn-toolkit2's doc/rknn_server_proxy.md), "
                                  "match its version to the toolkit, check `adb devices`; "
                                  "rknn-doctor --device-id SERIAL checks the versions", ref="1.7.2")

    def _keep_repro(self, workdir: str, plan: VendorPlan, err: VendorError) -> None:
        """A process crash or hang is a vendor bug to report: keep the case's
        folder as a self-contained repro (the model copied in) and say how to run it."""
        job_path = os.path.join(workdir, "job.json")
        if not os.path.exists(job_path):
            return
        model = plan.job.get("load_onnx", {}).get("model", "")
        if model and os.path.dirname(model) != workdir and os.path.exists(model):
            local = os.path.join(workdir, "model.onnx")
            shutil.copyfile(model, local)
            plan.job["load_onnx"]["model"] = local
            with open(job_path, "w", encoding="utf-8") as f:
                json.dump(plan.job, f, indent=1, default=_jsonable)
        err.repro = f"cd {shlex.quote(workdir)} && {shlex.join(self.python)} {shlex.quote(str(WORKER))} ."
        err.message += f"\nrepro (folder kept): {err.repro}"

    def _spawn(self, workdir: str, model_path: str, info: dict) -> tuple[dict, str]:
        """Run the case's worker and wait at most `timeout`; on timeout kill its
        whole process group with SIGKILL. Returns (result.json, vendor log)."""
        t0 = time.monotonic()
        if self.preload:
            pid, rc, timed_out = self._run_forked(workdir)
        else:
            pid, rc, timed_out = self._run_process(workdir)
        elapsed = time.monotonic() - t0
        with open(os.path.join(workdir, "vendor.log"), "rb") as f:
            log = clean_log(f.read())
        where = f"{model_path}, worker pid {pid}"
        if timed_out:
            raise VendorTimeout(
                f"rknn-toolkit2 {info['toolkit']} did not finish the case in {self.timeout:g} s; "
                f"its process group was killed. Last log lines:\n{_tail(log)}",
                stage=_last_stage(log), log=log, returncode=rc, where=where,
                fix=f"a vendor hang: keep the repro; raise the timeout ({ENV_TIMEOUT}) only if the model is big")
        result_path = os.path.join(workdir, "result.json")
        if rc != 0 or not os.path.exists(result_path):
            raise VendorCrash(
                f"rknn-toolkit2 {info['toolkit']} worker died ({_describe_exit(rc)}) after {elapsed:.1f} s "
                f"during {_last_stage(log)}(). Last log lines:\n{_tail(log)}",
                stage=_last_stage(log), log=log, returncode=rc, where=where,
                fix="a vendor crash: keep the repro; the next case runs in a new process")
        with open(result_path, encoding="utf-8") as f:
            return json.load(f), log

    def _worker_env(self) -> dict[str, str]:
        # PYTHONUNBUFFERED: a crash must not eat buffered log lines. One BLAS
        # thread: the cases are small, and the preload server must stay
        # single-threaded to fork safely.
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
        if self.device_id and self.adb_server:
            # the vendor runs its bundled adb client; these point it at our adb server
            from rknn_diag.board.discovery import parse_adb_server
            host, port = parse_adb_server(self.adb_server)
            env.update({"ANDROID_ADB_SERVER_PORT": str(port), "ANDROID_ADB_SERVER_ADDRESS": host,
                        "ADB_SERVER_SOCKET": f"tcp:{host}:{port}"})
        return env

    def _run_process(self, workdir: str) -> tuple[int, int, bool]:
        """A fresh interpreter per case, in its own session (process group)."""
        with open(os.path.join(workdir, "vendor.log"), "wb") as log_f:
            proc = subprocess.Popen([*self.python, "-c", _BOOTSTRAP, str(WORKER), workdir],
                                    cwd=workdir, stdin=subprocess.DEVNULL, stdout=log_f,
                                    stderr=subprocess.STDOUT, env=self._worker_env(),
                                    start_new_session=True)
            timed_out = False
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                rc = proc.wait()
            finally:
                _kill_group(proc.pid)   # anything the worker left behind in its group
        return proc.pid, rc, timed_out

    # -- preload mode: one server per target that imported the vendor once -----
    def _run_forked(self, workdir: str) -> tuple[int, int, bool]:
        """The preload server forks a child per case (in its own session); the
        timeout is still ours: we kill the child's process group from here."""
        server = self._server_for_env()
        open(os.path.join(workdir, "vendor.log"), "wb").close()   # the child appends to it
        server.send({"job_dir": workdir})
        try:
            reply = server.receive(60)
        except TimeoutError:
            reply = {"error": "no answer in 60 s"}
        if "pid" not in reply:
            self.close()
            raise PreloadServerError(f"the toolkit2 preload server refused the case: {reply.get('error', reply)}",
                              where=workdir, fix="run without preload (RKNN_DIAG_TOOLKIT2_PRELOAD=0)")
        pid = reply["pid"]
        try:
            done = server.receive(self.timeout)
            return pid, done["returncode"], False
        except TimeoutError:
            _kill_group(pid)
            _kill(pid)   # in case it had not reached setsid() yet
            try:
                return pid, server.receive(60)["returncode"], True
            except TimeoutError:   # the server is stuck too: start afresh next case
                self.close()
                return pid, -signal.SIGKILL, True
        finally:
            _kill_group(pid)

    def _server_for_env(self) -> "_PreloadServer":
        env = self._worker_env()
        env.pop("PYTEST_CURRENT_TEST", None)   # changes every test; nothing the vendor reads
        if self._server is not None and (self._server.env != env or not self._server.alive()):
            self.close()   # the environment changed (or the server died): children must see the new one
        if self._server is None:
            self._server = _PreloadServer([*self.python, "-c", _BOOTSTRAP, str(WORKER), "--serve"], env)
            # A target dropped without close() must not leave a ~350 MB server behind.
            weakref.finalize(self, self._server.stop)
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


class _PreloadServer:
    """The parent's end of `toolkit2_worker.py --serve`: JSON lines over pipes."""

    def __init__(self, cmd: list[str], env: dict[str, str]):
        self.env = env
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=tempfile.gettempdir(),
                                     start_new_session=True)
        self._buf = b""
        try:
            ready = self.receive(120)
        except TimeoutError:
            ready = {"error": "no answer in 120 s"}
        if not ready.get("ready"):
            self.stop()
            raise PreloadServerError(f"the toolkit2 preload server did not start: {ready}",
                              fix="run without preload (RKNN_DIAG_TOOLKIT2_PRELOAD=0)")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, msg: dict) -> None:
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict:
        """One JSON line, waiting at most `timeout` (TimeoutError); EOF means the
        server died, which ends the case as a crash."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                rc = self.proc.wait()
                raise PreloadServerError(f"the toolkit2 preload server died ({_describe_exit(rc)})",
                                         fix="the next case starts a new server")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def stop(self) -> None:
        """Idempotent: EOF first (the server exits), then SIGKILL to its group."""
        try:
            self.proc.stdin.close()   # the server exits at EOF
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _kill_group(self.proc.pid)
        self.proc.wait()


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"


def _last_stage(log: str) -> str:
    stages = re.findall(r"^\[rknn_diag worker\] (\S+)", log, re.M)
    return stages[-1] if stages else "start"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_SHARED: dict[str, Toolkit2Target] = {}


def shared_target(chip: str) -> Toolkit2Target:
    """One vendor target per chip for the process (with preload, one server imported once)."""
    if chip not in _SHARED:
        _SHARED[chip] = Toolkit2Target(target_platform=chip)
    return _SHARED[chip]


def convert_with_toolkit2(model_path: str, spec: BuildSpec, rknn_path: str, facts: dict) -> None:
    """A `BoardTarget` converter: the vendor's rknn-toolkit2 builds the board's .rknn on the host
    (in its own environment, like every vendor case), for the board's chip."""
    shared_target(facts.get("chip") or DEFAULT_PLATFORM).export(model_path, spec, rknn_path)
    from rknn_diag.board import vtwin
    vtwin.record(rknn_path, model_path, spec, facts.get("chip"))   # for virtual boards only (RKNN_DIAG_VENDOR_TWINS)


convert_with_toolkit2.vendor = True   # a board running its models: wrong answers are vendor findings
