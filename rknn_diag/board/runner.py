#!/usr/bin/env python3
"""On-board runner: pushed to a board and run there with the board's python3.

    python3 runner.py --model m.rknn --input in0.npy [--input in1.npy] --outdir out --data-format nchw

Loads the model with rknn-toolkit-lite2 (`rknnlite.api.RKNNLite`), runs one
inference, writes `out/output{i}.npy` and `out/result.json` (latency, and the
sha256 of every output file so the harness can tell a damaged pull from a good
one). Exit codes: 0 done, 1 the runtime failed, 2 bad arguments or files.

Standalone on purpose: it needs only numpy and rknnlite, never rknn_diag.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

RESULT_FILE = "result.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="runner.py", description="Run one RKNN model once on this board.")
    p.add_argument("--model", required=True, help="the .rknn model file")
    p.add_argument("--input", action="append", default=[], help="an input .npy file (repeat, in input order; none for a model without inputs)")
    p.add_argument("--outdir", required=True, help="folder for output{i}.npy and result.json")
    p.add_argument("--data-format", default="nchw", choices=["nchw", "nhwc"], help="layout of the inputs")
    p.add_argument("--pass-through", default=None,
                   help="inference(inputs_pass_through=...): one 0/1 per input, comma-separated (1: the input "
                        "is already the model's quantized input and goes in as is)")
    return p


def rknnlite_infer(model_path, inputs, data_format, inputs_pass_through=None):
    """The real board's runtime: rknn-toolkit-lite2."""
    from rknnlite.api import RKNNLite  # only present on boards
    return infer_with(RKNNLite(), model_path, inputs, data_format, inputs_pass_through)


def infer_with(rt, model_path, inputs, data_format, inputs_pass_through=None):
    """One inference through a vendor-style runtime object (RKNNLite, or rknn_diag's Toolchain, which
    raises its typed errors instead of returning codes)."""
    try:
        if rt.load_rknn(model_path) != 0:
            raise RuntimeError(f"load_rknn({model_path}) failed")
        if rt.init_runtime() != 0:
            raise RuntimeError("init_runtime() failed")
        passed = {"inputs_pass_through": inputs_pass_through} if inputs_pass_through else {}
        outputs = rt.inference(inputs=inputs, data_format=data_format, **passed)
        if outputs is None:
            raise RuntimeError("inference() returned None")
        return outputs
    finally:
        rt.release()


def execute(args, infer, log=print) -> int:
    """Run one inference per parsed `args`; `infer(model, inputs, data_format)` -> arrays."""
    import numpy as np

    try:
        inputs = [np.load(path, allow_pickle=False) for path in args.input]
    except (OSError, ValueError) as exc:
        log(f"runner: cannot read input: {exc}")
        return 2
    if not os.path.isfile(args.model):
        log(f"runner: model file not found: {args.model}")
        return 2
    os.makedirs(args.outdir, exist_ok=True)
    # model functions that know no pass-through are called as before (3 arguments)
    passed = ([int(f) for f in args.pass_through.split(",")],) if getattr(args, "pass_through", None) else ()
    start = time.perf_counter()
    try:
        outputs = infer(args.model, inputs, args.data_format, *passed)
    except Exception as exc:  # the runtime's own failure, reported with its text
        log(f"runner: inference failed: {type(exc).__name__}: {exc}")
        return 1
    latency_ms = (time.perf_counter() - start) * 1000.0
    if outputs is None:
        log("runner: inference failed: the runtime returned no outputs")
        return 1
    described = []
    for i, out in enumerate(outputs):
        name = f"output{i}.npy"
        path = os.path.join(args.outdir, name)
        np.save(path, np.asarray(out), allow_pickle=False)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        arr = np.asarray(out)
        described.append({"file": name, "sha256": digest, "shape": list(arr.shape), "dtype": str(arr.dtype)})
    with open(os.path.join(args.outdir, RESULT_FILE), "w") as f:
        json.dump({"latency_ms": latency_ms, "outputs": described}, f)
    log(f"runner: ok, {len(described)} outputs, {latency_ms:.3f} ms")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return execute(args, rknnlite_infer)


if __name__ == "__main__":
    sys.exit(main())
