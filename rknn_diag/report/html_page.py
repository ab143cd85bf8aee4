"""index.html: one self-contained page (inline CSS, SVG and one small script, no
external asset, no network), readable on screen and on paper at any run size.
Plain string building; every value from the results goes through `esc`.

At scale (thousands of cases): the op x mode matrix is tiled by op family, families
without a failure or error folded; failures are grouped by message with counts; the
case list hides passed cases until asked and filters by outcome, op, mode, target,
board and family (also from the address: `index.html?outcome=failed&mode=w8a8`).
Without the script the page still reads: passed cases stay folded."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from . import charts, tables
from .data import OUTCOME_LABELS, OUTCOME_SYMBOLS, OUTCOME_WORDS, OUTCOMES, cell_id
from .gate import Gate, RuleResult


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
.rule-fail { background: var(--fail); } .rule-pass { background: var(--pass); } .rule-na { color: #777; }
code, pre { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 8px; white-space: pre-wrap; word-break: break-word; }
td code { white-space: pre-wrap; word-break: break-all; }
.note { background: #fff8dc; border-left: 4px solid #e0b000; padding: 6px 10px; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border: 1px solid #ccc; }
svg { max-width: 100%; height: auto; }
.small { font-size: 12px; color: #555; } .nowrap { white-space: nowrap; }
tr:target td { outline: 2px solid #333; } td code.rule { white-space: nowrap; }
table.zoo td, table.zoo th { padding: 2px 5px; } table.zoo tr.first > * { border-top: 2px solid #888; }
.tiles { column-gap: 16px; }
details.tile { border: 1px solid #ddd; border-radius: 4px; padding: 2px 8px; margin: 0 0 5px; break-inside: avoid; }
details.tile > summary { cursor: pointer; padding: 3px 0; }
table.matrix { font-size: 12px; margin: 4px 0; } table.matrix th { white-space: nowrap; }
table.matrix td { text-align: center; min-width: 50px; padding: 2px 4px; white-space: nowrap; }
table.matrix td a { color: inherit; text-decoration: none; display: block; }
table.groups td.count { text-align: right; font-weight: 700; } table.groups summary { white-space: nowrap; }
table.groups details > summary { cursor: pointer; color: #245; }
table.groups details table { margin: 4px 0; }
form#filters { position: sticky; top: 0; background: #fafafa; border: 1px solid #ccc; border-radius: 4px;
  padding: 6px 10px; margin: 6px 0; z-index: 1; display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; }
form#filters label { white-space: nowrap; } form#filters select, form#filters input[type=search] { font: inherit; }
#shown { font-weight: 700; }
tr[hidden] { display: none; }
table#case-table { table-layout: fixed; width: 100%; font-size: 12px; }
table#case-table td { overflow-wrap: anywhere; }
/* one line per case; the whole message on hover (and on paper). The groups above hold them in full. */
table#case-table td.msg { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
table#case-table tr:hover td.msg { white-space: normal; }
table#case-table td[class^="o-"] { white-space: nowrap; }
@media print { body { max-width: none; padding: 0; } a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; } tr, svg { break-inside: avoid; } form#filters { display: none; }
  .tiles { display: block; } table#case-table td.msg { white-space: normal; } }
"""

