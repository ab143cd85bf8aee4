"""Real trained models (fixtures/realmodels) through the public path, in every mode, on the
target, against onnxruntime float32:

config(mean_values, std_values, target_platform, quantized_dtype) → load_onnx → build with a
dataset.txt of raw-pixel jpg/png images and raw-pixel .npy arrays → export_rknn → load_rknn →
init_runtime → inference on held-back raw images (nhwc uint8), the reference being onnxruntime
on the normalised image. Judged by cosine (mean over the held-back images, worst output of
each) at the floors of `tolerances.REAL_MODEL_COSINE`; classifiers also by top-1 agreement.

By default det/rec run float16, w8a8 and w16a16i_dfp and the classifier every mode (CI's
time); RKNN_DIAG_REAL_FULL=1 runs every model in every mode. Boards do not run these (the
board leg checks the board path; these check conversion and quantization).
"""

from __future__ import annotations

import os
import time

import numpy as np
import onnxruntime as ort
import pytest

from fixtures import realmodels
from rknn_diag import tolerances
from rknn_diag.compare import Verdict, metrics
from rknn_diag.platforms import CHIPS, MODE_CHIP
from rknn_diag.targets import BuildSpec

from .conftest import judge

FULL = os.environ.get("RKNN_DIAG_REAL_FULL") == "1"
MODES = MODE_CHIP   # mode -> a chip that has it
QUICK_MODES = ("float16", "w8a8", "w16a16i_dfp")
CALIBRATION_IMAGES = 8
HELD_BACK_IMAGES = 2


def _rows():
    for name in realmodels.names():
        m = realmodels.CORPUS[name]
        for mode in MODES:
            if not (FULL or m.classifier or mode in QUICK_MODES):
                continue
            marks = [pytest.mark.rknn_case(case=f"real/{name}/{mode}", model=name, mode=mode),
                     pytest.mark.realmodel]
            yield pytest.param(name, mode, id=f"{name}-{mode}", marks=marks)


def _reference(m, images: list[np.ndarray]) -> list[list[np.ndarray]]:
    sess = ort.InferenceSession(str(m.onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean, std = np.asarray(m.mean, np.float32), np.asarray(m.std, np.float32)
    return [sess.run(None, {name: ((im.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None]})
            for im in images]


@pytest.mark.parametrize("name,mode", list(_rows()))
def test_real_model(name, mode, target, record, tmp_path):
    m = realmodels.get(name)
    chip = MODES[mode]
    gen = CHIPS[chip]
    config = {"mean_values": [list(m.mean)], "std_values": [list(m.std)], "target_platform": chip}
    if mode != "float16":
        config["quantized_dtype"] = mode
    dataset = realmodels.write_dataset(m, tmp_path / "ds", CALIBRATION_IMAGES, seed=0, generation=gen)
    spec = BuildSpec(config=config, do_quantization=mode != "float16", dataset=str(dataset), data_format="nhwc")
    held_back = m.images(HELD_BACK_IMAGES, 1000)
    refs = _reference(m, held_back)
    record["_start"] = time.time()
    runs = _run(target, record, str(m.onnx_path), spec, [[im] for im in held_back])
    cos, top1 = [], []
    for run, ref in zip(runs, refs):
        per = [metrics(np.asarray(o, np.float32), r, classifier=m.classifier) for o, r in zip(run.outputs, ref)]
        cos.append(min(p["cosine"] for p in per))
        if m.classifier:
            top1.append(min(p.get("top1", 1.0) for p in per))
    worst = {"cosine": float(np.mean(cos))}
    if top1:
        worst["top1"] = float(np.mean(top1))
    record["latency_ms"] = float(np.median([r.latency_ms for r in runs if r.latency_ms is not None] or [np.nan]))
    floor = tolerances.real_model_floor(name, mode)
    if (name, mode) in tolerances.REAL_MODEL_EXCEPTIONS:
        worst["floor_exempt"] = 1.0   # judged here by its measured floor, not by the gate's mode floor
    problems = []
    if worst["cosine"] < floor:
        problems.append(f"cosine {worst['cosine']:.5f} against float32 is below the {mode} floor {floor} "
                        f"for {name} ({tolerances.real_model_floor_why(name, mode)})")
    if top1 and worst["top1"] < 1.0 and mode == "float16":
        problems.append(f"top-1 changed in float16 (agreement {worst['top1']})")
    judge(target, record, Verdict(not problems, worst, "; ".join(problems)))


def _run(target, record, model_path, spec, inputs_list):
    """The target's run, with its refusals and findings handled like every other case."""
    from .conftest import expected_or_raise

    try:
        runs = target.run_many(model_path, spec, inputs_list)
    except Exception as e:  # noqa: BLE001 - conftest decides what it means
        expected_or_raise(target, record, e)
        raise
    record["versions"] = {k: str(v) for k, v in runs[0].info.get("versions", {}).items()}
    return runs
