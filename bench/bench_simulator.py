"""Speed of our simulator against onnxruntime float32, per model and mode.

    python bench/bench_simulator.py [--corpus zoo,real] [--models a,b] [--modes float16,w8a8,...]
                                    [--repeat N] [--warmup N] [--json out.json] [--no-memory]

Models: the zoo (`fixtures/zoo`, built in code) and the real-model corpus (`fixtures/realmodels`:
PP-OCR cls, PP-OCRv4 det/rec, fed raw text images through config(mean_values, std_values));
each is built through the public API in every mode asked for (quantized modes calibrate on 16
images of the model's own kind), init_runtime() once, and inference() timed. The simulator's
backend is the default one (`RKNN_DIAG_BACKEND`, onnxruntime lowering unless set to numpy).

Headline ratio = simulator CPU ms / onnxruntime CPU ms (the calling thread's CPU time), both
single-threaded on the same machine in the same run: onnxruntime with intra_op_num_threads=1
(inter_op 1; it then computes on the calling thread), our simulator with its BLAS pinned to one
thread (OPENBLAS/OMP/MKL/... NUM_THREADS=1, set below before numpy is imported) and its
onnxruntime sessions at one thread. CPU time, because on a machine shared by many jobs the
scheduler preempts a long call more often than a short one, which inflates the wall-time
ratio of a slower engine; the wall-time ratio is printed beside it (`wall x`).
onnxruntime with its default thread count is shown for information only.
Times are medians of --repeat runs after --warmup runs; the headline pair is timed
round-robin (one onnxruntime run, one simulator run, repeat) so load from other processes
hits both alike. Only inference is timed (build time is reported separately). A row passes
when the ratio is within the mode's target. The simulator's outputs are also compared with
onnxruntime's (cosine), so a
fast but wrong simulator is visible in the same table.

Peak memory of one inference (`mem x`): each side in a fresh child process (this script
with --mem-child): ours loads the exported .rknn (load_rknn -> init_runtime), onnxruntime makes
its one-thread session; then the peak RSS is reset (/proc/self/clear_refs 5) and the rise of
VmHWM over VmRSS during the first inference is taken — allocations of onnxruntime's arenas and
of numpy alike, nothing left over from another measurement.

Build time (`build x`): config -> load_onnx -> build (calibration on the same 16-image
dataset.txt included) of ours, against the vendor's rknn-toolkit2 doing the same in its own
interpreter (--vendor-python, e.g. .tox/toolkit2/bin/python; the
RKNPU2 modes it has: float16, w8a8, w8a16, w16a16i_dfp, w4a16). That child also times the
vendor's simulator (init_runtime() with no target) round-robin against onnxruntime float32 one
thread in the same process (the vendor env's onnxruntime), so `vendor x` is a ratio of the
same kind as ours.

Targets per mode (`TARGETS`): float16 <= 1.5x, 8-bit <= 2x, 16-bit and w4a16 <= 4x; memory <= 2x;
build <= the vendor's (1x).

Exit status: 0 all rows PASS; 1 some row MISS or ERROR; 2 the simulator API is missing
(use --ort-only to time onnxruntime alone).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# Targets (issue 10): simulator ms / onnxruntime float32 ms, both single-threaded.
TARGETS = {"float16": 1.5, "w8a8": 2.0, "asymmetric_quantized-u8": 2.0, "dynamic_fixed_point-i8": 2.0,
           "w8a16": 4.0, "dynamic_fixed_point-i16": 4.0, "w16a16i_dfp": 4.0, "w4a16": 4.0}
TARGET_RATIO = TARGETS["float16"]
MEMORY_TARGET = 2.0   # peak memory of one inference against onnxruntime's
BUILD_TARGET = 1.0    # our config -> build time against the vendor's
VENDOR_MODES = ("float16", "w8a8", "w8a16", "w16a16i_dfp", "w4a16")   # rknn-toolkit2 2.5.0's
DEFAULT_VENDOR_PYTHON = Path("/work/main/.tox/toolkit2/bin/python")
# mode -> a chip that has it (the quantized modes' chips)
CHIPS = {"w8a8": "rk3588", "asymmetric_quantized-u8": "rk1808", "dynamic_fixed_point-i8": "rk1808",
         "dynamic_fixed_point-i16": "rk1808", "w8a16": "rk3562", "w16a16i_dfp": "rv1106", "w4a16": "rk3576"}
RKNPU1_CHIPS = ("rk1808",)
# Below this cosine the simulator's output is flagged as wrong (float16 gives ~0.9999+).
COSINE_FLAG = 0.99
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
ROOT = Path(__file__).resolve().parents[1]
if not DEFAULT_VENDOR_PYTHON.exists():
    DEFAULT_VENDOR_PYTHON = ROOT / ".tox" / "toolkit2" / "bin" / "python"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated model names (default: all of the corpora)")
    p.add_argument("--corpus", default="zoo", help="comma-separated: zoo, real (default: zoo)")
    p.add_argument("--modes", default="float16", help=f"comma-separated modes (default float16), of: "
                                                     f"{', '.join(TARGETS)}; 'all' for every one")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--repeat", type=int, default=20, help="timed runs per model and engine (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    p.add_argument("--size", type=int,
                   help="input side for every model instead of the zoo defaults (64..96), e.g. 224")
    p.add_argument("--json", metavar="PATH", help="also write the rows and the environment as JSON")
    p.add_argument("--ort-only", action="store_true", help="time onnxruntime only (no simulator)")
    p.add_argument("--sim-threads", type=int, default=1,
                   help="BLAS threads for the simulator (default 1: the fair, headline setting)")
    p.add_argument("--vendor-python", default="",
                   help="interpreter with rknn-toolkit2 for the build-time and vendor-simulator columns "
                        f"(e.g. {DEFAULT_VENDOR_PYTHON}; default: no vendor columns)")
    p.add_argument("--vendor-timeout", type=float, default=900.0, help="seconds per vendor child")
    a = p.parse_args(argv)
    if a.repeat < 1 or a.warmup < 0:
        p.error("--repeat must be >= 1 and --warmup >= 0")
    a.modes = list(TARGETS) if a.modes == "all" else [m.strip() for m in a.modes.split(",") if m.strip()]
    bad = [m for m in a.modes if m not in TARGETS]
    if bad:
        p.error(f"unknown mode(s) {bad}; known: {', '.join(TARGETS)}")
    a.corpus = [c.strip() for c in a.corpus.split(",") if c.strip()]
    if not a.corpus or set(a.corpus) - {"zoo", "real"}:
        p.error("--corpus takes zoo and/or real")
    return a


def pin_blas_threads(n: int) -> None:
    """Must run before numpy is imported to take effect."""
    if "numpy" in sys.modules:
        print("note: numpy was imported before the thread pin; BLAS threads may not be limited",
              file=sys.stderr)
    for var in _BLAS_THREAD_VARS:
        os.environ[var] = str(n)


def load_api():
    """The vendor-style facade, or None with a clear message when it is not there yet."""
    try:
        from rknn_diag.api import RKNN
    except ImportError as e:
        print(f"error: cannot import the simulator API `rknn_diag.api.RKNN` ({e}).\n"
              f"  where: {ROOT / 'rknn_diag' / 'api.py'}\n"
              "  fix: run from a checkout that has the API (main after the lead's merge), "
              "or pass --ort-only to time onnxruntime alone.", file=sys.stderr)
        return None
    return RKNN


def median_ms(fns: dict, repeat: int, warmup: int) -> dict[str, float]:
    """Median wall milliseconds of each callable (see `median_times`)."""
    return median_times(fns, repeat, warmup)[0]


def median_times(fns: dict, repeat: int, warmup: int, cpu=None) -> tuple[dict[str, float], dict[str, float]]:
    """(median wall ms, median CPU ms) of each callable. Round-robin: every round runs each
    callable once, so a change of load on a shared machine hits all of them alike. CPU time
    is the calling thread's (`time.thread_time_ns`; `cpu=time.process_time_ns` for all
    threads): a single-threaded engine's work, which the scheduler's preemption of longer
    calls on a loaded machine does not inflate the way it inflates wall time."""
    import time

    import numpy as np
    cpu = cpu or time.thread_time_ns
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall: dict[str, list[int]] = {k: [] for k in fns}
    work: dict[str, list[int]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            c0, t0 = cpu(), time.perf_counter_ns()
            fn()
            wall[k].append(time.perf_counter_ns() - t0)
            work[k].append(cpu() - c0)
    return ({k: float(np.median(v)) / 1e6 for k, v in wall.items()},
            {k: float(np.median(v)) / 1e6 for k, v in work.items()})


def ort_session(model_bytes: bytes, threads: int | None):
    """threads=None: onnxruntime's defaults (all cores)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    if threads is not None:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def cosine(a, b) -> float:
    import numpy as np
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.size != b.size:
        return float("nan")
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den else float(np.array_equal(a, b))


