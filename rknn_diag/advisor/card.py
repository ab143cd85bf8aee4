"""The report card of `rknn-diag model`: model.json (schema: docs/model-card.md), index.html
(one self-contained page in the report package's style, no script, no external asset) and
summary.md. Verdict first, then the evidence."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from ..fileio import atomic_write

SCHEMA = "rknn_diag.model_card/1"


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def write(out: Path, data: dict[str, Any]) -> dict[str, Path]:
    paths = {"json": out / "model.json", "html": out / "index.html", "md": out / "summary.md"}
    atomic_write(paths["json"], json.dumps(_json_safe(data), indent=1, allow_nan=False), what="model.json")
    atomic_write(paths["html"], page(data), what="report card")
    atomic_write(paths["md"], markdown(data), what="summary.md")
    return paths


def _f(v, fmt=".5f") -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return format(v, fmt)


def _rows(data):
    for r in data["results"]:
        yield [r["mode"], r["target"], _f(r["cosine"]), _f(r["sqnr_db"], ".1f"), _f(r["max_abs"], ".4g"),
               _f(r.get("top1"), ".3f"), _f(r.get("top5"), ".3f"), _f(r["latency_ms"], ".1f"), _f(r["build_s"], ".1f")]


HEAD = ["mode", "target", "cosine", "SQNR dB", "max abs", "top-1", "top-5", "latency ms", "build s"]


def page(data: dict[str, Any]) -> str:
    from ..report.html_page import CSS

    e = html.escape
    v = data["verdict"]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Model card: "
             f"{e(Path(data['model']).name)}</title><style>{CSS}</style></head><body>",
             f"<h1>Model card: {e(Path(data['model']).name)} on {e(data['platform'])}</h1>",
             f"<p class=\"meta\">{data['samples']['calibration']} calibration and {data['samples']['held_back']} "
             f"held-back samples; floor cosine {data['floor']}; {e(', '.join(data['targets']))}; "
             f"{_f(data['elapsed_s'], '.0f')} s</p>",
             f"<div id=\"verdict\" class=\"verdict {'pass' if v['ok'] else 'fail'}\">{e(v['text'])}</div>",
             "<h2>Accuracy and speed per mode</h2><p class=\"small\">Against the framework's own float32 run on "
             "the held-back samples: per sample the worst output, then the mean (max abs: the largest). Latency: "
             "our simulator's host-CPU time (a relative figure), or what the target reports.</p>",
             _table(HEAD, list(_rows(data)), "results")]
    for err in data["errors"]:
        parts.append(f"<p class=\"note\">{e(err['mode'])} on {e(err['target'])}: {e(err['error'])}</p>")
    for h in data["hybrids"]:
        parts.append(_hybrid_html(h))
    sp = data["speed"]
    parts.append("<h2>Speed advice (guide chapter 6)</h2>")
    if sp["findings"]:
        parts.append(_table(["finding", "guide", "share of MACs", "share of time", "fix"],
                            [[f["message"], f"§{f['ref']}", f"{'≥ ' if f['partial'] else ''}{f['macs_share']:.1%}",
                              f"{'≥ ' if f['partial'] else ''}{f['time_share']:.1%}", f["fix"]]
                             for f in sp["findings"]], "speed"))
    else:
        parts.append("<p>No finding: kernel sizes, depthwise convolutions, fusable patterns and dilation are as "
                     "the NPU runs them best.</p>")
    parts.append(f"<h3>Slowest layers</h3><p class=\"small\">{e(sp['profile'])}</p>")
    parts.append(_table(["layer", "op", "ms", "share", "MACs"],
                        [[s["layer"], s["op"], _f(s["ms"], ".2f"), f"{s['share']:.1%}", f"{s['macs']:,}"]
                         for s in sp["slowest"]], "slowest"))
    issues = [c for c in data["checks"] if c["status"] in ("warn", "error", "crash")]
    parts.append("<h2>Doctor checks (model and dataset)</h2>")
    parts.append(_table(["check", "status", "finding", "fix"],
                        [[c["id"], c["status"], c["message"], c.get("fix", "")] for c in issues], "checks")
                 if issues else f"<p>{len(data['checks'])} checks, no issue.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _hybrid_html(h: dict[str, Any]) -> str:
    e = html.escape
    state = "pass" if h["reached"] else "fail"
    text = (f"{h['mode']}: cosine {_f(h['cosine_before'])} → {_f(h['cosine_after'])} with "
            f"{len(h['layers_kept'])} of {h['layers_total']} layers in {h['dtype']} "
            f"(budget {h['budget']}), measured on the rebuild from the written cfg")
    out = [f"<h2 id=\"hybrid-{e(h['mode'])}\">Hybrid quantization proposal: {e(h['mode'])}</h2>",
           f"<div class=\"verdict {state}\">{e(text)}</div>"]
    if h["note"]:
        out.append(f"<p class=\"note\">{e(h['note'])}</p>")
    if h["cfg"]:
        out.append(f"<p>Configuration: <code>{e(h['cfg'])}</code> — feed it to <code>hybrid_quantization_step2("
                   f"model_input, data_input, model_quantization_cfg)</code> with the step-1 files in "
                   f"<code>{e(str(Path(h['cfg']).parent / h['mode']))}</code>.</p>")
        out.append(_table(["layer (output tensor)", "op", "source layers", "individual cosine", "lift alone"],
                          [[f"{k['layer']} ({k['tensor']})", k["op"], k["source"], _f(k["individual_cosine"]),
                            _f(k["gain"], "+.5f")] for k in h["layers_kept"]], "kept"))
    out.append("<h3>Layers that lose most (per-layer analysis, entire and individual)</h3>")
    out.append(_table(["layer", "op", "source layers", "entire cosine", "individual cosine", "own quantization"],
                      [[r["layer"], r["op"], r["source"], _f(r["entire_cosine"]), _f(r["individual_cosine"]),
                        _f(r["own_cosine"])] for r in h["ranking"]], "ranking"))
    if h["analysis_dir"]:
        out.append(f"<p class=\"small\">Every layer's figures: <code>{e(h['analysis_dir'])}/error_analysis.txt"
                   f"</code></p>")
    return "".join(out)


def _table(head: list[str], rows: list[list[Any]], tid: str) -> str:
    e = html.escape
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<table id=\"{tid}\"><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) +
            f"</tr></thead><tbody>{body}</tbody></table>")


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(data: dict[str, Any]) -> str:
    lines = [f"# Model card: {Path(data['model']).name} on {data['platform']}", "",
             f"**{data['verdict']['text']}**", "", "| " + " | ".join(HEAD) + " |",
             "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _rows(data)]
    for h in data["hybrids"]:
        lines += ["", f"## Hybrid proposal: {h['mode']}", "",
                  f"cosine {_f(h['cosine_before'])} → {_f(h['cosine_after'])}, {len(h['layers_kept'])} of "
                  f"{h['layers_total']} layers in {h['dtype']}; reached: {h['reached']}; cfg: `{h['cfg']}`"]
        lines += [f"- `{_md_cell(k['layer'])}` ({_md_cell(k['op'])}, from {_md_cell(k['source'])})"
                  for k in h["layers_kept"]]
        if h["note"]:
            lines += ["", h["note"]]
    if data["speed"]["findings"]:
        lines += ["", "## Speed advice", ""]
        lines += [f"- {_md_cell(f['message'])} (§{f['ref']}; {f['macs_share']:.1%} of MACs): {_md_cell(f['fix'])}"
                  for f in data["speed"]["findings"]]
    return "\n".join(lines) + "\n"
