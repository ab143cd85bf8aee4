"""`rknn-diag model MODEL --platform CHIP --dataset dataset.txt -o DIR`: what is wrong with one
model on a chip, and the fix for what can be fixed (issue 12; the steps in
`rknn_diag/advisor/__init__.py`, the model.json schema in docs/model-card.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RknnDiagError
from . import builds, card, checks, hybrid, measure, samples, speed

# Which built mode to ship when several reach the floor: the one the NPU runs fastest —
# fewer bits first (8-bit, then 8-bit with some 16-bit layers, then 16-bit, then float16).
SHIP_ORDER = ("w8a8", "asymmetric_quantized-u8", "dynamic_fixed_point-i8", "w4a16", "w8a16",
              "dynamic_fixed_point-i16", "w16a16i_dfp", "float16")


def floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rknn-diag model", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path, help="the model: .onnx (also .pt with --input-size, .tflite)")
    p.add_argument("--platform", required=True, help="target_platform, e.g. rk3588")
    p.add_argument("--dataset", type=Path, help="dataset.txt of raw samples; a fifth is held back for evaluation")
    p.add_argument("--modes", help="comma-separated: float16 and the chip's quantized dtypes "
                                   "(default: float16 and the chip's default)")
    p.add_argument("--target", action="append", default=[], choices=["simulator", "toolkit2", "board"],
                   help="also run on the vendor's toolkit2 or a board (repeatable; ours always runs)")
    p.add_argument("--device-id", action="append", default=[], metavar="SERIAL", help="board serial (--target board)")
    p.add_argument("--adb-server", metavar="HOST:PORT")
    p.add_argument("--mean", type=floats, action="append", help="mean values of one input, e.g. 127.5,127.5,127.5 "
                                                              "(repeat once per input, in input order)")
    p.add_argument("--std", type=floats, action="append", help="std values of one input (repeat per input)")
    p.add_argument("--input-size", type=ints, action="append", help="fixes one input's dynamic dimensions, "
                                                                     "e.g. 1,3,224,224 (repeat per input)")
    p.add_argument("--floor", type=float, default=0.99, help="the cosine a mode must reach (default 0.99)")
    p.add_argument("--held-back", type=int, help="held-back samples (default: a fifth, 1..8)")
    p.add_argument("--budget", type=float, default=hybrid.BUDGET,
                   help="largest share of layers a hybrid proposal may take out of 8-bit (default 0.10)")
    p.add_argument("--hybrid-dtype", choices=["int16", "float16"],
                   help="precision of the layers a proposal keeps out of 8-bit (default: int16 for 8- and 4-bit "
                        "modes, float16 for 16-bit modes)")
    p.add_argument("-o", "--out", type=Path, required=True, help="folder for the card, builds and cfg files")
    return p


def progress(it, **kw):
    """tqdm on stderr when installed (the quant extra), else the items as they are."""
    from ..extras import available
    if available("tqdm"):
        from tqdm import tqdm
        return tqdm(it, file=sys.stderr, leave=False, **kw)
    return it


def modes_for(platform: str, asked: str | None) -> list[str]:
    from ..platforms import CHIPS, DTYPE_ALIASES, dtypes_for
    if platform not in CHIPS:
        raise ConfigError(f"unknown platform '{platform}'", fix=f"use one of {', '.join(sorted(CHIPS))}")
    have = dtypes_for(platform)
    if not asked:
        return ["float16", have[0]]
    out = []
    for m in asked.split(","):
        m = m.strip()
        canon = "float16" if m == "float16" else DTYPE_ALIASES.get(m)
        if canon is None or (canon != "float16" and canon not in have):
            raise ConfigError(f"mode '{m}' is not one {platform} has",
                              fix=f"choose from float16,{','.join(have)}", ref="1.4.1")
        out.append(canon)
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    modes = modes_for(args.platform, args.modes)
    if args.dataset is None:
        raise ConfigError("`rknn-diag model` needs --dataset: held-back samples judge every mode and the "
                          "quantized modes calibrate on the rest", fix="pass --dataset dataset.txt", ref="1.4.3")
    if not args.model.is_file():
        raise ConfigError(f"model file not found: {args.model}")
    targets = ["simulator"] + [t for t in dict.fromkeys(args.target) if t != "simulator"]
    print(f"[1/6] doctor checks on {args.model.name} and {args.dataset.name}", file=sys.stderr)
    findings = checks.run(args.model, args.platform, args.dataset,
                          toolkit_version="2.5.0" if "toolkit2" in targets else None)
    log_path = out / "build.log"
    log_path.write_text("")
    job = builds.Job(args.model.resolve(), args.platform, args.mean, args.std, args.input_size, None, log_path)
    loaded = job.rknn("float16")
    split = samples.split(args.dataset, len(loaded.graph.inputs), out / "data", args.held_back)
    job.calib = split.calib
    raws = [samples.raw(ln, loaded.graph.inputs, loaded.cfg) for ln in split.held]
    refs = samples.reference(job.model, loaded.graph,
                             [samples.normalised(ln, loaded.graph.inputs, loaded.cfg) for ln in split.held])
    loaded.release()
    timings = {"checks_and_split_s": time.perf_counter() - started}
    print(f"[2/6] {len(modes)} mode(s) on {', '.join(targets)}: {split.n_calib} calibration, "
          f"{len(split.held)} held-back sample(s)", file=sys.stderr)
    results, built, errors = [], {}, []
    for mode in progress(modes, desc="builds", unit="mode"):
        run_, rknn = builds.ours(job, mode, raws, out / "builds")
        built[mode] = (run_, rknn)
        results.append(_result(run_, refs))
        for t in targets[1:]:
            options = {"device_id": args.device_id[0]} if t == "board" and args.device_id else {}
            if t == "board" and args.adb_server:
                options["adb_server"] = args.adb_server
            try:
                results.append(_result(builds.on_target(job, mode, raws, t, options), refs))
            except RknnDiagError as e:
                errors.append({"mode": mode, "target": t, "error": f"{type(e).__name__}: {e}"})
    timings["builds_s"] = time.perf_counter() - started - sum(timings.values())
    print("[3/6] per-layer analysis and hybrid proposals for modes below the floor", file=sys.stderr)
    proposals = []
    for res in results:
        if res["target"] != "simulator" or res["mode"] == "float16" or res["cosine"] >= args.floor:
            continue
        prop = hybrid.propose(job, res["mode"], raws, refs, args.floor, out / "hybrid" / res["mode"],
                              [str(p) for p in split.held[0].paths], args.budget, args.hybrid_dtype,
                              progress=progress)
        proposals.append(prop)
    timings["hybrid_s"] = time.perf_counter() - started - sum(timings.values())
    print("[4/6] speed advice (guide chapter 6)", file=sys.stderr)
    first_run, first_rknn = built[modes[0]]
    advice = speed.advice(args.model, args.platform, first_rknn.model.graph, first_run.layer_ms)
    for _, r in built.values():
        r.release()
    data = {
        "schema": card.SCHEMA,
        "model": str(args.model), "platform": args.platform, "floor": args.floor,
        "modes": modes, "targets": targets,
        "samples": {"calibration": split.n_calib, "held_back": len(split.held),
                    "calibration_file": str(split.calib), "classifier": measure.classifier_like(refs[0])},
        "checks": findings, "results": results, "errors": errors,
        "hybrid": proposals[0].to_json() if proposals else None,
        "hybrids": [p.to_json() for p in proposals],
        "speed": advice, "elapsed_s": None,
    }
    timings["speed_s"] = time.perf_counter() - started - sum(timings.values())
    data["timings"] = {k: round(v, 1) for k, v in timings.items()}
    data["verdict"] = verdict(data)
    data["elapsed_s"] = round(time.perf_counter() - started, 1)
    print("[5/6] report card", file=sys.stderr)
    paths = card.write(out, data)
    print(f"[6/6] {data['verdict']['text']}\n      card: {paths['html']}", file=sys.stderr)
    return data


def _result(run_: builds.Run, refs) -> dict[str, Any]:
    s = measure.summarise(run_.outputs, refs)
    return {"mode": run_.mode, "target": run_.target, **s, "latency_ms": run_.latency_ms,
            "latency_kind": run_.latency_kind, "build_s": round(run_.build_s, 2),
            "rknn": str(run_.rknn_path) if run_.rknn_path else None}


def verdict(data: dict[str, Any]) -> dict[str, Any]:
    """Which mode to ship: the fastest on the NPU (fewest bits) that reaches the floor on our simulator."""
    floor = data["floor"]
    options = []
    for r in data["results"]:
        if r["target"] == "simulator" and r["cosine"] >= floor:
            options.append((SHIP_ORDER.index(r["mode"]) * 2, r["mode"], r["cosine"], r["latency_ms"], None))
    for h in data["hybrids"]:
        if h["reached"]:
            lat = next((r["latency_ms"] for r in data["results"] if r["mode"] == h["mode"]), None)
            options.append((SHIP_ORDER.index(h["mode"]) * 2 + 1, h["mode"], h["cosine_after"], lat, h["cfg"]))
    if not options:
        best = max((r for r in data["results"] if r["target"] == "simulator"), key=lambda r: r["cosine"])
        return {"ship": None, "ok": False, "text": f"no mode reaches cosine {floor}; the best is {best['mode']} "
                                                   f"at {best['cosine']:.5f}"}
    _, mode, cos, lat, cfg = min(options)
    how = f"{mode} with the hybrid cfg {Path(cfg).name}" if cfg else mode
    lat_text = f", {lat:.1f} ms on our simulator (host CPU)" if lat is not None else ""
    return {"ship": mode, "hybrid_cfg": cfg, "ok": True, "cosine": cos, "latency_ms": lat,
            "text": f"ship {how}: cosine {cos:.5f} (floor {floor}){lat_text}"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        data = run(args)
    except RknnDiagError as e:
        print(f"rknn-diag model: {e}", file=sys.stderr)
        return 2
    return 0 if data["verdict"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
