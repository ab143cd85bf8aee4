"""The files the report writes: JUnit, CSV, Markdown, and a self-contained HTML page."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from rknn_diag.report import cli, data, markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    env = out / "env.txt"
    env.write_text("rknn-doctor report\nhost: ci-runner-7 <x86_64>\n\x1b[32mOK\x1b[0m python: 3.11\n")
    rc = cli.main([str(runs["failing"]), "--environment", str(env), "-o", str(out)])
    return out, rc, data.load([runs["failing"]])


def test_junit_keeps_failures_errors_and_skips_apart(report):
    out, _, df = report
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"simulator", "toolkit2", "board"}
    for target, suite in suites.items():
        sub = df[df["target"] == target]
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases) == len(sub)
        n = {tag: sum(1 for c in cases if c.find(tag) is not None) for tag in ("failure", "error", "skipped")}
        assert n["failure"] == int(suite.get("failures")) == (sub.outcome == "failed").sum()
        assert n["error"] == int(suite.get("errors")) == (sub.outcome == "error").sum()
        assert n["skipped"] == int(suite.get("skipped")) == sub.outcome.isin(["xfail", "unsupported", "skipped"]).sum()
        assert all(sum(c.find(t) is not None for t in ("failure", "error", "skipped")) <= 1 for c in cases)
    # an expected failure is a skip carrying its reason
    vendor = df[df.outcome == "xfail"].iloc[0]
    skips = [s.get("message") for s in root.iter("skipped")]
    assert any(m.startswith("expected failure (known vendor finding)") and vendor["message"] in m for m in skips)
    # a failure carries the repro command
    assert any("reproduce: python -m pytest" in (f.text or "") for f in root.iter("failure"))
    assert int(root.get("tests")) == len(df)


def test_csv_is_the_flat_table(report):
    out, _, df = report
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(df)
    for col in ("case", "status", "target", "mode", "board", "outcome", "metrics.cosine", "metrics.sqnr_db",
                "metrics.top1", "latency_ms", "versions.firmware", "repro"):
        assert col in csv.columns
    assert (csv["outcome"] == "failed").sum() == (df["outcome"] == "failed").sum()


def test_summary_md_has_verdict_counts_and_repro(report):
    out, rc, df = report
    md = (out / "summary.md").read_text()
    assert rc == 1 and md.startswith("# Release qualification report: FAIL")
    assert "failures.max_product" in md
    failed = df[df.outcome == "failed"].iloc[0]
    assert failed["repro"] in md
    assert f"worst layer: {markdown.text(failed['worst_layer'])}" in md
    assert not re.search(r"\bnan\b|\bNone\b", md)   # absent values stay absent


def test_html_is_self_contained(report):
    out, _, _ = report
    page = (out / "index.html").read_text()
    # one inline script (the case-list filters), nothing loaded from anywhere
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S | re.I)
    assert len(scripts) == 1 and scripts[0][0].strip() == ""
    assert not re.search(r"fetch\(|XMLHttpRequest|import\(|https?:|//[a-z]", scripts[0][1])
    assert "<link" not in page.lower() and "@import" not in page
    # every src/href stays inside the page
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page)
    outside = [r[:40] for r in refs if not r.startswith(("#", "data:image/"))]
    assert refs and outside == []
    assert not re.search(r"url\(\s*['\"]?(?!#|data:)", page)
    # every in-page link (matrix cells, SVG parts) lands on an anchor
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    assert {r[1:] for r in refs if r.startswith("#")} <= ids


def test_html_shows_each_part_of_the_issue(report, runs):
    out, _, df = report
    page = (out / "index.html").read_text()
    for section in ("headline", "gate", "environment", "matrix", "accuracy", "zoo", "performance", "failures"):
        assert f'<section id="{section}"' in page
    assert "ci-runner-7 &lt;x86_64&gt;" in page             # the environment file, escaped
    assert "OK python: 3.11" in page and "\x1b" not in page  # terminal colours stripped
    for serial, facts in __import__("fixtures.results", fromlist=["BOARDS"]).BOARDS.items():
        assert serial in page and facts["chip"] in page and facts["firmware"] in page
    assert re.findall(r'<div class="matrix-target" data-target="([^"]+)"', page) == ["simulator", "toolkit2", "board"]
    assert "conv_0/requant" in page                          # the worst layer of the product failure
    assert page.count("<svg") >= 3                           # accuracy, zoo latency, board latency
    assert not re.search(r">\s*(nan|None|NaN)\s*<", page)   # absent values are shown empty


def test_without_matplotlib_charts_become_tables_with_a_note(runs, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    rc = cli.main([str(runs["clean"]), "-o", str(tmp_path)])
    page = (tmp_path / "index.html").read_text()
    assert rc == 0 and "<svg" not in page
    assert "matplotlib is not installed" in page
    assert "Distribution per mode" in page and "median (ms)" in page


def test_command_line_wiring_and_stderr(runs, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rknn_diag.cli", "report", str(runs["clean"]), "-o", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "quality gate: PASS" in proc.stderr
    assert (tmp_path / "index.html").is_file()


def test_missing_results_file_is_named_and_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "absent.jsonl"), "-o", str(out)]) == 2
    assert "absent.jsonl" in capsys.readouterr().err and not out.exists()


def test_unreadable_environment_file_is_named(runs, tmp_path, capsys):
    assert cli.main([str(runs["clean"]), "--environment", str(tmp_path / "env.txt"), "-o", str(tmp_path / "o")]) == 2
    assert "env.txt" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_matrix_cells_show_the_most_alarming_outcome(report):
    from rknn_diag.report import tables
    _, _, df = report
    sim, tk2, board = (tables.matrix(df, t) for t in ("simulator", "toolkit2", "board"))
    # planted by fixtures.results: Conv/b fails in w8a8, Conv/a passes -> the cell is failed, 1 of 2 passed
    assert sim.loc["Conv", "w8a8"][:3] == ("failed", 1, 2)
    assert tk2.loc["Resize", "dynamic_fixed_point-i16"][0] == "xfail"
    assert board.loc["Softmax", "dynamic_fixed_point-i16"][0] == "unsupported"
    assert board.loc["Concat", "float16"][0] == "error"
    assert tk2.loc["MatMul", "w8a8"] == ("passed", 1, 2, 1)   # one case skipped: counted, not hidden
    assert sim.loc["Add", "float16"] == ("passed", 2, 2, 0)


def test_cell_links_reach_the_cases_of_that_cell(report):
    out, _, _ = report
    page = (out / "index.html").read_text()
    anchor = re.search(r'<table class="matrix" data-target="simulator".*?href="#([^"]*Conv-w8a8)"', page, re.S).group(1)
    row = re.search(rf'<tr id="{anchor}"[^>]*>(.*?)</tr>', page).group(1)
    assert "simulator" in row and "Conv" in row and "w8a8" in row
