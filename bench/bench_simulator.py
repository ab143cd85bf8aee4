"""Speed of our simulator's float16 path against onnxruntime float32, on the model zoo.

    python bench/bench_simulator.py [--models a,b] [--repeat N] [--warmup N] [--json out.json]

Headline ratio = simulator ms / onnxruntime ms, both single-threaded on the same machine in
the same run: onnxruntime with intra_op_num_threads=1 (inter_op 1), our simulator with its
BLAS pinned to one thread (OPENBLAS/OMP/MKL/... NUM_THREADS=1, set below before numpy is
imported). onnxruntime with its default thread count is shown for information only.
Times are medians of --repeat runs after --warmup runs; the headline pair is timed
round-robin (one onnxruntime run, one simulator run, repeat) so load from other processes
hits both alike. Only inference is timed (build time is reported separately). A row passes when the ratio is within
TARGET_RATIO. The simulator's outputs are also compared with onnxruntime's (cosine), so a
fast but wrong simulator is visible in the same table.

Exit status: 0 all rows PASS; 1 some row MISS or ERROR; 2 the simulator API is missing
(use --ort-only to time onnxruntime alone).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Target from the project plan: the float16 simulator within 3x of single-threaded onnxruntime.
TARGET_RATIO = 3.0
# Below this cosine the simulator's output is flagged as wrong (float16 gives ~0.9999+).
COSINE_FLAG = 0.99
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated zoo names (default: all)")
    p.add_argument("--repeat", type=int, default=20, help="timed runs per model and engine (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    p.add_argument("--size", type=int,
                   help="input side for every model instead of the zoo defaults (64..96), e.g. 224")
    p.add_argument("--json", metavar="PATH", help="also write the rows and the environment as JSON")
    p.add_argument("--ort-only", action="store_true", help="time onnxruntime only (no simulator)")
    p.add_argument("--sim-threads", type=int, default=1,
                   help="BLAS threads for the simulator (default 1: the fair, headline setting)")
    a = p.parse_args(argv)
    if a.repeat < 1 or a.warmup < 0:
        p.error("--repeat must be >= 1 and --warmup >= 0")
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
    """Median milliseconds of each callable. Round-robin: every round runs each callable
    once, so a change of load on a shared machine hits all of them alike."""
    import time

    import numpy as np
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[int]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter_ns()
            fn()
            times[k].append(time.perf_counter_ns() - t0)
    return {k: float(np.median(v)) / 1e6 for k, v in times.items()}


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
    """Our simulator through the vendor-style API, float16 path (no quantization)."""

    def __init__(self, RKNN, model_path: Path):
        import time
        self.r = RKNN()
        t0 = time.perf_counter()
        for step, call in (
                ("config", lambda: self.r.config(mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]],
                                                 target_platform="rk3588")),
                ("load_onnx", lambda: self.r.load_onnx(model=str(model_path))),
                ("build", lambda: self.r.build(do_quantization=False)),
                ("init_runtime", lambda: self.r.init_runtime())):
            ret = call()
            if ret != 0:
                detail = getattr(self.r, "last_error", None)
                self.release()
                raise SimError(f"{step}() returned {ret}" + (f": {detail}" if detail else ""))
        self.build_s = time.perf_counter() - t0

    def __call__(self, x):
        outs = self.r.inference(inputs=[x], data_format="nchw")
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


def bench_model(name: str, built: tuple, args: argparse.Namespace, RKNN, workdir: Path) -> dict:
    """One table row. `built` is the zoo's (model, feeds, meta)."""
    model, feeds, _ = built
    (inp,) = feeds
    x = feeds[inp]
    blob = model.SerializeToString()
    row: dict = {"model": name, "input_shape": list(x.shape), "status": None}

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
        sim = Simulator(RKNN, path)
        row["sim_build_s"] = sim.build_s
        outs = sim(x)
        row["cosine_min"] = min((cosine(o, r) for o, r in zip(outs, ref)), default=float("nan"))
        if len(outs) != len(ref):
            row["note"] = f"simulator returned {len(outs)} outputs, onnxruntime {len(ref)}"
        t = median_ms({"o": ort_1t, "s": lambda: sim(x)}, args.repeat, args.warmup)   # the headline pair
        row["ort_1t_ms"], row["sim_ms"] = t["o"], t["s"]
    except Exception as e:   # one model failing must not hide the others' numbers
        row["status"] = "ERROR"
        row["error"] = f"{type(e).__name__}: {e}"
        row.setdefault("ort_1t_ms", median_ms({"o": ort_1t}, args.repeat, args.warmup)["o"])
        return row
    finally:
        if sim is not None:
            sim.release()
    row["ratio"] = row["sim_ms"] / row["ort_1t_ms"]
    row["status"] = "PASS" if row["ratio"] <= TARGET_RATIO else "MISS"
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
            "target_ratio": TARGET_RATIO, "headline": "sim_ms / ort_1t_ms (both single-threaded)"}


def format_table(rows: list[dict]) -> str:
    def f(v, spec):   # a number, or a right-aligned '-' of the same width
        return format(v, spec) if isinstance(v, (int, float)) else format("-", ">" + spec.split(".")[0])

    head = f"{'model':<26} {'ort 1t ms':>10} {'ort def ms':>10} {'sim ms':>10} {'ratio':>7} {'cos':>8}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        cos = r.get("cosine_min")
        flag = "!" if isinstance(cos, float) and not cos >= COSINE_FLAG else ""
        lines.append(f"{r['model']:<26} {f(r.get('ort_1t_ms'), '10.2f')} {f(r.get('ort_default_ms'), '10.2f')} "
                     f"{f(r.get('sim_ms'), '10.2f')} {f(r.get('ratio'), '7.2f')} {f(cos, '8.5f')}{flag:1} "
                     f"{r['status']}")
        for key in ("error", "note"):
            if r.get(key):
                lines.append(f"    {key}: {r[key]}")
    lines.append(f"target: sim ms / ort 1-thread ms <= {TARGET_RATIO:g}  (PASS within, MISS beyond); "
                 f"'!' marks cosine < {COSINE_FLAG} against onnxruntime")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin_blas_threads(args.sim_threads)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))   # run as a script: import this checkout's packages
    import json
    import tempfile

    from fixtures import zoo

    names = args.models.split(",") if args.models else zoo.names()
    unknown = [n for n in names if n not in zoo.ZOO]
    if unknown:
        print(f"error: unknown model(s) {unknown} in --models; known: {', '.join(zoo.names())}", file=sys.stderr)
        return 2
    try:   # build everything first: a size some model cannot take fails before any timing
        built = {n: zoo.get(n, size=args.size) for n in names}
    except ValueError as e:
        print(f"error: --size {args.size}: {e}", file=sys.stderr)
        return 2
    RKNN = None
    if not args.ort_only:
        RKNN = load_api()
        if RKNN is None:
            return 2
    with tempfile.TemporaryDirectory(prefix="rknn_bench_") as tmp:
        rows = [bench_model(n, built[n], args, RKNN, Path(tmp)) for n in names]
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": environment(args), "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.ort_only:
        return 0
    return 0 if all(r["status"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
