"""Where a float16 inference() spends its time besides onnxruntime's own run.

    python bench/bench_inference_overhead.py [--corpus zoo,real] [--models a,b] [--repeat N] [--warmup N]

Per model, built as bench_simulator.py builds it (config with mean/std -> load_onnx -> build ->
init_runtime, the onnxruntime backend), timed round-robin in CPU time of the calling thread,
medians, each as a ratio to onnxruntime float32 one thread on the original model:

    session     the lowered model's onnxruntime session alone, on ready feeds
    prepare     inference()'s input preprocessing alone (layout, mean/std: sim.preprocess)
    inference   the whole public call, api -> pipeline -> preprocessing -> runtime -> session
    overhead    inference - session: what the Python path adds per call

In the round-robin each call runs after the others, with cold caches, as in bench_simulator.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_simulator as B  # noqa: E402 - the bench's own helpers (thread pin, subjects, timing)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="zoo,real", help="comma-separated: zoo, real (default both)")
    p.add_argument("--models", help="comma-separated model names (default: all of the corpora)")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args(argv)
    B.pin_blas_threads(1)
    if str(B.ROOT) not in sys.path:
        sys.path.insert(0, str(B.ROOT))
    a.corpus = [c.strip() for c in a.corpus.split(",") if c.strip()]
    a.size = None
    import numpy as np

    from rknn_diag.api import RKNN
    from rknn_diag.sim.preprocess import prepare
    print(f"{'model':<26} {'ort ms':>8} {'session x':>10} {'prepare x':>10} {'inference x':>12} {'overhead x':>11}"
          f" {'overhead ms':>12}")
    with tempfile.TemporaryDirectory(prefix="rknn_overhead_") as tmp:
        for name, built in B.subjects(a).items():
            s = built if isinstance(built, B.Subject) else B.zoo_subject(name, built)
            path = Path(tmp) / f"{name}.onnx"
            path.write_bytes(s.blob)
            sim = B.Simulator(RKNN, path, "float16", None, s.mean, s.std, s.data_format)
            m, rt = sim.r.model, sim.r.runtime
            if getattr(rt, "session", None) is None:
                print(f"{name:<26} (runs on the numpy kernels: no onnxruntime session)")
                continue
            feeds = prepare(m.graph.inputs, m.config.preprocess, [s.sim_input], s.data_format, None, 1)
            fd = {n: np.asarray(f, dt) for n, f, dt in zip(rt.in_names, feeds, rt.in_dtypes)}
            ort = B.ort_session(s.blob, 1)
            fns = {"ort": lambda: ort.run(None, s.ort_feeds),
                   "session": lambda: rt.session.run(rt.out_names, fd),
                   "prepare": lambda: prepare(m.graph.inputs, m.config.preprocess, [s.sim_input], s.data_format,
                                              None, 1),
                   "inference": lambda: sim(s.sim_input)}
            _, cpu = B.median_times(fns, a.repeat, a.warmup)
            o = cpu["ort"]
            print(f"{name:<26} {o:8.3f} {cpu['session'] / o:10.2f} {cpu['prepare'] / o:10.2f} "
                  f"{cpu['inference'] / o:12.2f} {(cpu['inference'] - cpu['session']) / o:11.2f} "
                  f"{cpu['inference'] - cpu['session']:12.3f}", flush=True)
            sim.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
