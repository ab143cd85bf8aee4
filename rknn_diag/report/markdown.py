"""summary.md: the verdict, the counts and what to look at, for a PR comment or a CI summary.

Everything quoted from the results (messages, case ids, boards) is escaped: a Markdown
renderer shows it as text, never as HTML or formatting (`text`, `code`). Cases that did
not pass are grouped by message, with counts, like the HTML page."""

from __future__ import annotations

import html
import re

import pandas as pd

from . import tables
from .data import OUTCOME_LABELS, OUTCOMES
from .html_page import Page

LIST_MAX = 20      # groups (or baseline cases) listed per section: a summary, not the report
EXAMPLES = 3       # case ids shown per group
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|~#!])")


def text(v) -> str:
    """Plain text for Markdown: one line, HTML-escaped (no tag survives), Markdown
    punctuation backslash-escaped (no emphasis, link or table cell break)."""
    one_line = " ".join(str("" if v is None else v).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def code(v) -> str:
    """A code span that holds any text: fenced with more backticks than it contains."""
    s = " ".join(str("" if v is None else v).split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(df: pd.DataFrame, index_name: str | None = None) -> str:
    cols = ([index_name] if index_name else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        vals = ([idx] if index_name else []) + list(row)
        lines.append("| " + " | ".join(text(v) for v in vals) + " |")
    return "\n".join(lines)


def _where(r) -> str:
    return text(r["target"]) + (f" {text(r['board'])}" if isinstance(r["board"], str) else "")


def render(p: Page) -> str:
    out = [f"# Release qualification report: {'PASS' if p.passed else 'FAIL'}", ""]
    failed = [r for r in p.rules if r.passed is False]
    if failed:
        out += ["Quality gate rules not met:", ""]
        out += [f"- {code(r.rule)}: {text(r.title)} — {text(r.detail)}" for r in failed]
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
                out.append(f"- {title}: {code(r['case'])} \\[{text(r['mode'])}\\] on {_where(r)}")
            if len(sub) > LIST_MAX:
                out.append(f"- {title}: … and {len(sub) - LIST_MAX} more: see index.html")
        out.append("")
    c = tables.counts(p.df).rename(columns=OUTCOME_LABELS)
    out += ["## Outcomes per target", "", _table(c, "target"), ""]
    groups = tables.failures(p.df)
    for title in ("Product failures", "Infrastructure errors", "Vendor findings (expected failures)"):
        sub = groups[title]
        if not len(sub):
            continue
        msg_groups = tables.message_groups(sub)
        out += [f"## {title} ({len(sub)} in {len(msg_groups)} group{'s' if len(msg_groups) != 1 else ''} "
                "by message)", ""]
        for g in msg_groups[:LIST_MAX]:
            cases = g["cases"]
            first = cases.iloc[0]
            shown = ", ".join(code(c) for c in cases["case"].head(EXAMPLES))
            more = f" and {len(cases) - EXAMPLES} more" if len(cases) > EXAMPLES else ""
            worst = tables.spread(cases["worst_layer"], 3)
            out.append(f"- **{len(cases)}×** {text(g['message'])}"
                       + ("" if g["same"] else " (numbers differ between cases)")
                       + f" — {text(tables.spread(cases['subject'], 4))};"
                       f" modes: {text(tables.spread(cases['mode'], 3))};"
                       f" on {text(tables.spread(cases['placement'], 3))}"
                       + (f"; worst layer: {text(worst)}" if worst else ""))
            out.append(f"  - cases: {shown}{more}")
            if isinstance(first["repro"], str) and first["repro"]:
                out.append(f"  - reproduce the first: {code(first['repro'])}")
        if len(msg_groups) > LIST_MAX:
            out.append(f"- … and {len(msg_groups) - LIST_MAX} more groups: see index.html")
        out.append("")
    out += [f"Gate: {text(p.gate.source)}. Full report: index.html. Outcomes: "
            + ", ".join(OUTCOME_LABELS[o] for o in OUTCOMES) + ".", ""]
    return "\n".join(out)