# Filters for the case list (rows carry data-* attributes; see _all_cases). Kept small and
# dependency-free: the page must work from a file, offline, in any browser.
SCRIPT = """
(function () {
  var form = document.getElementById('filters');
  if (!form) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll('#case-table > tbody > tr'));
  var names = {};
  rows.forEach(function (r) { names[r.dataset.s.toLowerCase()] = 1; });
  function boxes() { return Array.prototype.slice.call(form.querySelectorAll('input[name=outcome]')); }
  function apply() {
    var want = {}, n = 0, el = form.elements;
    boxes().forEach(function (c) { want[c.value] = c.checked; });
    var t = el.target.value, b = el.board.value, m = el.mode.value, f = el.family.value;
    var q = el.op.value.trim().toLowerCase(), exact = names.hasOwnProperty(q);
    rows.forEach(function (r) {
      var d = r.dataset, s = d.s.toLowerCase();
      var ok = want[d.o] && (!t || d.t === t) && (!b || d.b === b) && (!m || d.m === m) && (!f || d.f === f)
        && (!q || (exact ? s === q : (s.indexOf(q) >= 0 || d.c.toLowerCase().indexOf(q) >= 0)));
      r.hidden = !ok;
      if (ok) n++;
    });
    document.getElementById('shown').textContent = n + ' of ' + rows.length;
  }
  function set(params) {
    var el = form.elements, outs = params.outcome;
    if (outs) boxes().forEach(function (c) { c.checked = outs === 'all' || outs.split(',').indexOf(c.value) >= 0; });
    ['target', 'board', 'mode', 'family', 'op'].forEach(function (k) { if (k in params) el[k].value = params[k]; });
    apply();
  }
  function fromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var row = id && document.getElementById(id);
    if (!row || !row.dataset || row.parentNode.parentNode.id !== 'case-table') return;
    set({outcome: 'all', target: row.dataset.t, board: '', mode: row.dataset.m, family: '', op: row.dataset.s});
    row.scrollIntoView();
  }
  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('reset', function () { setTimeout(apply, 0); });
  window.addEventListener('hashchange', fromHash);
  // on paper the whole matrix and the gate's lists; the per-group case lists stay as they are
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details.tile, #gate details'),
                                 function (d) { d.open = true; });
  });
  var params = {};
  new URLSearchParams(location.search).forEach(function (v, k) { params[k] = v; });
  set(params);
  fromHash();
})();
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


FOLD_ROWS = 25  # a longer table starts folded (click to open; printing opens everything)
NOWRAP = ("mode", "placement", "target", "board", "subject", "case")


def table(df: pd.DataFrame, *, code_cols=("repro",), outcome_col: str | None = "outcome", headers=HEADERS,
          fold: bool = True) -> str:
    """A table of the frame's rows; longer than FOLD_ROWS, it starts folded (unless fold=False)."""
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
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if fold and len(df) > FOLD_ROWS:
        return f"<details><summary>{len(df)} rows: show</summary>{out}</details>"
    return out


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
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts)
            + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


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


GATE_OFFENDERS_SHOWN = 20