class SimError(RuntimeError):
    pass


class Simulator:
    """Our simulator through the vendor-style API: config -> load_onnx -> build (calibrating on
    `dataset` for a quantized mode) -> init_runtime; `build_s` times config..build."""

    def __init__(self, RKNN, model_path: Path, mode: str = "float16", dataset: str | None = None,
                 mean=((0, 0, 0),), std=((1, 1, 1),), data_format: str = "nchw"):
        import time
        self.r = RKNN()
        self.data_format = data_format
        cfg = {"mean_values": [list(mean[0])], "std_values": [list(std[0])]}
        cfg["target_platform"] = CHIPS.get(mode, "rk3588")
        if mode != "float16":
            cfg["quantized_dtype"] = mode
        build = (lambda: self.r.build(do_quantization=False)) if mode == "float16" else \
            (lambda: self.r.build(do_quantization=True, dataset=dataset))
        t0 = time.perf_counter()
        for step, call in (
                ("config", lambda: self.r.config(**cfg)),
                ("load_onnx", lambda: self.r.load_onnx(model=str(model_path))),
                ("build", build),
                ("init_runtime", lambda: self.r.init_runtime())):
            if step == "init_runtime":
                self.build_s = time.perf_counter() - t0
            ret = call()
            if ret != 0:
                detail = getattr(self.r, "last_error", None)
                self.release()
                raise SimError(f"{step}() returned {ret}" + (f": {detail}" if detail else ""))
        self.backend = getattr(getattr(self.r, "runtime", None), "backend", "?")

    def __call__(self, x):
        outs = self.r.inference(inputs=[x], data_format=self.data_format)
        if outs is None:
            detail = getattr(self.r, "last_error", None)
            raise SimError("inference() returned None" + (f": {detail}" if detail else ""))
        return outs

    def release(self) -> None:
        if self.r is not None:
            self.r.release()
            self.r = None


