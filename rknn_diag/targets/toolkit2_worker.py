"""Run ONE case through the vendor's rknn-toolkit2, in its own process.

    python toolkit2_worker.py JOB_DIR      one case, then exit
    python toolkit2_worker.py --serve      preload the vendor, fork one child per case

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
        if job.get("load"):   # a framework loader (load_caffe, load_darknet, ...)
            _call(job["load"]["method"], getattr(rknn, job["load"]["method"]), **job["load"]["kwargs"])
        else:
            _call("load_onnx", rknn.load_onnx, **job["load_onnx"])
        _call("build", rknn.build, **job["build"])
        timings["convert_s"] = time.perf_counter() - t0
        if job.get("export"):
            _call("export_rknn", rknn.export_rknn, job["export"])
        if job.get("runtime") is False:   # convert only (a board runs the exported file)
            return {"status": "ok", "outputs": [], "more_outputs": [], "timings": timings}
        t0 = time.perf_counter()
        # {} is the simulator; {"target": CHIP, "device_id": SERIAL} a board through rknn_server
        _call("init_runtime", rknn.init_runtime, **job.get("init_runtime", {}))
        timings["init_runtime_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        outputs = _call("inference", rknn.inference, inputs=inputs, **job["inference"])
        timings["inference_s"] = time.perf_counter() - t0
        # more input sets on the same build (Target.run_many): one conversion, many inferences
        more = [_call("inference", rknn.inference,
                      inputs=[np.load(os.path.join(job_dir, n), allow_pickle=False) for n in names],
                      **job["inference"]) for names in job.get("more_inputs", [])]
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
    more_names = []
    for k, outs in enumerate(more):
        more_names.append([])
        for i, out in enumerate(outs):
            name = f"out_{k + 1}_{i}.npy"
            np.save(os.path.join(job_dir, name), np.asarray(out), allow_pickle=False)
            more_names[-1].append(name)
    return {"status": "ok", "outputs": names, "more_outputs": more_names, "timings": timings}


def run_one(job_dir: str) -> None:
    """One case, start to result.json."""
    _test_hook()
    try:
        result = run_job(job_dir)
    except BaseException as e:  # noqa: BLE001 - report, then let the parent decide
        result = {"status": "failed", "stage": "worker", "ret": None,
                  "message": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    _write_result(job_dir, result)
    sys.stdout.flush()
    sys.stderr.flush()


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def serve() -> int:
    """Preload the vendor once, then fork one child per case (the parent's
    `preload=True` mode: saves the ~1 s vendor import per case).

    Protocol, JSON lines: parent -> stdin {"job_dir": ...}; we answer on the
    original stdout {"pid": N} at fork and {"pid": N, "returncode": R} at exit.
    The parent enforces the timeout by killing the child's process group.

    Fork is only safe from a single-threaded process (a lock held by another
    thread stays locked in the child forever). The parent starts us with
    OPENBLAS_NUM_THREADS=1, which leaves the process at one thread after the
    vendor import; we check before every fork and refuse otherwise.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)   # stray prints must not corrupt the protocol channel
    import numpy  # noqa: F401
    from rknn.api import RKNN  # noqa: F401
    try:   # the vendor's load_tflite/load_tensorflow import it: ~5 s once here instead of in every case
        import tensorflow  # noqa: F401  (one thread after import; the check before each fork stands)
    except ImportError:
        pass
    proto.write(json.dumps({"ready": True, "threads": _threads()}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        job_dir = req["job_dir"]
        if _threads() != 1:
            proto.write(json.dumps({"error": f"{_threads()} threads in the preload server; "
                                             "refusing to fork"}) + "\n")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()   # own process group: the parent kills it as one
                log = os.open(os.path.join(job_dir, "vendor.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.chdir(job_dir)
                run_one(job_dir)
            finally:
                os._exit(0)
        proto.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        proto.write(json.dumps({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)}) + "\n")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        return serve()
    if len(argv) != 1:
        print("usage: toolkit2_worker.py JOB_DIR | --serve", file=sys.stderr)
        return 2
    run_one(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