def _gate(p: Page) -> str:
    rows = []
    for r in p.rules:
        cls, word = ("rule-na", "n/a") if r.passed is None else ("rule-pass", "met") if r.passed else ("rule-fail", "NOT MET")
        offenders = ""
        if r.offenders and r.passed is False:
            shown = "".join(f"<li>{esc(o)}</li>" for o in r.offenders[:GATE_OFFENDERS_SHOWN])
            more = (f"<li>… and {len(r.offenders) - GATE_OFFENDERS_SHOWN} more (see Failures)</li>"
                    if len(r.offenders) > GATE_OFFENDERS_SHOWN else "")
            # a long list folds: the verdict above already says how many
            fold = " open" if len(r.offenders) <= 3 else ""
            offenders = (f'<details class="small"{fold}><summary>{len(r.offenders)} case(s)</summary>'
                         f"<ul>{shown}{more}</ul></details>")
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
    legend = "".join(f'<span class="o-{o}">{OUTCOME_SYMBOLS[o]} {esc(OUTCOME_LABELS[o])}</span>' for o in OUTCOMES)
    modes = tables.ordered(df.loc[df["kind"] == "op", "mode"], tables.MODE_ORDER)
    abbrev = ", ".join(f"{esc(tables.MODE_SHORT[m])} = {esc(m)}" for m in modes if m in tables.MODE_SHORT)
    out = ['<section id="matrix"><h2>Op × mode matrix per target</h2>'
           f'<p class="legend">{legend}</p><p class="small">A cell shows the worst outcome of its cases and '
           "passed/total; click it for its cases. When a target has several boards, a cell covers all of them. "
           "Ops are tiled by family; a family with no failure or error is folded (click to open)."
           + (f" Modes: {abbrev}." if abbrev else "") + "</p>"]
    fam_of = dict(zip(df["subject"], df["family"]))
    for target in tables.ordered(df["target"], tables.TARGET_ORDER):
        m = tables.matrix(df, target)
        if m.empty:
            continue
        head = "<th>op</th>" + "".join(
            f'<th><abbr title="{esc(c)}">{esc(tables.MODE_SHORT.get(c, c))}</abbr></th>' for c in m.columns)
        tiles = []
        families = sorted({fam_of.get(op, "other") for op in m.index})
        for fam in families:
            sub = m[[fam_of.get(op, "other") == fam for op in m.index]]
            rows, worst = [], {o: 0 for o in OUTCOMES}
            for op, r in sub.iterrows():
                cells = []
                for mode in m.columns:
                    cell = r[mode]
                    if not isinstance(cell, tuple):
                        cells.append('<td class="o-none" title="not run">·</td>')
                        continue
                    o, npass, n, nskip = cell
                    worst[o] += 1
                    skipped = f", {nskip} skipped" if nskip else ""
                    cells.append(f'<td class="o-{o}"><a href="#{cell_id(target, op, mode)}" '
                                 f'title="{esc(op)} {esc(mode)}: {esc(OUTCOME_LABELS[o])} — {npass} of {n} '
                                 f'passed{skipped}">{OUTCOME_SYMBOLS[o]} {npass}/{n}</a></td>')
                rows.append(f"<tr><th>{esc(op)}</th>{''.join(cells)}</tr>")
            cases = df[(df["target"] == target) & (df["kind"] == "op") & (df["family"] == fam)]
            tally = " · ".join(f'<span class="o-{o}">{OUTCOME_SYMBOLS[o]} {n} {OUTCOME_WORDS[o]}</span>'
                               for o, n in tables.outcome_counts(cases).items() if n)
            is_open = " open" if worst["failed"] or worst["error"] else ""
            tiles.append(f'<details class="tile" data-family="{esc(fam)}"{is_open}><summary><b>{esc(fam)}</b> — '
                         f"{len(sub)} op{'s' if len(sub) != 1 else ''}, {len(cases)} cases: {tally}</summary>"
                         f'<table class="matrix" data-target="{esc(target)}" data-family="{esc(fam)}">'
                         f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>")
        boards = sorted({b for b in df[df["target"] == target]["board"] if isinstance(b, str)})
        out.append(f'<div class="matrix-target" data-target="{esc(target)}"><h3>{esc(target)}'
                   + (f" (boards: {esc(', '.join(boards))})" if boards else "") + "</h3>"
                   # as many tile columns as the tables' width leaves room for
                   f'<div class="tiles" style="column-width:{max(300, 110 + 52 * len(m.columns))}px">'
                   f'{"".join(tiles)}</div></div>')
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
    n_modes = z.groupby("subject", sort=False)["mode"].nunique()
    for (model, mode), _ in z.groupby(["subject", "mode"], sort=False):
        first = not rows or rows[-1][0] != model
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
        head = (f'<th rowspan="{n_modes[model]}">{esc(model)}</th>' if first else "")
        rows.append((model, f'<tr{" class=first" if first else ""}>{head}<td class="nowrap">{esc(mode)}</td>'
                            f'{"".join(tds)}</tr>'))
    return ('<section id="zoo"><h2>Models: the zoo and real models, every mode</h2><p class="small">Per model '
            "and mode (float16 and each quantized mode), on each target and board: cosine and top-1 agreement "
            "against float, and inference latency in ms.</p>"
            f'<table class="zoo"><thead><tr>{head1}</tr><tr>{head2}</tr></thead>'
            f'<tbody>{"".join(r for _, r in rows)}</tbody>'
            "</table></section>")


def _performance(df: pd.DataFrame) -> str:
    return ('<section id="performance"><h2>Performance: latency per target and board</h2>'
            + _chart(charts.latency(df)) + _chart(charts.op_latency(df), note_if_missing=False)
            + table(tables.latency(df), outcome_col=None) + "</section>")


GROUP_CASES_SHOWN = 500  # case rows listed inside one message group (the case list below has them all)


def _failures(df: pd.DataFrame) -> str:
    out = ['<section id="failures"><h2>Failures by category, grouped by message</h2><p class="small">Cases '
           "whose messages are the same (numbers aside: a cosine, an index) form one group, largest first; "
           "open a group for its cases, each with the command that reproduces it.</p>"]
    for title, sub in tables.failures(df).items():
        out.append(f"<h3>{esc(title)} ({len(sub)})</h3>")
        groups = tables.message_groups(sub)
        if not groups:
            out.append('<p class="small">none</p>')
            continue
        cols = ["case", "mode", "placement", "repro"] + ([] if sub["worst_layer"].isna().all() else ["worst_layer"])
        rows = []
        for g in groups:
            c = g["cases"]
            varied = ("" if g["same"] else
                      ' <span class="small">(numbers differ between cases: # stands for them)</span>')
            listed = c[cols + (["message"] if not g["same"] else [])].head(GROUP_CASES_SHOWN)
            more = (f'<p class="small">… and {len(c) - GROUP_CASES_SHOWN} more in the case list below.</p>'
                    if len(c) > GROUP_CASES_SHOWN else "")
            rows.append(f'<tr><td class="count">{len(c)}</td><td>{esc(g["message"])}{varied}</td>'
                        f'<td>{esc(tables.spread(c["subject"]))}</td><td>{esc(tables.spread(c["mode"], 3))}</td>'
                        f'<td>{esc(tables.spread(c["placement"], 3))}</td>'
                        f"<td><details><summary>{len(c)} case{'s' if len(c) != 1 else ''}</summary>"
                        f"{table(listed, fold=False)}{more}</details></td></tr>")
        out.append('<table class="groups"><thead><tr><th>cases</th><th>message</th><th>ops / models</th>'
                   f"<th>modes</th><th>target / board</th><th>list</th></tr></thead><tbody>{''.join(rows)}"
                   "</tbody></table>")
    return "".join(out) + "</section>"


def _options(name: str, label: str, values) -> str:
    opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)} <select name="{name}"><option value="">all</option>{opts}</select></label>'


