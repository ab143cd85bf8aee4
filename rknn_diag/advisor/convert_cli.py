"""`rknn-diag convert CONFIG.yml [-t CHIP] [-o DIR]`: a conversion described in YAML, in the
shape of rknn-toolkit2's converter config (`python -m rknn.api.rknn_convert -i model.yml`):

    models:
      name: mobilenet_v2                # the .rknn file's name
      platform: onnx                    # onnx | pytorch | tflite
      model_file_path: ./mobilenet_v2.onnx
      subgraphs:                        # optional
        input_size_list: [[1, 3, 224, 224]]
      quantize: true
      dataset: ./dataset.txt
      configs:                          # RKNN.config() arguments
        target_platform: rk3588         # or -t CHIP
        quantized_dtype: w8a8
        mean_values: [123.675, 116.28, 103.53]
        std_values: [58.395, 57.12, 57.375]

Paths are relative to the YAML file. The model is built through the public API (the same
`advisor.builds.Job` as `rknn-diag model`) and exported to DIR/<name>.rknn; with a dataset,
its cosine against the float32 model on up to 4 of the samples is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RknnDiagError
from ..extras import require
from . import builds, measure, samples

SUFFIX = {"onnx": ".onnx", "pytorch": ".pt", "tflite": ".tflite"}
MODEL_KEYS = {"name", "platform", "model_file_path", "subgraphs", "quantize", "dataset", "configs"}


def read(path: Path) -> dict[str, Any]:
    yaml = require("yaml", "reading the conversion config")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(e, 'problem', e)}",
                          where=f"{path}, line {mark.line + 1}" if mark else str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise ConfigError("the config needs a 'models:' mapping", where=str(path),
                          fix="see `rknn-diag convert --help` for the layout")
    m = doc["models"]
    unknown = set(m) - MODEL_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) under models: {sorted(unknown)}", where=str(path),
                          fix=f"use {', '.join(sorted(MODEL_KEYS))}")
    for key in ("model_file_path",):
        if key not in m:
            raise ConfigError(f"models.{key} is missing", where=str(path))
    if str(m.get("platform", "onnx")) not in SUFFIX:
        raise ConfigError(f"models.platform '{m.get('platform')}' is not one of {', '.join(SUFFIX)}", where=str(path))
    return m


def _per_input(v):
    """mean_values: [1, 2, 3] (one input, toolkit2's yml) or [[1, 2, 3], ...]."""
    if isinstance(v, list) and v and not isinstance(v[0], list):
        return [v]
    return v


def job_of(m: dict[str, Any], base: Path, platform: str | None, log_path: Path | None) -> tuple[builds.Job, str]:
    configs = dict(m.get("configs") or {})
    chip = platform or configs.pop("target_platform", None)
    configs.pop("target_platform", None)
    if isinstance(chip, list):
        chip = chip[0]
    if not chip:
        raise ConfigError("no target platform", fix="give -t CHIP or models.configs.target_platform")
    quantize = bool(m.get("quantize", False))
    mode = str(configs.pop("quantized_dtype", "")) if quantize else "float16"
    if quantize and not mode:
        from ..platforms import dtypes_for
        mode = dtypes_for(chip)[0]
    mean, std = _per_input(configs.pop("mean_values", None)), _per_input(configs.pop("std_values", None))
    sub = m.get("subgraphs") or {}
    sizes = sub.get("input_size_list") if isinstance(sub, dict) else None
    if sizes:
        sizes = [[int(x) for x in (s.split(",") if isinstance(s, str) else s)] for s in sizes]
    model = Path(m["model_file_path"])
    job = builds.Job((base / model).resolve() if not model.is_absolute() else model, chip, mean, std, sizes,
                     None, log_path, configs)
    if m.get("dataset"):
        ds = Path(m["dataset"])
        job.calib = (base / ds).resolve() if not ds.is_absolute() else ds
    if quantize and job.calib is None:
        raise ConfigError("quantize: true needs models.dataset", ref="1.4.3")
    return job, mode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rknn-diag convert", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="the conversion config (YAML)")
    p.add_argument("-t", "--target-platform", help="the chip (overrides models.configs.target_platform)")
    p.add_argument("-o", "--out", type=Path, help="output folder (default: the config's folder)")
    args = p.parse_args(argv)
    try:
        m = read(args.config)
        out = args.out or args.config.parent
        out.mkdir(parents=True, exist_ok=True)
        job, mode = job_of(m, args.config.parent, args.target_platform, out / f"{m.get('name', 'model')}.convert.log")
        name = str(m.get("name") or job.model.stem)
        raws, refs = [], []
        if job.calib is not None:
            r = job.rknn("float16")
            lines = samples.read_lines(job.calib, len(r.graph.inputs))[:4]
            raws = [samples.raw(ln, r.graph.inputs, r.cfg) for ln in lines]
            refs = samples.reference(job.model, r.graph, [samples.normalised(ln, r.graph.inputs, r.cfg) for ln in lines])
            r.release()
        run, rknn = builds.ours(job, mode, raws or None, out, name=name)
        rknn.release()
    except RknnDiagError as e:
        print(f"rknn-diag convert: {e}", file=sys.stderr)
        return 2
    line = f"{run.rknn_path}: {mode} for {job.platform}, built in {run.build_s:.1f} s"
    if refs:
        line += f"; cosine {measure.cosine(run.outputs, refs):.5f} against float32 on {len(refs)} dataset sample(s)"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
