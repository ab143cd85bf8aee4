"""Run ONE case through the vendor's rknn-toolkit2, in its own process.

    python toolkit2_worker.py JOB_DIR

Started by `rknn_diag.targets.toolkit2.Toolkit2Target`, never imported by it: the
vendor's native code can kill or hang the process that hosts it, so it lives here,
behind a process boundary and a timeout enforced by the parent.

Everything crosses that boundary as files in JOB_DIR, never pickle:
  job.json        what to call (already mapped to the vendor's terms by the parent)
  in_<i>.npy      inference inputs
  out_<i>.npy     outputs (written here, np.save with allow_pickle=False)
  result.json     how it ended (written last, atomically: its absence means we died)
stdout/stderr (the vendor's log lines and progress bars) go wherever the parent
pointed them.

This file depends on nothing but the standard library, numpy and the vendor, so
it can run under another interpreter than the parent's (e.g. a tox env's).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback

# Test-only hook: make this worker die or hang before touching the vendor, so the
# parent's crash and timeout handling can be tested without a vendor bug at hand.
TEST_HOOK_ENV = "RKNN_DIAG_TOOLKIT2_TEST_HOOK"


def _test_hook() -> None:
    hook = os.environ.get(TEST_HOOK_ENV, "")
    if hook == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif hook == "hang":
        # Ignore SIGTERM/SIGALRM like native code stuck in a loop would; only
        # SIGKILL from outside ends this.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    elif hook == "exit":
        os._exit(3)


def _write_result(job_dir: str, result: dict) -> None:
    tmp = os.path.join(job_dir, "result.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(job_dir, "result.json"))


def _call(stage: str, fn, *args, **kwargs):
    """Call a vendor step. The vendor reports failure either by a non-zero return
    or by raising (ValueError with its log text); both become _StageFailed."""
    print(f"[rknn_diag worker] {stage}", flush=True)
    try:
        ret = fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - any vendor exception is a case outcome
        raise _StageFailed(stage, None, f"{type(e).__name__}: {e}", traceback.format_exc()) from None
    if stage != "inference" and ret != 0:
        raise _StageFailed(stage, ret, f"{stage} returned {ret}", "")
    if stage == "inference" and ret is None:
        raise _StageFailed(stage, None, "inference returned None", "")
    return ret


class _StageFailed(Exception):
    def __init__(self, stage, ret, message, tb):
        super().__init__(message)
        self.stage, self.ret, self.message, self.tb = stage, ret, message, tb


def run_job(job_dir: str) -> dict:
    import numpy as np

    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    inputs = [np.load(os.path.join(job_dir, name), allow_pickle=False) for name in job["inputs"]]

    print("[rknn_diag worker] import rknn.api", flush=True)
    t0 = time.perf_counter()
    from rknn.api import RKNN
    import_s = time.perf_counter() - t0

    rknn = RKNN(verbose=bool(job.get("verbose", False)))
    timings = {"import_s": import_s}
    try:
        t0 = time.perf_counter()
        _call("config", rknn.config, **job["config"])
        _call("load_onnx", rknn.load_onnx, **job["load_onnx"])
        _call("build", rknn.build, **job["build"])
        timings["convert_s"] = time.perf_counter() - t0
        if job.get("export"):
            _call("export_rknn", rknn.export_rknn, job["export"])
        t0 = time.perf_counter()
        _call("init_runtime", rknn.init_runtime)
        timings["init_runtime_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        outputs = _call("inference", rknn.inference, inputs=inputs, **job["inference"])
        timings["inference_s"] = time.perf_counter() - t0
    except _StageFailed as e:
        return {"status": "failed", "stage": e.stage, "ret": e.ret, "message": e.message,
                "traceback": e.tb, "timings": timings}
    finally:
        try:
            rknn.release()
        except Exception:  # noqa: BLE001 - release trouble must not hide the outcome
            pass

    names = []
    for i, out in enumerate(outputs):
        name = f"out_{i}.npy"
        np.save(os.path.join(job_dir, name), np.asarray(out), allow_pickle=False)
        names.append(name)
    return {"status": "ok", "outputs": names, "timings": timings}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: toolkit2_worker.py JOB_DIR", file=sys.stderr)
        return 2
    job_dir = argv[0]
    _test_hook()
    try:
        result = run_job(job_dir)
    except BaseException as e:  # noqa: BLE001 - report, then let the parent decide
        result = {"status": "failed", "stage": "worker", "ret": None,
                  "message": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    _write_result(job_dir, result)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