def ort_default_ms(blob: bytes, feeds: dict, args: argparse.Namespace) -> float:
    """onnxruntime with its default threads; the session (and its pool) ends on return."""
    sess = ort_session(blob, None)
    return median_ms({"d": lambda: sess.run(None, feeds)}, args.repeat, args.warmup)["d"]


def _proc_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


CHILD_MARK = "BENCH_CHILD "


def _rise_kb(fn) -> int:
    """VmHWM - VmRSS over `fn`, the peak reset just before (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")
    base = _proc_kb("VmRSS")
    fn()
    return max(_proc_kb("VmHWM") - base, 0)


def child_main(spec: dict) -> dict:
    """One measurement in this fresh process (see the module docstring); returns JSON-able."""
    import time

    import numpy as np
    kind = spec["kind"]
    if kind == "mem_ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(spec["onnx"], so, providers=["CPUExecutionProvider"])
        feed = {spec["input_name"]: np.load(spec["ort_input"], allow_pickle=False)}
        return {"rise_kb": _rise_kb(lambda: sess.run(None, feed))}
    if kind == "mem_ours":
        sys.path.insert(0, str(ROOT))
        from rknn_diag.api import RKNN
        r = RKNN()
        assert r.load_rknn(spec["rknn"]) == 0, getattr(r, "last_error", "load_rknn failed")
        assert r.init_runtime() == 0, getattr(r, "last_error", "init_runtime failed")
        x = np.load(spec["input"], allow_pickle=False)
        return {"rise_kb": _rise_kb(lambda: r.inference(inputs=[x], data_format=spec["data_format"]))}
    if kind == "vendor":
        import contextlib
        import io

        import onnxruntime as ort
        from rknn.api import RKNN
        r = RKNN(verbose=False)
        cfg = {"mean_values": spec["mean"], "std_values": spec["std"], "target_platform": spec["chip"]}
        if spec["mode"] != "float16":
            cfg["quantized_dtype"] = spec["mode"]
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            t0 = time.perf_counter()
            ret = [r.config(**cfg), r.load_onnx(model=spec["onnx"])]
            ret.append(r.build(do_quantization=spec["mode"] != "float16", dataset=spec["dataset"]))
            build_s = time.perf_counter() - t0
            ret.append(r.init_runtime())
        if any(ret):
            return {"error": f"vendor returned {ret} (config, load_onnx, build, init_runtime): "
                             + log.getvalue()[-300:]}
        x = np.load(spec["input"], allow_pickle=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(spec["onnx"], so, providers=["CPUExecutionProvider"])
        feed = {spec["input_name"]: np.load(spec["ort_input"], allow_pickle=False)}
        with contextlib.redirect_stdout(io.StringIO()):   # the vendor's own threads count: process CPU
            t, c = median_times({"o": lambda: sess.run(None, feed),
                                 "v": lambda: r.inference(inputs=[x], data_format=spec["data_format"])},
                                spec["repeat"], spec["warmup"], cpu=time.process_time_ns)
        r.release()
        return {"build_s": build_s, "vendor_ms": t["v"], "ort_ms": t["o"], "vendor_cpu_ms": c["v"],
                "ort_cpu_ms": c["o"]}
    raise ValueError(f"unknown child kind {kind!r}")


def run_child(python: str, spec: dict, timeout: float, cwd: Path) -> dict:
    """`child_main(spec)` in a fresh `python`; {'error': ...} when it fails."""
    import json
    import subprocess
    env = dict(os.environ, **{v: "1" for v in _BLAS_THREAD_VARS})
    try:
        p = subprocess.run([python, str(Path(__file__).resolve()), "--child", json.dumps(spec)], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{spec['kind']} child timed out after {timeout:g} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK):])
    return {"error": f"{spec['kind']} child exited {p.returncode}: {(p.stderr or p.stdout)[-300:]}"}


@dataclass
class Subject:
    """One model to time: the original ONNX (onnxruntime float32's input is `ort_feeds`), what a
    user passes to inference() (`sim_input`, `data_format`), the config's mean/std, and how to
    write a calibration dataset.txt of the model's own kind of data."""

    name: str
    blob: bytes
    ort_feeds: dict
    sim_input: Any
    data_format: str = "nchw"
    mean: tuple = ((0, 0, 0),)
    std: tuple = ((1, 1, 1),)
    dataset: Callable[[Path, str], Path] | None = None


def zoo_subject(name: str, built: tuple) -> Subject:
    """A zoo model: its feed is already normalised NCHW float (mean 0, std 1 in the config)."""
    import numpy as np
    model, feeds, meta = built
    (inp,) = feeds

    def dataset(folder: Path, generation: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        from fixtures import zoo
        lines = []
        for i, im in enumerate(zoo.dataset_images(meta, 16)):
            a = im[None].astype(np.float32)
            np.save(folder / f"s{i}.npy", a.transpose(0, 2, 3, 1) if generation == "rknpu1" else a,
                    allow_pickle=False)
            lines.append(f"s{i}.npy")
        (folder / "dataset.txt").write_text("\n".join(lines) + "\n")
        return folder / "dataset.txt"

    return Subject(name, model.SerializeToString(), feeds, feeds[inp], dataset=dataset)


def real_subject(name: str) -> Subject:
    """A corpus model fed a raw HxWx3 uint8 text image (NHWC), normalised in the model by the
    config's mean/std; onnxruntime gets the same image normalised by hand."""
    import numpy as np
    from fixtures import realmodels
    m = realmodels.get(name)
    img = m.images(1, 0)[0]
    x = ((img.astype(np.float32) - np.float32(m.mean)) / np.float32(m.std)).transpose(2, 0, 1)[None]
    import onnx
    model = onnx.load(str(m.onnx_path))
    feeds = {model.graph.input[0].name: np.ascontiguousarray(x, np.float32)}
    return Subject(name, model.SerializeToString(), feeds, img, "nhwc", (tuple(m.mean),), (tuple(m.std),),
                   lambda folder, generation: realmodels.write_dataset(m, folder, 16, generation=generation))


def bench_model(name: str, built, args: argparse.Namespace, RKNN, workdir: Path, mode: str = "float16") -> dict:
    """One table row. `built`: a Subject, or the zoo's (model, feeds, meta)."""
    subject = built if isinstance(built, Subject) else zoo_subject(name, built)
    blob, feeds, x = subject.blob, subject.ort_feeds, subject.sim_input
    row: dict = {"model": name, "mode": mode, "input_shape": list(next(iter(feeds.values())).shape),
                 "status": None, "target": TARGETS[mode]}

    # onnxruntime with its default threads is timed on its own: its pool's spinning
    # threads would steal cores from whatever ran right after it.
    row["ort_default_ms"] = ort_default_ms(blob, feeds, args)
    s1 = ort_session(blob, 1)
    ref = s1.run(None, feeds)
    ort_1t = lambda: s1.run(None, feeds)  # noqa: E731
    if RKNN is None:
        row["ort_1t_ms"] = median_ms({"o": ort_1t}, args.repeat, args.warmup)["o"]
        row["status"] = "ORT-ONLY"
        return row

    path = workdir / f"{name}.onnx"
    path.write_bytes(blob)
    sim = None
    try:
        dataset = None
        if mode != "float16":
            gen = "rknpu1" if CHIPS[mode] in RKNPU1_CHIPS else "rknpu2"
            dataset = str(subject.dataset(workdir / f"{name}-{gen}-ds", gen))
        sim = Simulator(RKNN, path, mode, dataset, subject.mean, subject.std, subject.data_format)
        row["sim_build_s"] = sim.build_s
        row["backend"] = sim.backend
        import numpy as np
        (in_name, ort_in), = feeds.items()
        np.save(workdir / "ort_input.npy", ort_in, allow_pickle=False)
        np.save(workdir / "input.npy", np.asarray(x), allow_pickle=False)
        if not getattr(args, "no_memory", True):   # the first inference of a fresh runtime, fresh processes
            rk = workdir / f"{name}-{mode}.rknn"
            if sim.r.export_rknn(str(rk)) != 0:
                raise SimError(f"export_rknn() failed: {getattr(sim.r, 'last_error', '')}")
            mo = run_child(sys.executable, {"kind": "mem_ours", "rknn": str(rk), "input": str(workdir / "input.npy"),
                                            "data_format": subject.data_format}, 600, workdir)
            mr = run_child(sys.executable, {"kind": "mem_ort", "onnx": str(path), "input_name": in_name,
                                            "ort_input": str(workdir / "ort_input.npy")}, 600, workdir)
            if "error" in mo or "error" in mr:
                row["note"] = mo.get("error") or mr.get("error")
            else:
                row["sim_mem_mb"], row["ort_mem_mb"] = mo["rise_kb"] / 1024.0, mr["rise_kb"] / 1024.0
        if getattr(args, "vendor_python", "") and mode in VENDOR_MODES:
            v = run_child(args.vendor_python, {
                "kind": "vendor", "onnx": str(path), "mode": mode, "chip": CHIPS.get(mode, "rk3588"),
                "mean": [list(subject.mean[0])], "std": [list(subject.std[0])], "dataset": dataset,
                "input": str(workdir / "input.npy"), "data_format": subject.data_format, "input_name": in_name,
                "ort_input": str(workdir / "ort_input.npy"), "repeat": args.repeat, "warmup": args.warmup},
                args.vendor_timeout, workdir)
            if "error" in v:
                row["vendor_error"] = v["error"]
            else:
                row["vendor_build_s"] = v["build_s"]
                row["build_ratio"] = row["sim_build_s"] / v["build_s"]
                row["vendor_wall_ratio"] = v["vendor_ms"] / v["ort_ms"]
                row["vendor_ratio"] = v["vendor_cpu_ms"] / v["ort_cpu_ms"]
        outs = sim(x)
        row["cosine_min"] = min((cosine(o, r) for o, r in zip(outs, ref)), default=float("nan"))
        if len(outs) != len(ref):
            row["note"] = f"simulator returned {len(outs)} outputs, onnxruntime {len(ref)}"
        t, c = median_times({"o": ort_1t, "s": lambda: sim(x)}, args.repeat, args.warmup)   # the headline pair
        row["ort_1t_ms"], row["sim_ms"] = t["o"], t["s"]
        row["ort_cpu_ms"], row["sim_cpu_ms"] = c["o"], c["s"]
        row["wall_ratio"] = t["s"] / t["o"]
    except Exception as e:   # one model failing must not hide the others' numbers
        row["status"] = "ERROR"
        row["error"] = f"{type(e).__name__}: {e}"
        row.setdefault("ort_1t_ms", median_ms({"o": ort_1t}, args.repeat, args.warmup)["o"])
        return row
    finally:
        if sim is not None:
            sim.release()
    row["ratio"] = row["sim_cpu_ms"] / row["ort_cpu_ms"]
    ok = row["ratio"] <= TARGETS[mode]
    # In one process freed memory is reused without the RSS rising again: a rise under 1 MB on the
    # onnxruntime side is no measurement, so no ratio is judged from it.
    if row.get("sim_mem_mb") is not None and (row.get("ort_mem_mb") or 0) >= 1.0:
        row["mem_ratio"] = row["sim_mem_mb"] / row["ort_mem_mb"]
        ok = ok and row["mem_ratio"] <= MEMORY_TARGET
    if row.get("build_ratio") is not None:
        ok = ok and row["build_ratio"] <= BUILD_TARGET
    row["status"] = "PASS" if ok else "MISS"
    return row


def environment(args: argparse.Namespace) -> dict:
    import platform

    import numpy as np
    import onnx
    import onnxruntime as ort
    return {"python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "numpy": np.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "sim_blas_threads": args.sim_threads, "size": args.size or "zoo default", "repeat": args.repeat,
            "warmup": args.warmup, "ort_graph_optimization": "default (ORT_ENABLE_ALL)",
            "backend": os.environ.get("RKNN_DIAG_BACKEND", "ort"), "targets": TARGETS,
            "memory_target": MEMORY_TARGET, "build_target": BUILD_TARGET, "target_ratio": TARGET_RATIO,
            "vendor_python": args.vendor_python,
            "headline": "sim_cpu_ms / ort_cpu_ms (calling thread's CPU time, both single-threaded); "
                        "wall_ratio = sim_ms / ort_1t_ms"}


def format_table(rows: list[dict]) -> str:
    def f(v, spec):   # a number, or a right-aligned '-' of the same width
        return format(v, spec) if isinstance(v, (int, float)) else format("-", ">" + spec.split(".")[0])

    head = (f"{'model':<26} {'mode':<24} {'ort 1t ms':>10} {'ort def ms':>10} {'sim ms':>10} {'wall x':>7} {'ratio':>7} "
            f"{'target':>6} {'mem x':>6} {'build s':>8} {'build x':>7} {'vendor x':>8} {'cos':>8}  status")
    lines = [head, "-" * len(head)]
    for r in rows:
        cos = r.get("cosine_min")
        flag = "!" if isinstance(cos, float) and not cos >= COSINE_FLAG else ""
        lines.append(f"{r['model']:<26} {r.get('mode', 'float16'):<24} {f(r.get('ort_1t_ms'), '10.2f')} "
                     f"{f(r.get('ort_default_ms'), '10.2f')} {f(r.get('sim_ms'), '10.2f')} {f(r.get('wall_ratio'), '7.2f')} "
                     f"{f(r.get('ratio'), '7.2f')} "
                     f"{f(r.get('target', TARGET_RATIO), '6.1f')} {f(r.get('mem_ratio'), '6.2f')} "
                     f"{f(r.get('sim_build_s'), '8.2f')} {f(r.get('build_ratio'), '7.2f')} "
                     f"{f(r.get('vendor_ratio'), '8.2f')} {f(cos, '8.5f')}{flag:1} {r['status']}")
        for key in ("error", "note", "vendor_error"):
            if r.get(key):
                lines.append(f"    {key}: {r[key]}")
    lines.append("ratio: our CPU ms / onnxruntime 1-thread CPU ms (medians, both single-threaded, timed round-robin; "
                 "'wall x' the same in wall time); "
                 "target: ratio <= the mode's target (float16 1.5, 8-bit 2, 16-bit and w4a16 4), "
                 f"peak memory of one inference <= {MEMORY_TARGET:g}x onnxruntime's, build <= {BUILD_TARGET:g}x "
                 "the vendor's (PASS within, MISS beyond); 'vendor x': the vendor simulator / onnxruntime; "
                 f"'!' marks cosine < {COSINE_FLAG} against onnxruntime float32")
    return "\n".join(lines)


def subjects(args: argparse.Namespace) -> dict:
    """name -> Subject or zoo tuple, for the corpora and --models asked for."""
    from fixtures import realmodels, zoo
    known = (zoo.names() if "zoo" in args.corpus else []) + (realmodels.names() if "real" in args.corpus else [])
    names = args.models.split(",") if args.models else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown} in --models; known: {', '.join(known)}")
    out = {}
    for n in names:
        if n in zoo.ZOO:
            out[n] = zoo.get(n, size=args.size)
        else:
            out[n] = real_subject(n)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:   # a fresh process for one measurement (memory, the vendor)
        import json
        try:
            out = child_main(json.loads(argv[1]))
        except Exception as e:  # noqa: BLE001 - reported to the parent as the row's error
            out = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        print(CHILD_MARK + json.dumps(out), flush=True)
        return 0
    args = parse_args(argv)
    pin_blas_threads(args.sim_threads)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))   # run as a script: import this checkout's packages
    import json
    import tempfile

    try:   # build everything first: a size some model cannot take fails before any timing
        built = subjects(args)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"error: --size {args.size}: {e}", file=sys.stderr)
        return 2
    RKNN = None
    if not args.ort_only:
        RKNN = load_api()
        if RKNN is None:
            return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="rknn_bench_") as tmp:
        for n, b in built.items():
            for mode in args.modes:
                rows.append(bench_model(n, b, args, RKNN, Path(tmp), mode))
                print(format_table(rows[-1:]).splitlines()[2], flush=True)
                if args.ort_only:
                    break
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment(args), "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.ort_only:
        return 0
    return 0 if all(r["status"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
