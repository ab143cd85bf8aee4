"""Accuracy on the real-model corpus: ours, the vendor's rknn-toolkit2, onnxruntime — one run.

    python bench/bench_realmodels.py [--models a,b] [--modes float16,w8a8,...] [--calib N] [--eval N]
                                     [--vendor-python .tox/toolkit2/bin/python] [--json out.json]

Every model of `fixtures/realmodels` goes the way a user's does: `config(mean_values, std_values,
target_platform, quantized_dtype)` → `load_onnx` → `build(dataset=dataset.txt)` where the dataset
lists raw-pixel jpg/png images and raw-pixel `.npy` arrays (never normalised) → `export_rknn` →
`load_rknn` → `init_runtime` → `inference` on held-back raw images (nhwc uint8). The vendor gets
the same model, dataset file and images (its simulator, `Toolkit2Target`, one build per mode).
The reference is onnxruntime float32 on the normalised input; `ort` is onnxruntime's own
`quantize_static` (QDQ, MinMax) on the same calibration images, where it has the mode.

Columns: mean cosine over the held-back images (per image: the worst output), for ours, the
vendor and onnxruntime. Verdict per row (the issue's bar): float16 ≥ 0.9999, 16-bit ≥ 0.999,
w8a8 ≥ the vendor's cosine, u8 ≥ onnxruntime's (within 1e-5: closer is a tie). Exit status 1
when a row misses its bar.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rknn_diag.platforms import CHIPS, MODE_CHIP  # noqa: E402

# mode -> (chip, bar): 'vendor' / 'ort' mean "at least that tool's cosine"
MODES = {mode: (MODE_CHIP[mode], bar) for mode, bar in (
    ("float16", 0.9999), ("w8a8", "vendor"), ("asymmetric_quantized-u8", "ort"),
    ("dynamic_fixed_point-i16", 0.999), ("w16a16i_dfp", 0.999), ("w8a16", 0.999), ("w4a16", None))}
SHORT = {"asymmetric_quantized-u8": "u8", "dynamic_fixed_point-i16": "dfp16"}
VENDOR_MODES = ("float16", "w8a8", "w8a16", "w16a16i_dfp", "w4a16")
ORT_MODES = {"w8a8": "int8", "asymmetric_quantized-u8": "uint8"}
TIE = 1e-5


def cosine(outs: list[np.ndarray], refs: list[np.ndarray]) -> float:
    from rknn_diag.compare import metrics
    return min(metrics(np.asarray(o, np.float32), r)["cosine"] for o, r in zip(outs, refs))


def normalised(m, img: np.ndarray) -> np.ndarray:
    x = (img.astype(np.float32) - np.asarray(m.mean, np.float32)) / np.asarray(m.std, np.float32)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def spec_for(m, mode: str, dataset: Path):
    from rknn_diag.targets import BuildSpec

    chip = MODES[mode][0]
    cfg = {"mean_values": [list(m.mean)], "std_values": [list(m.std)], "target_platform": chip}
    if mode != "float16":
        cfg["quantized_dtype"] = mode
    return BuildSpec(config=cfg, do_quantization=mode != "float16", dataset=str(dataset), data_format="nhwc")


def ort_quantized(m, calib: list[np.ndarray], dtype: str, out: str) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    name = onnx.load(str(m.onnx_path), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: normalised(m, im)} for im in calib])

        def get_next(self):
            return next(self.it, None)

    qt = QuantType.QUInt8 if dtype == "uint8" else QuantType.QInt8
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantize_static(str(m.onnx_path), out, Reader(), quant_format=QuantFormat.QDQ, activation_type=qt,
                        weight_type=qt, per_channel=dtype == "int8",
                        extra_options={"WeightSymmetric": dtype == "int8"})


def _quiet():
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.log_severity_level = 3   # the corpus models carry unused initializers: ort warns per constant
    return o


def run(args) -> int:
    import onnxruntime as ort

    from fixtures import realmodels
    from rknn_diag.targets.simulator import SimulatorTarget

    vendor = None
    if args.vendor_python:
        from rknn_diag.targets.toolkit2 import Toolkit2Target
        vendor = Toolkit2Target(python=args.vendor_python, timeout=args.vendor_timeout)
        if not vendor.available():
            print(f"vendor toolkit not available at {args.vendor_python}: vendor column empty")
            vendor = None
    names = args.models.split(",") if args.models else realmodels.names()
    modes = args.modes.split(",")
    ours_t = SimulatorTarget()
    rows, ok = [], True
    print(f"{'model':14} {'mode':12} {'ours':>9} {'vendor':>9} {'ort':>9}  {'bar':>8} verdict   build s (ours/vendor)")
    for name in names:
        m = realmodels.get(name)
        tmp = Path(tempfile.mkdtemp(prefix=f"bench_real_{name}_"))
        calib_imgs = m.images(args.calib, 0)
        eval_imgs = m.images(args.eval, 1000)
        sess = ort.InferenceSession(str(m.onnx_path), _quiet(), providers=["CPUExecutionProvider"])
        iname = sess.get_inputs()[0].name
        refs = [sess.run(None, {iname: normalised(m, im)}) for im in eval_imgs]
        inputs_list = [[im] for im in eval_imgs]
        for mode in modes:
            chip, bar = MODES[mode]
            gen = CHIPS[chip]
            ds = realmodels.write_dataset(m, tmp / gen, args.calib, seed=0, generation=gen)
            spec = spec_for(m, mode, ds)
            row = {"model": name, "mode": mode, "chip": chip}
            t = time.perf_counter()
            try:
                runs = ours_t.run_many(str(m.onnx_path), spec, inputs_list)
                row["ours"] = float(np.mean([cosine(r.outputs, ref) for r, ref in zip(runs, refs)]))
            except Exception as e:  # noqa: BLE001 - a bench row reports, the run goes on
                row["ours_error"] = f"{type(e).__name__}: {str(e)[:200]}"
            row["ours_build_s"] = time.perf_counter() - t
            if vendor is not None and mode in VENDOR_MODES:
                t = time.perf_counter()
                try:
                    vruns = vendor.run_many(str(m.onnx_path), spec, inputs_list)
                    row["vendor"] = float(np.mean([cosine(r.outputs, ref) for r, ref in zip(vruns, refs)]))
                except Exception as e:  # noqa: BLE001
                    row["vendor_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                row["vendor_build_s"] = time.perf_counter() - t
            if mode in ORT_MODES:
                qpath = str(tmp / f"ort_{mode}.onnx")
                ort_quantized(m, calib_imgs, ORT_MODES[mode], qpath)
                qs = ort.InferenceSession(qpath, _quiet(), providers=["CPUExecutionProvider"])
                row["ort"] = float(np.mean([cosine(qs.run(None, {iname: normalised(m, im)}), ref)
                                            for im, ref in zip(eval_imgs, refs)]))
            need = row.get(bar) if isinstance(bar, str) else bar
            if need is None and isinstance(bar, str) and f"{bar}_error" in row:
                need = -1.0     # the peer failed on this model: any answer of ours beats it
            row["bar"] = need
            # a cosine difference under 1e-5 is noise between two toolchains, not a ranking
            verdict = "-" if need is None else ("OK" if row.get("ours", -2.0) >= need - TIE else "MISS")
            row["verdict"] = verdict
            ok &= verdict != "MISS"
            f = (lambda k: f"{row[k]:9.5f}" if k in row else ("  error  " if f"{k}_error" in row else "    -    "))
            bs = f"{row['ours_build_s']:.1f}" + (f" / {row['vendor_build_s']:.1f}" if "vendor_build_s" in row else "")
            print(f"{name:14} {SHORT.get(mode, mode):12} {f('ours')} {f('vendor')} {f('ort')}  "
                  f"{'-' if need is None else format(need, '.5f'):>8} {verdict:7}   {bs}", flush=True)
            for k in ("ours_error", "vendor_error"):
                if k in row:
                    print(f"    {k}: {row[k]}")
            rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "calib": args.calib, "eval": args.eval}, indent=1))
    if vendor is not None:
        vendor.close()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated corpus names (default: all)")
    p.add_argument("--modes", default="float16,w8a8,asymmetric_quantized-u8,dynamic_fixed_point-i16,w16a16i_dfp",
                   help=f"comma-separated, of {','.join(MODES)}")
    p.add_argument("--calib", type=int, default=16, help="calibration images in dataset.txt")
    p.add_argument("--eval", type=int, default=4, help="held-back images compared")
    default_vendor = ROOT / ".tox" / "toolkit2" / "bin" / "python"
    p.add_argument("--vendor-python", default=str(default_vendor) if default_vendor.exists() else None,
                   help="interpreter with rknn-toolkit2 (default: the tox env's, if built)")
    p.add_argument("--vendor-timeout", type=float, default=900.0)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    bad = [x for x in a.modes.split(",") if x not in MODES]
    if bad:
        p.error(f"unknown mode(s) {bad}; use {','.join(MODES)}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
