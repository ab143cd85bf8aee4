"""index.html: one self-contained page (inline CSS and SVG, no script, no external
asset, no network), readable on screen and on paper. Plain string building; every
value from the results goes through `esc`."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from . import charts, tables
from .data import OUTCOME_LABELS, OUTCOMES, cell_id
from .gate import Gate, RuleResult

CELL_SYMBOL = {"passed": "✓", "failed": "✗", "error": "!", "xfail": "~", "unsupported": "–", "exempt": "○",
               "skipped": "·"}
CELL_WORD = {"passed": "pass", "failed": "FAIL", "error": "error", "xfail": "vendor", "unsupported": "n/s",
             "exempt": "exempt", "skipped": "skip"}

CSS = """
:root { --pass:#cdeccd; --fail:#f6b3b3; --error:#ffd699; --xfail:#dcd3f2; --unsupported:#e4e4e4; --exempt:#eef3f8; --skipped:#f4f4f4; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 16px 24px; color: #1a1a1a; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 2px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; font-size: 12px; }
.verdict { padding: 12px 16px; border-radius: 6px; margin: 12px 0; font-size: 20px; font-weight: 700; }
.verdict.pass { background: var(--pass); border: 2px solid #3c8c3c; }
.verdict.fail { background: var(--fail); border: 2px solid #b02a2a; }
.verdict ul { font-size: 14px; font-weight: 400; margin: 6px 0 0; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.o-passed { background: var(--pass); } .o-failed { background: var(--fail); font-weight: 700; }
.o-error { background: var(--error); } .o-xfail { background: var(--xfail); }
.o-unsupported { background: var(--unsupported); } .o-exempt { background: var(--exempt); } .o-skipped { background: var(--skipped); color: #666; }
.o-none { background: #fff; color: #aaa; }
table.matrix td { text-align: center; min-width: 92px; } table.matrix td a { color: inherit; text-decoration: none; display: block; }
.rule-fail { background: var(--fail); } .rule-pass { background: var(--pass); } .rule-na { color: #777; }
code, pre { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 8px; white-space: pre-wrap; word-break: break-word; }
td code { white-space: pre-wrap; word-break: break-all; }
.note { background: #fff8dc; border-left: 4px solid #e0b000; padding: 6px 10px; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border: 1px solid #ccc; }
svg { max-width: 100%; height: auto; }
.small { font-size: 12px; color: #555; } .nowrap { white-space: nowrap; }
tr:target td { outline: 2px solid #333; } td code.rule { white-space: nowrap; }
table.zoo td, table.zoo th { padding: 2px 5px; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; } tr, svg { break-inside: avoid; } }
"""


@dataclass
class Page:
    df: pd.DataFrame
    gate: Gate
    rules: list[RuleResult]
    passed: bool
    inputs: list[str]
    baseline_inputs: list[str]
    diff: object | None = None
    environment_text: str | None = None
    environment_source: str | None = None
    generated: str = ""


def esc(v) -> str:
    return html.escape("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def fmt(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (int, float)):
        return f"{v:.{digits}f}"
    return esc(v)


# column -> decimals, for numbers shown in tables
DIGITS = {"metrics.cosine": 6, "metrics.cosine_base": 6, "cosine_change": 6, "metrics.sqnr_db": 1,
          "metrics.top1": 4, "latency_ms": 2, "latency_ms_base": 2, "latency_change_pct": 1,
          "cosine min": 6, "cosine p5": 6, "cosine median": 6, "SQNR min (dB)": 1, "SQNR median (dB)": 1,
          "median (ms)": 2, "p90 (ms)": 2, "max (ms)": 2}
HEADERS = {"metrics.cosine": "cosine", "metrics.cosine_base": "cosine (baseline)", "cosine_change": "change",
           "metrics.sqnr_db": "SQNR (dB)", "metrics.top1": "top-1 agreement", "latency_ms": "latency (ms)",
           "latency_ms_base": "latency (baseline, ms)", "latency_change_pct": "change (%)",
           "placement": "target / board", "subject": "model", "worst_layer": "worst layer", "outcome_base": "was"}
BASELINE_HEADERS = {**HEADERS, "outcome": "now"}


NOWRAP = ("mode", "placement", "target", "board", "subject", "case")


def table(df: pd.DataFrame, *, code_cols=("repro",), outcome_col: str | None = "outcome", headers=HEADERS) -> str:
    if df.empty:
        return '<p class="small">none</p>'
    head = "".join(f"<th>{esc(headers.get(c, c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, rec):
            if col in code_cols:
                cells.append(f"<td><code>{esc(v)}</code></td>")
            elif col in DIGITS or (isinstance(v, (int, float)) and not isinstance(v, bool)):
                cells.append(f'<td class="num">{fmt(v, DIGITS.get(col, 0 if isinstance(v, int) else 3))}</td>')
            elif col in (outcome_col, "outcome_base") and v in OUTCOME_LABELS:
                cells.append(f'<td class="o-{v}">{esc(OUTCOME_LABELS[v])}</td>')
            else:
                cls = ' class="nowrap"' if col in NOWRAP else ""
                cells.append(f"<td{cls}>{esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render(p: Page) -> str:
    df = p.df
    parts = [f"<h1>Release qualification report</h1><p class=\"meta\">{_meta(p)}</p>", _verdict(p)]
    if p.diff is not None:
        parts.append(_baseline(p))
    parts += [_headline(df), _gate(p), _environment(p), _matrices(df), _accuracy(p), _zoo(df),
              _performance(df), _failures(df), _all_cases(df)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>Release qualification report — " + ("PASS" if p.passed else "FAIL") + "</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _meta(p: Page) -> str:
    ts = pd.to_datetime(p.df["timestamp"], unit="s", utc=True)
    runs = ", ".join(sorted({str(r) for r in p.df["run_id"] if r})) or "unnamed"
    return (f"Results: {esc(', '.join(p.inputs))} — run {esc(runs)}, cases finished "
            f"{ts.min():%Y-%m-%d %H:%M} to {ts.max():%Y-%m-%d %H:%M} UTC. Gate: {esc(p.gate.source)}. "
            + (f"Baseline: {esc(', '.join(p.baseline_inputs))}. " if p.baseline_inputs else "")
            + f"Generated {esc(p.generated)}.")


def _verdict(p: Page) -> str:
    failed = [r for r in p.rules if r.passed is False]
    if p.passed:
        return ('<div class="verdict pass" id="verdict">Quality gate: PASS — '
                f'all {sum(r.passed is True for r in p.rules)} applicable rules met</div>')
    items = "".join(f"<li><b>{esc(r.rule)}</b>: {esc(r.title)} — {esc(r.detail)}</li>" for r in failed)
    return (f'<div class="verdict fail" id="verdict">Quality gate: FAIL — {len(failed)} rule(s) not met'
            f"<ul>{items}</ul></div>")


def _headline(df: pd.DataFrame) -> str:
    c = tables.counts(df)
    head = "<th>target</th>" + "".join(f'<th class="o-{o}">{esc(OUTCOME_LABELS[o])}</th>' for o in OUTCOMES) + "<th>total</th>"
    rows = "".join("<tr><th>" + esc(t) + "</th>" + "".join(
        f'<td class="num{" o-" + o if r[o] and o != "passed" else ""}">{r[o]}</td>' for o in OUTCOMES)
        + f'<td class="num">{r["total"]}</td></tr>' for t, r in c.iterrows())
    return (f'<section id="headline"><h2>Headline: outcomes per target</h2>'
            f'<table id="counts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            '<p class="small">Failed: our toolchain gave a wrong answer. Errors: the board, adb, toolkit '
            'install or a timeout got in the way (the case says nothing about the product). Expected failures: '
            'known vendor findings. Not supported: outside what the target does.</p></section>')


def _gate(p: Page) -> str:
    rows = []
    for r in p.rules:
        cls, word = ("rule-na", "n/a") if r.passed is None else ("rule-pass", "met") if r.passed else ("rule-fail", "NOT MET")
        offenders = ""
        if r.offenders and r.passed is False:
            shown = "".join(f"<li>{esc(o)}</li>" for o in r.offenders[:10])
            more = f"<li>… and {len(r.offenders) - 10} more</li>" if len(r.offenders) > 10 else ""
            offenders = f"<ul class=\"small\">{shown}{more}</ul>"
        rows.append(f'<tr class="{cls}"><td class="nowrap"><b>{word}</b></td><td><code class="rule">{esc(r.rule)}</code></td>'
                    f"<td>{esc(r.title)}</td><td>{esc(r.detail)}{offenders}</td></tr>")
    return ('<section id="gate"><h2>Quality gate rules</h2><table><thead><tr><th>result</th><th>rule</th>'
            f"<th>requires</th><th>found</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def _baseline(p: Page) -> str:
    d = p.diff
    cols = ["case", "mode", "placement", "outcome_base", "outcome", "metrics.cosine_base", "metrics.cosine"]
    b = p.gate.baseline
    return ('<section id="baseline"><h2>Against the baseline</h2>'
            f'<p>{d.matched} cases matched the baseline on (case, mode, target, board); '
            f"{len(d.added)} are new in this run, {len(d.missing)} of the baseline were not run.</p>"
            f"<h3>New failures ({len(d.new_failures)}) — passed in the baseline, fail now</h3>"
            + table(_with_placement(d.new_failures)[cols], headers=BASELINE_HEADERS)
            + f"<h3>New infrastructure errors ({len(d.new_errors)})</h3>"
            + table(_with_placement(d.new_errors)[cols], headers=BASELINE_HEADERS)
            + f"<h3>Fixed ({len(d.fixed)}) — did not pass in the baseline, pass now</h3>"
            + table(_with_placement(d.fixed)[cols], headers=BASELINE_HEADERS)
            + f"<h3>Accuracy moved by more than {b['cosine_drop']:g} cosine ({len(d.accuracy_moved)}; "
              f"{len(d.accuracy_drops)} worse)</h3>"
            + table(_with_placement(d.accuracy_moved)[["case", "mode", "placement", "metrics.cosine_base",
                                                     "metrics.cosine", "cosine_change"]])
            + f"<h3>Latency regressions ({len(d.latency_regressions)}) — slower by more than "
              f"{b['latency_increase_pct']:g} % and {b['latency_min_increase_ms']:g} ms</h3>"
            + table(_with_placement(d.latency_regressions)[["case", "mode", "placement", "latency_ms_base",
                                                          "latency_ms", "latency_change_pct"]])
            + (f"<h3>Not run this time ({len(d.missing)})</h3>" + table(d.missing[["case", "mode", "placement"]])
               if len(d.missing) else "")
            + "</section>")


def _with_placement(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(placement=[f"{t} {b}" if isinstance(b, str) and b else t for t, b in zip(df["target"], df["board"])])


def _environment(p: Page) -> str:
    env = tables.environment(p.df)
    doctor = (f"<h3>Host and environment ({esc(p.environment_source)})</h3><pre>{esc(p.environment_text)}</pre>"
              if p.environment_text is not None else
              '<p class="small">No environment file given (run <code>rknn-doctor --report &gt; env.txt</code> '
              "and pass <code>--environment env.txt</code>); the versions below are what the results recorded.</p>")
    return ('<section id="environment"><h2>Environment</h2>'
            "<h3>Versions recorded by the results (toolkit, boards: chip and firmware)</h3>"
            + table(env, outcome_col=None) + doctor + "</section>")


def _matrices(df: pd.DataFrame) -> str:
    legend = "".join(f'<span class="o-{o}">{CELL_SYMBOL[o]} {esc(OUTCOME_LABELS[o])}</span>' for o in OUTCOMES)
    out = ['<section id="matrix"><h2>Op × mode matrix per target</h2>'
           f'<p class="legend">{legend}</p><p class="small">A cell shows the worst outcome of its cases and '
           "passed/total; click it for its cases. When a target has several boards, a cell covers all of them.</p>"]
    for target in tables.ordered(df["target"], tables.TARGET_ORDER):
        m = tables.matrix(df, target)
        if m.empty:
            continue
        head = "<th>op</th>" + "".join(f"<th>{esc(c)}</th>" for c in m.columns)
        rows = []
        for op, r in m.iterrows():
            cells = []
            for mode in m.columns:
                cell = r[mode]
                if not isinstance(cell, tuple):
                    cells.append('<td class="o-none">not run</td>')
                    continue
                o, npass, n, nskip = cell
                skipped = f" · {nskip} skipped" if nskip and o != "skipped" else ""
                cells.append(f'<td class="o-{o}"><a href="#{cell_id(target, op, mode)}" '
                             f'title="{esc(OUTCOME_LABELS[o])}">{CELL_SYMBOL[o]} {CELL_WORD[o]} {npass}/{n}{skipped}</a></td>')
            rows.append(f"<tr><th>{esc(op)}</th>{''.join(cells)}</tr>")
        boards = sorted({b for b in df[df["target"] == target]["board"] if isinstance(b, str)})
        out.append(f"<h3>{esc(target)}" + (f" (boards: {esc(', '.join(boards))})" if boards else "") + "</h3>"
                   f'<table class="matrix" data-target="{esc(target)}"><thead><tr>{head}</tr></thead>'
                   f"<tbody>{''.join(rows)}</tbody></table>")
    return "".join(out) + "</section>"


def _chart(svg: str | None, note_if_missing: bool = True) -> str:
    if svg is not None:
        return f'<figure>{svg}</figure>'
    return f'<p class="note">{esc(charts.MISSING_NOTE)}</p>' if note_if_missing and not charts.available() else ""


def _accuracy(p: Page) -> str:
    df = p.df
    modes = tables.ordered(df["mode"], tables.MODE_ORDER)
    failed = df[df["outcome"] == "failed"][["case", "mode", "placement", "metrics.cosine", "worst_layer",
                                             "metrics.worst_layer_cosine"]]
    return ('<section id="accuracy"><h2>Accuracy against float</h2>'
            + _chart(charts.accuracy(df, modes, p.gate.floors))
            + "<h3>Distribution per mode</h3>" + table(tables.accuracy_stats(df), outcome_col=None)
            + "<h3>Worst cases (lowest cosine)</h3>" + table(tables.worst_cases(df))
            + "<h3>Failures and their worst layer</h3><p class=\"small\">From the accuracy analysis, where it was "
              "run (<code>metrics.worst_layer</code> / <code>worst_layer=</code> in the message).</p>"
            + table(failed.rename(columns={"metrics.worst_layer_cosine": "worst layer cosine"}))
            + "</section>")


def _zoo(df: pd.DataFrame) -> str:
    """Models down, targets/boards across: cosine, top-1 agreement and latency side by side."""
    z = tables.zoo(df)
    if z.empty:
        return '<section id="zoo"><h2>Model zoo</h2><p class="small">no model cases in these results</p></section>'
    placements = tables.ordered(z["placement"], ())
    placements = sorted(placements, key=lambda p: (tables.TARGET_ORDER.index(p.split()[0])
                                                   if p.split()[0] in tables.TARGET_ORDER else 9, p))
    head1 = '<th rowspan="2">model</th><th rowspan="2">mode</th>' + "".join(
        f'<th colspan="3" class="nowrap">{esc(p)}</th>' for p in placements)
    head2 = '<th>cosine</th><th>top-1</th><th>ms</th>' * len(placements)
    cells = {(r["subject"], r["mode"], r["placement"]): r for r in z.to_dict("records")}
    rows = []
    for (model, mode), _ in z.groupby(["subject", "mode"], sort=False):
        tds = []
        for p in placements:
            r = cells.get((model, mode, p))
            if r is None:
                tds.append('<td colspan="3" class="o-none">not run</td>')
            elif r["outcome"] != "passed":
                tds.append(f'<td colspan="3" class="o-{r["outcome"]}">{esc(OUTCOME_LABELS[r["outcome"]])}</td>')
            else:
                tds.append(f'<td class="num">{fmt(r["metrics.cosine"], 5)}</td><td class="num">'
                           f'{fmt(r["metrics.top1"], 3)}</td><td class="num">{fmt(r["latency_ms"], 1)}</td>')
        rows.append(f'<tr><th>{esc(model)}</th><td class="nowrap">{esc(mode)}</td>{"".join(tds)}</tr>')
    return ('<section id="zoo"><h2>Model zoo</h2><p class="small">Per model and mode, on each target and board: '
            "cosine and top-1 agreement against float, and inference latency in ms.</p>"
            f'<table class="zoo"><thead><tr>{head1}</tr><tr>{head2}</tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></section>")


def _performance(df: pd.DataFrame) -> str:
    return ('<section id="performance"><h2>Performance: latency per target and board</h2>'
            + _chart(charts.latency(df)) + _chart(charts.op_latency(df), note_if_missing=False)
            + table(tables.latency(df), outcome_col=None) + "</section>")


def _failures(df: pd.DataFrame) -> str:
    out = ['<section id="failures"><h2>Failures by category</h2><p class="small">Each with the command that '
           "reproduces the single case.</p>"]
    for title, sub in tables.failures(df).items():
        sub = sub.drop(columns=["metrics.cosine"] + (["worst_layer"] if sub["worst_layer"].isna().all() else []))
        out.append(f"<h3>{esc(title)} ({len(sub)})</h3>" + table(sub))
    return "".join(out) + "</section>"


def _all_cases(df: pd.DataFrame) -> str:
    d = df.assign(rank=df["target"].map({t: i for i, t in enumerate(tables.TARGET_ORDER)}).fillna(9),
                  kind_rank=(df["kind"] == "model").astype(int),
                  mode_rank=df["mode"].map({m: i for i, m in enumerate(tables.MODE_ORDER)}).fillna(9))
    d = d.sort_values(["rank", "target", "kind_rank", "subject", "mode_rank", "mode", "placement", "case"])
    rows, seen = [], set()
    for r in d.to_dict("records"):
        anchor = cell_id(r["target"], r["subject"], r["mode"])
        ident = f' id="{anchor}"' if anchor not in seen else ""
        seen.add(anchor)
        rows.append(f"<tr{ident}>" + "".join(f'<td class="nowrap">{esc(r[c])}</td>'
                                             for c in ("target", "board", "subject", "mode", "case"))
                    + f'<td class="o-{r["outcome"]}">{esc(OUTCOME_LABELS[r["outcome"]])}</td>'
                    f'<td class="num">{fmt(r["metrics.cosine"], 6)}</td><td class="num">{fmt(r["latency_ms"], 2)}</td>'
                    f'<td>{esc(r["message"])}</td></tr>')
    return ('<section id="cases"><h2>All cases</h2><table><thead><tr><th>target</th><th>board</th><th>op / model</th>'
            "<th>mode</th><th>case</th><th>outcome</th><th>cosine</th><th>latency (ms)</th><th>message</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></section>")