def _filters(df: pd.DataFrame) -> str:
    n = tables.outcome_counts(df)
    boxes = "".join(f'<label class="o-{o}"><input type="checkbox" name="outcome" value="{o}"'
                    f'{" checked" if o in CASES_SHOWN else ""}> {esc(OUTCOME_LABELS[o])} ({n[o]})</label>'
                    for o in OUTCOMES if n[o])
    ops = "".join(f'<option value="{esc(v)}">' for v in sorted(set(df["subject"])))
    return ('<form id="filters" role="search" onsubmit="return false">' + boxes
            + _options("target", "target", tables.ordered(df["target"], tables.TARGET_ORDER))
            + _options("board", "board", sorted(b for b in set(df["board"]) if isinstance(b, str)))
            + _options("mode", "mode", tables.ordered(df["mode"], tables.MODE_ORDER))
            + _options("family", "family", sorted(set(df["family"])))
            + '<label>op / model / case <input type="search" name="op" list="subjects" size="16"></label>'
            f'<datalist id="subjects">{ops}</datalist>'
            '<input type="reset" value="reset"> <span class="small">showing <span id="shown">'
            f'{sum(n[o] for o in CASES_SHOWN)} of {len(df)}</span> cases</span></form>')


# Outcomes the case list shows before any filter is touched: what needs a look. The rest
# (thousands of passes, the expected "not supported") is folded, and counted on its box.
CASES_SHOWN = ("failed", "error", "xfail")


def _all_cases(df: pd.DataFrame) -> str:
    d = df.assign(rank=df["target"].map({t: i for i, t in enumerate(tables.TARGET_ORDER)}).fillna(9),
                  kind_rank=(df["kind"] == "model").astype(int),
                  mode_rank=df["mode"].map({m: i for i, m in enumerate(tables.MODE_ORDER)}).fillna(99))
    d = d.sort_values(["rank", "target", "kind_rank", "subject", "mode_rank", "mode", "placement", "case"])
    rows, seen = [], set()
    for r in d.to_dict("records"):
        anchor = cell_id(r["target"], r["subject"], r["mode"])
        ident = f' id="{anchor}"' if anchor not in seen else ""
        seen.add(anchor)
        board = r["board"] if isinstance(r["board"], str) else ""
        o = r["outcome"]
        hidden = "" if o in CASES_SHOWN else " hidden"
        rows.append(f'<tr{ident} data-o="{o}" data-t="{esc(r["target"])}" data-b="{esc(board)}" '
                    f'data-m="{esc(r["mode"])}" data-f="{esc(r["family"])}" data-s="{esc(r["subject"])}" '
                    f'data-c="{esc(r["case"])}"{hidden}>'
                    + "".join(f"<td>{esc(r[c])}</td>" for c in ("placement", "subject", "mode", "case"))
                    + f'<td class="o-{o}" title="{esc(OUTCOME_LABELS[o])}">{OUTCOME_SYMBOLS[o]} {OUTCOME_WORDS[o]}</td>'
                    f'<td class="num">{fmt(r["metrics.cosine"], 6)}</td><td class="num">{fmt(r["latency_ms"], 2)}</td>'
                    f'<td class="msg">{esc(r["message"])}</td></tr>')
    folded = [f"{n} {OUTCOME_LABELS[o]}" for o, n in tables.outcome_counts(df).items() if n and o not in CASES_SHOWN]
    return ('<section id="cases"><h2>All cases</h2><p class="small">'
            + (f"Folded to start with: {esc(', '.join(folded))} (the groups above sum them up); tick an outcome "
               "to list its cases. " if folded else "")
            + "Filter by outcome, target, "
            "board, mode, op family or op/model/case name; a matrix cell's link shows that cell's cases. "
            "The address can carry filters too, e.g. <code>index.html?outcome=failed&amp;mode=w8a8</code>. "
            "A message shows in full when the pointer is on its row.</p>"
            + _filters(df)
            + '<table id="case-table"><colgroup><col style="width:12.5em"><col style="width:10em">'
            '<col style="width:13em"><col style="width:17em"><col style="width:6.5em"><col style="width:6.5em">'
            '<col style="width:4.5em"><col>'
            "</colgroup><thead><tr><th>target / board</th><th>op / model</th><th>mode</th><th>case</th>"
            "<th>outcome</th><th>cosine</th><th>ms</th><th>message</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></section>")
