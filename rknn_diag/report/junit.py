"""junit.xml: one <testsuite> per target. Failures (product), errors (infrastructure)
and skips are kept apart; an expected failure (vendor finding, not supported) is a
skip whose message gives the reason, so CI shows it without going red."""

from __future__ import annotations

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
                      skipped=int(sub.outcome.isin(["xfail", "unsupported", "skipped"]).sum()))
        suite = ET.SubElement(root, "testsuite", name=target, **{k: str(v) for k, v in counts.items()},
                              time=f"{sub['duration'].sum():.3f}")
        for k in totals:
            totals[k] += counts[k]
        for r in sub.to_dict("records"):
            name = f"{r['case']}[{r['mode']}]" + (f"[{r['board']}]" if isinstance(r["board"], str) else "")
            tc = ET.SubElement(suite, "testcase", classname=f"{target}.{r['subject']}", name=name,
                               time=f"{r['duration']:.3f}")
            msg = r["message"] or ""
            body = msg + (f"\nreproduce: {r['repro']}" if r["repro"] else "")
            if r["outcome"] == "failed":
                ET.SubElement(tc, "failure", message=msg, type="product").text = body
            elif r["outcome"] == "error":
                ET.SubElement(tc, "error", message=msg, type="infrastructure").text = body
            elif r["outcome"] in ("xfail", "unsupported"):
                why = "known vendor finding" if r["outcome"] == "xfail" else "not supported"
                ET.SubElement(tc, "skipped", message=f"expected failure ({why}): {msg}", type="xfail")
            elif r["outcome"] == "skipped":
                ET.SubElement(tc, "skipped", message=msg or "skipped")
            if r["status"] == "xpass":
                ET.SubElement(tc, "system-out").text = "unexpectedly passed (xpass): " + msg
    root.attrib.update({k: str(v) for k, v in totals.items()})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
