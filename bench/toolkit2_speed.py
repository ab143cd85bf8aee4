"""Speed of the toolkit2 target, for choosing a CI subset (not a test).

    .tox/toolkit2/bin/python bench/toolkit2_speed.py [--repeat 5]

Prints, as JSON: the vendor import time in a fresh interpreter, and the wall time
of whole cases (worker start, convert, simulate, teardown) for a conv+relu model
in float16 and w8a8, in both process modes (spawn, preload), with the worker's
own breakdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rknn_diag.targets.base import BuildSpec  # noqa: E402
from rknn_diag.targets.toolkit2 import Toolkit2Target  # noqa: E402
from tests.toolkit2.models import conv_relu, image_input, nhwc_dataset  # noqa: E402


def _median(xs):
    return round(statistics.median(xs), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
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
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
