"""The fix for a mode below the floor (guide §2.1): which layers lose accuracy, and the fewest
of them to keep in higher precision so the model reaches the floor — proven by rebuilding.

1. Hybrid step 1 (`RKNN.hybrid_quantization_step1`) writes the calibrated model and its cfg.
2. The per-layer analysis (`RKNN.accuracy_analysis`, entire and individual) on a held-back
   sample ranks the layers by the error each causes when fed exact inputs (individual cosine,
   then its own quantization error); each is named by the source layers merged into it.
3. Screening: each of the worst-ranked layers alone in higher precision, rebuilt with hybrid
   step 2 and measured on the held-back samples — errors in a real network are spread and
   interact, so the ranking alone does not say which layers lift the output.
4. Greedy: layers added in order of their measured lift (then the rest of the ranking), each
   addition rebuilt and measured and kept only if the cosine rose, until the floor or the
   layer budget is reached; then each chosen layer the floor does not need is dropped again
   (smallest lift first, each drop rebuilt and measured).
5. The chosen set is written as the toolkit's own cfg, and that file is fed once more to
   `hybrid_quantization_step2` from scratch and measured: only that measurement is reported
   as `cosine_after`. A proposal that is not rebuilt is never reported as lifting anything.

Higher precision is 16-bit integer (`int16` in the cfg) for modes with 8-bit or 4-bit
layers — the layer's output tensor then carries 16 bits to every consumer, so one layer's
entry fixes the activation it produces — and float16 for modes that are 16-bit already.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..quant.hybrid import LAYER_KEYS
from . import measure
from .builds import Job, call

SIXTEEN_BIT_MODES = ("w8a16", "w16a16i_dfp", "dynamic_fixed_point-i16")
BUDGET = 0.10          # at most this share of the layers leaves 8-bit (issue 12's bar)
SCREEN_FACTOR = 2      # layers screened: this many times the budget (at least 8)
SCREEN_SAMPLES = 2     # held-back samples each screening trial runs (the greedy and the check run all)


def higher_precision(mode: str) -> str:
    return "float16" if mode in SIXTEEN_BIT_MODES else "int16"


@dataclass
class Proposal:
    mode: str
    dtype: str
    floor: float
    cosine_before: float
    cosine_after: float | None = None     # measured on the rebuild from the written cfg, or None
    layers_kept: list[dict[str, Any]] = field(default_factory=list)
    layers_total: int = 0
    source_layers_total: int = 0          # framework layers before fusion (BN, activations merged)
    budget: int = 0
    cfg: Path | None = None
    reached: bool = False
    ranking: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    analysis_dir: Path | None = None
    rknn_path: Path | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "dtype": self.dtype, "floor": self.floor, "cosine_before": self.cosine_before,
                "cosine_after": self.cosine_after, "reached": self.reached,
                "layers_kept": self.layers_kept, "layers_total": self.layers_total, "budget": self.budget,
                "source_layers_kept": sum(len(k["source"].split("+")) for k in self.layers_kept),
                "source_layers_total": self.source_layers_total,
                "cfg": str(self.cfg) if self.cfg else None, "rknn": str(self.rknn_path) if self.rknn_path else None,
                "analysis_dir": str(self.analysis_dir) if self.analysis_dir else None,
                "ranking": self.ranking, "steps": self.steps, "note": self.note}


class _Step1:
    """The files hybrid step 1 wrote, and rebuilds from them with a chosen layer table."""

    def __init__(self, job: Job, mode: str, folder: Path):
        self.job, self.mode, self.folder = job, mode, folder
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        r = job.rknn(mode)
        with contextlib.chdir(folder), job.quiet():
            call(r, "hybrid_quantization_step1", dataset=str(job.calib))
        r.release()
        self.cfg0 = next(folder.glob("*.quantization.cfg"))
        stem = self.cfg0.name[: -len(".quantization.cfg")]
        self.data = folder / f"{stem}.data"
        self.model_file = next(p for p in folder.glob(f"{stem}.*") if p.suffix in (".model", ".json"))
        self.text = self.cfg0.read_text(encoding="utf-8")
        self.key = next(k for k in LAYER_KEYS if f"\n{k}:" in self.text)

    def cfg_text(self, layers: list[dict[str, Any]], dtype: str) -> str:
        """Step 1's cfg with the layer table filled in (toolkit2 names a layer by its output
        tensor, 1.x by its layer name); each entry says which source layers it holds."""
        if not layers:
            return self.text
        by = "tensor" if self.key == "custom_quantize_layers" else "layer"
        table = [f"{self.key}:   # proposed by rknn-diag model: {len(layers)} layer(s) in {dtype}"]
        for lay in layers:
            table.append(f"  {json.dumps(lay[by])}: {dtype}   # {lay['op']} from {lay['source']}")
        return self.text.replace(f"\n{self.key}: {{}}\n", "\n" + "\n".join(table) + "\n", 1)

    def rebuild(self, cfg_path: Path):
        """A fresh RKNN object through hybrid_quantization_step2 with this cfg, ready to run."""
        from ..api import RKNN

        r = RKNN(verbose_file=str(self.job.log_path) if self.job.log_path else None)
        with self.job.quiet():
            call(r, "hybrid_quantization_step2", model_input=str(self.model_file), data_input=str(self.data),
                 model_quantization_cfg=str(cfg_path))
            call(r, "init_runtime")
        return r


def run_all(rknn, raws) -> list:
    outs = [rknn.inference(inputs=arrays, data_format=formats) for arrays, formats in raws]
    if any(o is None for o in outs):
        raise rknn.last_error or RuntimeError("inference failed")
    return outs


def propose(job: Job, mode: str, raws, refs, floor: float, folder: Path, analysis_inputs: list[str],
            budget_share: float = BUDGET, dtype: str | None = None,
            progress: Callable[..., Any] | None = None) -> Proposal:
    dtype = dtype or higher_precision(mode)
    bar = progress or _no_progress
    _say(f"{mode}: hybrid_quantization_step1 (calibration)")
    s1 = _Step1(job, mode, folder)
    trial = folder / "trial.quantization.cfg"

    def measure_layers(layers: list[dict[str, Any]], n: int | None = None) -> float:
        trial.write_text(s1.cfg_text(layers, dtype), encoding="utf-8")
        r = s1.rebuild(trial)
        try:
            with job.quiet():
                return measure.cosine(run_all(r, raws[:n]), refs[:n])
        finally:
            r.release()

    base = s1.rebuild(s1.cfg0)
    _say(f"{mode}: accuracy_analysis (entire and individual, every layer) on a held-back sample")
    with job.quiet():
        before = measure.cosine(run_all(base, raws), refs)
        call(base, "accuracy_analysis", inputs=analysis_inputs, output_dir=str(folder / "analysis"))
    df = base.analysis
    graph = base.model.graph
    base.release()
    total = len(graph.nodes)
    budget = max(1, math.floor(budget_share * total))
    prop = Proposal(mode, dtype, floor, before, layers_total=total, budget=budget,
                    source_layers_total=sum(len(n.source) or 1 for n in graph.nodes),
                    analysis_dir=folder / "analysis")
    ranked = df[df["runs_in"] != "float16"].sort_values(["individual_cosine", "own_cosine", "index"], kind="stable")
    candidates: list[dict[str, Any]] = []
    for row in ranked.itertuples():
        if any(c["layer"] == row.layer for c in candidates):
            continue
        candidates.append({"layer": row.layer, "tensor": row.tensor, "op": row.op, "source": row.source,
                           "entire_cosine": float(row.entire_cosine),
                           "individual_cosine": float(row.individual_cosine), "own_cosine": float(row.own_cosine)})
    prop.ranking = candidates[:max(3 * budget, 10)]
    screened = candidates[:max(SCREEN_FACTOR * budget, 8)]
    # screening only ranks: two held-back samples are enough for that, and halve its cost
    before_screen = before if len(raws) <= SCREEN_SAMPLES else measure_layers([], SCREEN_SAMPLES)
    for c in bar(screened, desc=f"{mode}: screening layers", unit="layer"):
        c["alone"] = measure_layers([c], SCREEN_SAMPLES)
        c["gain"] = c["alone"] - before_screen
    # the layers that lift the output alone first, by their lift; then, while the budget
    # lasts, the rest of the ranking (layers can help together that do not alone)
    order = sorted((c for c in screened if c["gain"] > 0), key=lambda c: -c["gain"])
    order += [c for c in prop.ranking if c not in order]
    chosen: list[dict[str, Any]] = []
    best = before
    for c in bar(order, desc=f"{mode}: greedy selection", unit="layer"):
        if best >= floor or len(chosen) >= budget:
            break
        cos = measure_layers(chosen + [c])
        kept = cos > best
        prop.steps.append({"pass": "add", "layer": c["layer"], "source": c["source"], "cosine": cos, "kept": kept})
        if kept:
            c["lift"] = cos - best
            chosen.append(c)
            best = cos
    if best >= floor and len(chosen) > 1:
        # the fewest layers: drop, smallest lift first, each layer the floor does not need
        for c in bar(sorted(chosen, key=lambda c: c["lift"]), desc=f"{mode}: dropping needless layers",
                     unit="layer"):
            rest = [x for x in chosen if x is not c]
            cos = measure_layers(rest)
            prop.steps.append({"pass": "drop", "layer": c["layer"], "source": c["source"], "cosine": cos,
                               "kept": cos < floor})
            if cos >= floor:
                chosen, best = rest, cos
    if not chosen:
        prop.note = "no layer in higher precision lifted the cosine"
        return prop
    # The proposal, written in the toolkit's own format, then rebuilt from that file alone.
    prop.cfg = folder.parent / f"{job.model.stem}.{mode}.hybrid.quantization.cfg"
    prop.cfg.write_text(s1.cfg_text(chosen, dtype), encoding="utf-8")
    prop.layers_kept = [{k: c.get(k) for k in ("layer", "tensor", "op", "source", "individual_cosine", "gain")}
                        for c in chosen]       # gain: the lift alone (None: not screened)
    final = s1.rebuild(prop.cfg)
    try:
        with job.quiet():
            prop.cosine_after = measure.cosine(run_all(final, raws), refs)
            prop.rknn_path = folder.parent / f"{job.model.stem}.{mode}.hybrid.rknn"
            call(final, "export_rknn", str(prop.rknn_path))
    finally:
        final.release()
    prop.reached = prop.cosine_after >= floor and len(chosen) <= budget
    if not prop.reached:
        prop.note = (f"the best set found ({len(chosen)} of at most {budget} layers) gives cosine "
                     f"{prop.cosine_after:.5f}, below the floor {floor}")
    return prop


def _no_progress(it, **_kw):
    return it


def _say(text: str) -> None:
    print(f"      {text}", file=sys.stderr, flush=True)
