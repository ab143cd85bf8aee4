"""summary.md: the verdict, the counts and what to look at, for a PR comment or a CI summary."""

from __future__ import annotations

import pandas as pd

from . import tables
from .data import OUTCOME_LABELS, OUTCOMES
from .html_page import Page

LIST_MAX = 20  # cases listed per group: a summary, not the report


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(df: pd.DataFrame, index_name: str | None = None) -> str:
    cols = ([index_name] if index_name else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        vals = ([idx] if index_name else []) + list(row)
        lines.append("| " + " | ".join(_cell(v) for v in vals) + " |")
    return "\n".join(lines)


def render(p: Page) -> str:
    out = [f"# Release qualification report: {'PASS' if p.passed else 'FAIL'}", ""]
    failed = [r for r in p.rules if r.passed is False]
    if failed:
        out += ["Quality gate rules not met:", ""]
        out += [f"- **{r.rule}**: {r.title} — {r.detail}" for r in failed]
        out.append("")
    if p.diff is not None:
        d = p.diff
        out += ["## Against the baseline", "",
                f"- new failures: {len(d.new_failures)}", f"- new infrastructure errors: {len(d.new_errors)}",
                f"- fixed: {len(d.fixed)}",
                f"- accuracy moved by more than {p.gate.baseline['cosine_drop']:g} cosine: "
                f"{len(d.accuracy_moved)} ({len(d.accuracy_drops)} worse)",
                f"- latency regressions: {len(d.latency_regressions)}", ""]
        for title, sub in (("New failures", d.new_failures), ("Fixed", d.fixed),
                           ("Accuracy drops", d.accuracy_drops), ("Latency regressions", d.latency_regressions)):
            for r in sub.head(LIST_MAX).to_dict("records"):
                out.append(f"- {title}: `{r['case']}` [{r['mode']}] on {r['target']}"
                           + (f" {r['board']}" if isinstance(r["board"], str) else ""))
            if len(sub) > LIST_MAX:
                out.append(f"- {title}: … and {len(sub) - LIST_MAX} more: see index.html")
        out.append("")
    c = tables.counts(p.df).rename(columns=OUTCOME_LABELS)
    out += ["## Outcomes per target", "", _table(c, "target"), ""]
    groups = tables.failures(p.df)
    for title in ("Product failures", "Infrastructure errors"):
        sub = groups[title]
        if len(sub):
            out += [f"## {title} ({len(sub)})", ""]
            for r in sub.head(LIST_MAX).to_dict("records"):
                out.append(f"- `{r['case']}` [{r['mode']}] on {r['placement']}: {_cell(r['message'])}"
                           + (f" (worst layer: {r['worst_layer']})" if isinstance(r["worst_layer"], str) else ""))
                if isinstance(r["repro"], str) and r["repro"]:
                    out.append(f"  - reproduce: `{r['repro']}`")
            if len(sub) > LIST_MAX:
                out.append(f"- … and {len(sub) - LIST_MAX} more: see index.html")
            out.append("")
    out += [f"Gate: {p.gate.source}. Full report: index.html. Outcomes: "
            + ", ".join(OUTCOME_LABELS[o] for o in OUTCOMES) + ".", ""]
    return "\n".join(out)
