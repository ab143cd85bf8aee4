"""junit.xml: one <testsuite> per target. Failures (product), errors (infrastructure)
and skips are kept apart; an expected failure (vendor finding, not supported) is a
skip whose message gives the reason, so CI shows it without going red.

Properties (the `<properties><property name= value=/>` form pytest and CI tools read):
each suite carries the versions its cases recorded (`version.<name>`, one value, or the
distinct values joined by ', ') and its boards; each case its mode, board, outcome, its
metrics (`metric.<name>`: cosine, max_abs, sqnr_db ...), latency_ms, and the versions that
differ between the cases of its suite."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pandas as pd

from . import tables


def render(df: pd.DataFrame) -> bytes:
    root = ET.Element("testsuites", name="rknn_diag qualification")
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    for target in tables.ordered(df["target"], tables.TARGET_ORDER):
        sub = df[df["target"] == target]
        counts = dict(tests=len(sub), failures=int((sub.outcome == "failed").sum()),
                      errors=int((sub.outcome == "error").sum()),
                      skipped=int(sub.outcome.isin(["xfail", "unsupported", "exempt", "skipped"]).sum()))
        suite = ET.SubElement(root, "testsuite", name=target, **{k: str(v) for k, v in counts.items()},
                              time=f"{sub['duration'].sum():.3f}")
        for k in totals:
            totals[k] += counts[k]
        _suite_properties(suite, sub)
        mcols = [c for c in df.columns if c.startswith("metrics.")]
        # versions the whole suite shares are said once, on the suite; a case repeats only
        # those that differ between its suite's cases (two boards, two firmwares)
        vcols = [c for c in df.columns if c.startswith("versions.") and sub[c].dropna().nunique() > 1]
        for r in sub.to_dict("records"):
            name = f"{r['case']}[{r['mode']}]" + (f"[{r['board']}]" if isinstance(r["board"], str) else "")
            tc = ET.SubElement(suite, "testcase", classname=f"{target}.{r['subject']}", name=name,
                               time=f"{r['duration']:.3f}")
            _properties(tc, [("mode", r["mode"]), ("board", r["board"]), ("outcome", r["outcome"]),
                             *((f"metric.{c[len('metrics.'):]}", r[c]) for c in mcols),
                             ("latency_ms", r["latency_ms"]),
                             *((f"version.{c[len('versions.'):]}", r[c]) for c in vcols)])
            msg = r["message"] or ""
            body = msg + (f"\nreproduce: {r['repro']}" if r["repro"] else "")
            if r["outcome"] == "failed":
                ET.SubElement(tc, "failure", message=msg, type="product").text = body
            elif r["outcome"] == "error":
                ET.SubElement(tc, "error", message=msg, type="infrastructure").text = body
            elif r["outcome"] in ("xfail", "unsupported", "exempt"):
                why = "known vendor finding" if r["outcome"] == "xfail" else "not supported"
                ET.SubElement(tc, "skipped", message=f"expected failure ({why}): {msg}", type="xfail")
            elif r["outcome"] == "skipped":
                ET.SubElement(tc, "skipped", message=msg or "skipped")
            if r["status"] == "xpass":
                ET.SubElement(tc, "system-out").text = "unexpectedly passed (xpass): " + msg
    root.attrib.update({k: str(v) for k, v in totals.items()})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v != ""


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _properties(parent: ET.Element, pairs) -> None:
    """A <properties> block of the pairs that have a value (none: no block)."""
    pairs = [(k, v) for k, v in pairs if _present(v)]
    if pairs:
        props = ET.SubElement(parent, "properties")
        for k, v in pairs:
            ET.SubElement(props, "property", name=k, value=_value(v))


def _suite_properties(suite: ET.Element, sub: pd.DataFrame) -> None:
    boards = sorted({b for b in sub["board"] if isinstance(b, str) and b})
    pairs = [("boards", ", ".join(boards))] if boards else []
    for c in sorted(c for c in sub.columns if c.startswith("versions.")):
        values = sorted({str(v) for v in sub[c] if _present(v)})
        if values:
            pairs.append((f"version.{c[len('versions.'):]}", ", ".join(values)))
    _properties(suite, pairs)
