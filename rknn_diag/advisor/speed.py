"""Speed advice (guide chapter 6) applied to the model: the doctor's performance checks, each
finding with an estimate of what it costs — the share of the model's multiply-accumulates in
the layers it names, and their measured time in our simulator's per-layer profile
(`eval_perf`: host CPU, a relative figure, not an NPU time) — plus the slowest layers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..dropin.pruning import node_macs

# Guide §6 has no dilation item; dilated convolutions leave the NPU's fast 3x3 path (the
# kernel becomes a larger sparse one), so they are named with the same kernel-size section.
DILATION_REF = "6.1 item 1"


def advice(model_path: Path, platform: str, graph, layer_ms: list[dict]) -> dict[str, Any]:
    from ..doctor.core import Context, all_checks, run_checks

    ms_by_layer = {d["name"]: d["ms"] for d in layer_ms}
    total_ms = sum(ms_by_layer.values()) or 1.0
    macs = {n.name: node_macs(graph, n) for n in graph.nodes}
    total_macs = sum(macs.values()) or 1
    # a source (framework) layer name -> the built layer that holds it
    holder = {s: n.name for n in graph.nodes for s in (n.source or [n.name])}
    findings = []
    if str(model_path).lower().endswith(".onnx"):
        ids = [i for i, c in all_checks().items() if c.category == "performance"]
        for f in run_checks(Context(models=[model_path], target_platforms=[platform]), ids):
            if f.status != "warn":
                continue
            findings.append(_costed(f.id, f.message, f.fix, f.ref, holder, macs, total_macs, ms_by_layer, total_ms))
    dilated = [n for n in graph.nodes if n.op_type == "Conv" and any(d > 1 for d in n.attrs.get("dilations", []))]
    if dilated:
        names = ", ".join(f"'{n.source[0] if n.source else n.name}'" for n in dilated)
        findings.append(_costed("perf.dilation", f"{len(dilated)} dilated conv(s): {names}",
                                "replace dilation by a stride/pooling design or a plain 3x3 where accuracy allows",
                                DILATION_REF, holder, macs, total_macs, ms_by_layer, total_ms))
    slowest = [{"layer": d["name"], "op": d["op"], "ms": d["ms"], "share": d["ms"] / total_ms,
                "macs": macs.get(d["name"], 0)} for d in layer_ms[:10]]
    return {"findings": findings, "slowest": slowest, "total_macs": int(total_macs),
            "profile": "our simulator, host CPU (eval_perf): relative cost per layer, not NPU time"}


def _costed(fid, message, fix, ref, holder, macs, total_macs, ms_by_layer, total_ms) -> dict[str, Any]:
    named = {holder[n] for n in re.findall(r"'([^']+)'", message) if n in holder}
    more = re.search(r"and (\d+) more", message)
    return {"id": fid, "message": message, "fix": fix, "ref": ref, "layers": sorted(named),
            "macs_share": sum(macs.get(n, 0) for n in named) / total_macs,
            "time_share": sum(ms_by_layer.get(n, 0.0) for n in named) / total_ms,
            "partial": bool(more)}   # the doctor names the first few layers only
