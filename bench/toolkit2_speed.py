"""Speed of the toolkit2 target, for choosing a CI subset (not a test).

    .tox/toolkit2/bin/python bench/toolkit2_speed.py [--repeat 5] [--onnx-node-cases 120]

Prints, as JSON: the vendor import time in a fresh interpreter, and the wall time
of whole cases (worker start, convert, simulate, teardown) for a conv+relu model
in float16 and w8a8, in both process modes (spawn, preload), with the worker's
own breakdown. With --onnx-node-cases N: N of onnx's backend node tests (a fixed
random pick) through both modes, with the outcome counts (crashes included).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rknn_diag.errors import RknnDiagError  # noqa: E402
from rknn_diag.targets.base import BuildSpec  # noqa: E402
from rknn_diag.targets.toolkit2 import Toolkit2Target  # noqa: E402
from tests.toolkit2.models import conv_relu, image_input, nhwc_dataset  # noqa: E402


def _median(xs):
    return round(statistics.median(xs), 3)


def onnx_node_cases(n: int, seed: int = 0) -> list[tuple[str, str, list]]:
    """(name, model path, inputs) for n of onnx's node tests whose inputs are tensors."""
    import onnx
    from onnx import numpy_helper
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    dirs = sorted(glob.glob(os.path.join(root, "test_*")))
    picked = [dirs[i] for i in sorted(np.random.default_rng(seed).choice(len(dirs), n, replace=False))]
    cases = []
    for d in picked:
        try:
            ins = [numpy_helper.to_array(onnx.load_tensor(p))
                   for p in sorted(glob.glob(os.path.join(d, "test_data_set_0", "input_*.pb")))]
        except (TypeError, ValueError):   # sequences, optionals
            continue
        cases.append((os.path.basename(d), os.path.join(d, "model.onnx"), ins))
    return cases


def run_node_cases(n: int) -> dict:
    cases = onnx_node_cases(n)
    out: dict = {"onnx_node_cases": len(cases)}
    for preload in (False, True):
        proc = "preload" if preload else "spawn"
        outcomes: collections.Counter = collections.Counter()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as kept, \
                Toolkit2Target(preload=preload, timeout=120, workdir_root=kept) as tgt:   # crash repros go too
            for _, model, ins in cases:
                try:
                    tgt.run(model, BuildSpec(), ins)
                    outcomes["ok"] += 1
                except RknnDiagError as e:
                    outcomes[type(e).__name__] += 1
        out[f"node_{proc}_total_s"] = round(time.perf_counter() - t0, 1)
        out[f"node_{proc}_per_case_s"] = round(out[f"node_{proc}_total_s"] / len(cases), 3)
        out[f"node_{proc}_outcomes"] = dict(outcomes)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--onnx-node-cases", type=int, default=0)
    args = ap.parse_args()
    target = Toolkit2Target()
    out: dict = {"toolkit": target.info()["toolkit"]}

    imports, starts = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run([*target.python, "-c", "import numpy"], check=True)
        starts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([*target.python, "-c", "from rknn.api import RKNN"], check=True,
                       stdout=subprocess.DEVNULL)
        imports.append(time.perf_counter() - t0)
    out["python_numpy_start_s"] = _median(starts)
    out["python_rknn_import_s"] = _median(imports)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = str(conv_relu(tmp / "m.onnx"))
        ds = str(nhwc_dataset(tmp))
        specs = {"float16": BuildSpec(),
                 "w8a8": BuildSpec(config={"quantized_dtype": "w8a8"}, do_quantization=True, dataset=ds)}
        for preload in (False, True):
            proc = "preload" if preload else "spawn"
            with Toolkit2Target(preload=preload) as tgt:
                if preload:   # the server's one-time start (vendor import), then warm cases
                    t0 = time.perf_counter()
                    tgt.run(model, specs["float16"], [image_input()])
                    out["preload_server_start_and_first_case_s"] = round(time.perf_counter() - t0, 3)
                for mode, spec in specs.items():
                    walls, parts = [], []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        res = tgt.run(model, spec, [image_input()])
                        walls.append(time.perf_counter() - t0)
                        parts.append(res.info["timings"])
                    out[f"case_{mode}_{proc}_s"] = _median(walls)
                    out[f"case_{mode}_{proc}_worker"] = {k: _median([p[k] for p in parts]) for k in parts[0]}
    if args.onnx_node_cases:
        out.update(run_node_cases(args.onnx_node_cases))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
