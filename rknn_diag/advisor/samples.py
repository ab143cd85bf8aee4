"""The user's dataset.txt split into calibration and held-back samples, and the framework's
own float32 answers on the held-back ones (the reference every mode is judged against)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..quant.dataset import Line, _load_image, _load_npy, load_sample, read_lines

# Held back: a fifth of the samples, at least 1 and at most 8 (a few suffice for a cosine; the
# rest calibrate). The calibration part keeps at least one sample.
HELD_FRACTION, HELD_MAX = 0.2, 8


@dataclass
class Split:
    calib: Path              # dataset.txt of the calibration samples (absolute paths)
    held: list[Line]         # held-back samples
    n_calib: int


def split(dataset: str | Path, n_inputs: int, out_dir: Path, held: int | None = None) -> Split:
    lines = read_lines(dataset, n_inputs)
    if len(lines) < 2:
        raise DatasetError(f"the dataset lists {len(lines)} sample; `rknn-diag model` needs at least 2 "
                           "(calibration and held-back evaluation)", where=str(dataset),
                           fix="list more samples (20 or more is a good start)", ref="1.4.5")
    n = held if held is not None else min(HELD_MAX, max(1, round(len(lines) * HELD_FRACTION)))
    n = min(max(1, n), len(lines) - 1)
    calib, back = lines[:-n], lines[-n:]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "calibration.txt"
    path.write_text("".join(" ".join(str(p.resolve()) for p in ln.paths) + "\n" for ln in calib), encoding="utf-8")
    (out_dir / "held_back.txt").write_text(
        "".join(" ".join(str(p.resolve()) for p in ln.paths) + "\n" for ln in back), encoding="utf-8")
    return Split(path, back, len(calib))


def raw(line: Line, values, cfg) -> tuple[list[np.ndarray], list[str]]:
    """One sample as a user passes it to inference(): raw pixels, and each input's data_format."""
    arrays, formats = [], []
    for fp, v in zip(line.paths, values):
        if fp.suffix.lower() == ".npy":
            arr, nhwc = _load_npy(fp, v, cfg.generation, str(fp))
        else:
            arr, nhwc = _load_image(fp, v, str(fp), None), True
        arrays.append(arr)
        formats.append("nhwc" if nhwc else "nchw")
    return arrays, formats


def normalised(line: Line, values, cfg) -> list[np.ndarray]:
    """The same sample after the model's mean/std: what the framework's model takes."""
    return load_sample(line, values, cfg, None, "held-back sample")


def reference(model_path: Path, graph, feeds_list: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """float32 answers: onnxruntime on an ONNX model; our float32 run of the loaded graph otherwise."""
    if str(model_path).lower().endswith(".onnx"):
        from ..compare import reference as ort_run
        names = [v.name for v in graph.inputs]
        return [ort_run(str(model_path), dict(zip(names, feeds))) for feeds in feeds_list]
    from ..sim.reference import run_float32
    outs = [v.name for v in graph.outputs]
    answers = []
    for feeds in feeds_list:
        env = run_float32(graph, feeds)
        answers.append([np.asarray(env[o]) for o in outs])
    return answers
