"""Quantized accuracy and speed on the model zoo, beside onnxruntime.

    python bench/bench_quant.py [--models a,b] [--modes u8,w8a8,...] [--images N] [--repeat N] [--json out.json]

For every zoo model and mode, with the same calibration images (`zoo.dataset_images`):

  ours cos     cosine of our integer simulator's outputs against onnxruntime float32
  ort cos      cosine of onnxruntime `quantize_static` (QDQ, MinMax; u8: uint8 per-tensor;
               w8a8: int8 activations, symmetric int8 per-channel weights) against float32
               (only for u8 and w8a8, the modes onnxruntime has a direct equivalent of)
  acc          ours >= ort - 0.002 (OK) or not (LOW)
  build s      our calibration + build time; onnxruntime quantize_static time beside it
  sim ms       our integer simulator, median of --repeat runs, BLAS pinned to one thread
  ort ms       onnxruntime float32, one thread (the speed reference)
  ratio        sim ms / ort ms; target <= 3 (PASS / MISS)
  twin         largest per-layer difference from our QDQ twin, in LSBs (must be <= 1)

Exit status 0 when every row is OK, PASS and twin <= 1; 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"   # before numpy: a single-threaded simulator against single-threaded ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from rknn_diag.platforms import CHIPS, MODE_CHIP, RKNPU1  # noqa: E402

TARGET_RATIO = 3.0
ACC_SLACK = 0.002
MODES = {short: (mode, MODE_CHIP[mode]) for short, mode in (
    ("u8", "asymmetric_quantized-u8"), ("dfp8", "dynamic_fixed_point-i8"), ("dfp16", "dynamic_fixed_point-i16"),
    ("w8a8", "w8a8"), ("w8a16", "w8a16"), ("w16a16i_dfp", "w16a16i_dfp"), ("w4a16", "w4a16"))}


def _ort_session(model_path: str):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.log_severity_level = 3
    return ort.InferenceSession(model_path, o, providers=["CPUExecutionProvider"])


def _cos(a, b) -> float:
    from rknn_diag.compare import metrics
    return metrics(a, b)["cosine"]


def _ort_quantized(model_path: str, images: np.ndarray, input_name: str, mode: str, out: str) -> float:
    """onnxruntime quantize_static on the same images; returns seconds taken."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{input_name: im[None].astype(np.float32)} for im in images])

        def get_next(self):
            return next(self.it, None)

    t = time.perf_counter()
    if mode == "u8":
        kw = dict(activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8, per_channel=False)
    else:
        kw = dict(activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                  extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantize_static(model_path, out, Reader(), quant_format=QuantFormat.QDQ, **kw)
    return time.perf_counter() - t


def run(args) -> int:
    from fixtures import zoo
    from rknn_diag.api import RKNN
    from rknn_diag.quant.qdq import layerwise_lsb

    names = args.models.split(",") if args.models else zoo.names()
    modes = args.modes.split(",")
    rows, ok = [], True
    print(f"{'model':26} {'mode':6} {'ours cos':>9} {'ort cos':>9} {'acc':>4} {'build s':>8} {'ort q s':>8} "
          f"{'sim ms':>8} {'ort ms':>8} {'ratio':>6} {'':4} {'twin':>4}")
    for name in names:
        model, feeds, meta = zoo.get(name)
        tmp = Path(tempfile.mkdtemp(prefix="bench_quant_"))
        path = str(tmp / "m.onnx")
        onnx.save(model, path)
        images = zoo.dataset_images(meta, args.images)
        x = list(feeds.values())
        fsess = _ort_session(path)
        ref = fsess.run(None, feeds)
        ort_ms = _median_ms(lambda: fsess.run(None, feeds), args)
        for mode in modes:
            canon, chip = MODES[mode]
            lines = []
            for i, im in enumerate(images):
                a = im[None].astype(np.float32)
                if CHIPS[chip] == RKNPU1:
                    a = a.transpose(0, 2, 3, 1)   # RKNPU1 npy samples are NHWC (§1.4.6)
                np.save(tmp / f"{mode}_{i}.npy", a, allow_pickle=False)
                lines.append(f"{mode}_{i}.npy")
            (tmp / f"{mode}.txt").write_text("\n".join(lines) + "\n")
            r = RKNN()
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                r.config(target_platform=chip, quantized_dtype=canon)
                r.load_onnx(path)
                ret = r.build(do_quantization=True, dataset=str(tmp / f"{mode}.txt"))
                r.init_runtime()
            build_s = time.perf_counter() - t
            if ret != 0:
                print(f"{name:26} {mode:6} ERROR {r.last_error}")
                ok = False
                continue
            outs = r.runtime.run(x)
            ours = min(_cos(o, f) for o, f in zip(outs, ref))
            sim_ms = _median_ms(lambda: r.runtime.run(x), args)
            twin = max(layerwise_lsb(r.model.graph, r.model.quant, x).values(), default=0.0)
            ort_cos = ort_q_s = None
            if mode in ("u8", "w8a8"):
                qpath = str(tmp / f"ort_{mode}.onnx")
                ort_q_s = _ort_quantized(path, images, model.graph.input[0].name, mode, qpath)
                qouts = _ort_session(qpath).run(None, feeds)
                ort_cos = min(_cos(o, f) for o, f in zip(qouts, ref))
            ratio = sim_ms / ort_ms
            acc = "" if ort_cos is None else ("OK" if ours >= ort_cos - ACC_SLACK else "LOW")
            speed = "PASS" if ratio <= TARGET_RATIO else "MISS"
            ok &= acc != "LOW" and speed == "PASS" and twin <= 1
            fmt = (lambda v, p: "-" if v is None else f"{v:.{p}f}")
            print(f"{name:26} {mode:6} {ours:9.5f} {fmt(ort_cos, 5):>9} {acc:>4} {build_s:8.2f} "
                  f"{fmt(ort_q_s, 2):>8} {sim_ms:8.2f} {ort_ms:8.2f} {ratio:6.2f} {speed:4} {twin:4.0f}", flush=True)
            rows.append({"model": name, "mode": canon, "ours_cosine": ours, "ort_cosine": ort_cos,
                         "build_s": build_s, "ort_quantize_s": ort_q_s, "sim_ms": sim_ms, "ort_ms": ort_ms,
                         "ratio": ratio, "twin_layer_lsb": twin})
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "target_ratio": TARGET_RATIO}, indent=1))
    return 0 if ok else 1


def _median_ms(fn, args) -> float:
    for _ in range(args.warmup):
        fn()
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated zoo names (default: all)")
    p.add_argument("--modes", default="u8,w8a8", help=f"comma-separated, of {','.join(MODES)}")
    p.add_argument("--images", type=int, default=16, help="calibration images (same for both tools)")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    bad = [m for m in a.modes.split(",") if m not in MODES]
    if bad:
        p.error(f"unknown mode(s) {bad}; use {','.join(MODES)}")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
