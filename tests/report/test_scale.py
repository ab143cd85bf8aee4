"""The report of a full run (7 000+ cases) stays readable: messages grouped with counts,
passed cases folded, filters for every dimension, every mode of the zoo, the matrix
tiled by op family, quoted text escaped in HTML and Markdown, JUnit properties."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from markdown_it import MarkdownIt

from fixtures.results import FULL_MODELS, HOSTILE_MESSAGE, NON_FINITE
from rknn_diag.qrules.schemes import MODES as QUANT_MODES
from rknn_diag.report import charts, data, tables


@pytest.fixture(scope="module")
def page(full_run):
    return (full_run["out"] / "index.html").read_text(encoding="utf-8")


def section(page: str, name: str) -> str:
    return re.search(rf'<section id="{name}">(.*?)</section>', page, re.S).group(1)


def test_the_run_is_full_size(full_run):
    assert len(full_run["df"]) >= 7000 and full_run["rc"] == 1  # it has product failures


# --- grouping ---------------------------------------------------------------------------------

def test_message_key_sets_numbers_aside_but_not_names_or_versions():
    k = tables.message_key
    assert k("cosine 0.8527 below 0.95 at (0, 3)") == k("cosine 0.9004  below 0.95 at (1, 12)")
    assert k("w8a8 on toolkit 2.3.0") != k("w8a16 on toolkit 2.3.0")
    assert k("toolkit 2.3.0 rejects it") != k("toolkit 2.4.0 rejects it")


def test_identical_messages_form_one_group_with_their_count(full_run, page):
    written = Counter(r.message for r in full_run["results"] if r.status != "passed")
    groups = tables.message_groups(full_run["df"][full_run["df"]["outcome"] == "unsupported"])
    non_finite = [g for g in groups if g["message"] == NON_FINITE]
    assert len(non_finite) == 1 and non_finite[0]["same"]
    assert non_finite[0]["count"] == written[NON_FINITE] > 500
    # on the page: that message once in the groups table, beside its count
    fails = section(page, "failures")
    assert fails.count(html.escape(NON_FINITE)) == 1
    assert re.search(rf'<td class="count">{written[NON_FINITE]}</td><td>{re.escape(html.escape(NON_FINITE))}<', fails)


def test_messages_differing_in_numbers_group_and_say_so(full_run, page):
    df = full_run["df"]
    conv = df[(df["outcome"] == "failed") & (df["subject"] == "Conv")]
    assert conv["message"].nunique() == len(conv) > 1          # every message differs (the cosine)
    groups = tables.message_groups(df[df["outcome"] == "failed"])
    g = next(g for g in groups if "conv_0" in g["message"])
    assert g["count"] == len(conv) and not g["same"] and "cosine # below" in g["message"]
    assert "numbers differ between cases" in section(page, "failures")


def test_group_counts_add_up_per_category(full_run):
    for title, sub in tables.failures(full_run["df"]).items():
        assert sum(g["count"] for g in tables.message_groups(sub)) == len(sub), title


# --- the case list: folded passes, filters ---------------------------------------------------

def case_rows(page: str) -> list[dict]:
    body = re.search(r'<table id="case-table">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = []
    for tag in re.findall(r"<tr\b[^>]*>", body):
        attrs = dict(re.findall(r'(data-\w+)="([^"]*)"', tag))
        attrs["hidden"] = bool(re.search(r"\shidden(=|\s|>)", tag))
        rows.append(attrs)
    return rows


def test_every_case_is_listed_and_passes_start_folded(full_run, page):
    rows = case_rows(page)
    df = full_run["df"]
    assert len(rows) == len(df)
    shown = Counter(r["data-o"] for r in rows if not r["hidden"])
    assert set(shown) == {"failed", "error", "xfail"}
    for o in ("failed", "error", "xfail"):
        assert shown[o] == (df["outcome"] == o).sum()
    assert all(r["hidden"] for r in rows if r["data-o"] in ("passed", "unsupported", "skipped"))


def test_filters_cover_outcome_op_mode_target_board_and_family(full_run, page):
    df = full_run["df"]
    form = re.search(r'<form id="filters".*?</form>', page, re.S).group(0)
    counts = tables.outcome_counts(df)
    for o, n in counts.items():
        if n:
            assert re.search(rf'value="{o}"( checked)?> [^<]* \({n}\)</label>', form), o
    options = {name: re.findall(r'<option value="([^"]+)">', sel)
               for name, sel in re.findall(r'<select name="(\w+)">(.*?)</select>', form, re.S)}
    assert set(options["target"]) == set(df["target"])
    assert set(options["board"]) == {b for b in df["board"] if isinstance(b, str)}
    assert set(options["mode"]) == set(df["mode"]) == {"float16", *QUANT_MODES}
    assert set(options["family"]) == set(df["family"])
    assert re.search(r'<input type="search" name="op" list="subjects"', form)
    ops_listed = set(re.findall(r'<option value="([^"]+)">', re.search(r'<datalist id="subjects">(.*?)</datalist>',
                                                                      form, re.S).group(1)))
    assert ops_listed == set(df["subject"])
    # the rows carry what the filters compare
    rows = case_rows(page)
    assert {r["data-f"] for r in rows} == set(df["family"]) and {r["data-m"] for r in rows} == set(df["mode"])


# --- tables and matrix at scale ---------------------------------------------------------------

def test_quantized_zoo_cases_are_model_cases():
    rec = {"case": "quant/zoo/resnet18_like/w8a8", "op": "model", "mode": "w8a8", "model": None}
    assert data.model_name(rec) == "resnet18_like"
    rec = {"case": "quant/zoo/mnv2/accuracy_analysis", "op": "model", "mode": "asymmetric_quantized-u8"}
    assert data.model_name(rec) == "mnv2 (accuracy_analysis)"
    assert data.model_name({"case": "ops/Conv/a/float16/nchw", "op": "Conv"}) is None


def test_zoo_table_has_every_model_in_every_mode(full_run, page):
    zoo = section(page, "zoo")
    for model in FULL_MODELS:
        block = re.search(rf"<th rowspan=\"(\d+)\">{model}</th>", zoo)
        assert block and int(block.group(1)) == 1 + len(QUANT_MODES), model
    for mode in ("float16", *QUANT_MODES):
        assert zoo.count(f'<td class="nowrap">{mode}</td>') == len(FULL_MODELS)


def test_matrix_is_tiled_by_family_and_folds_clean_families(full_run, page):
    df = full_run["df"]
    matrix = section(page, "matrix")
    sim = re.search(r'<div class="matrix-target" data-target="simulator">(.*?)</div></div>', matrix, re.S).group(1)
    tiles = dict(re.findall(r'<details class="tile" data-family="([^"]+)"( open)?>', sim))
    ops = df[(df["target"] == "simulator") & (df["kind"] == "op")]
    assert set(tiles) == set(ops["family"])
    bad = set(ops.loc[ops["outcome"].isin(["failed", "error"]), "family"])
    assert bad and {f for f, is_open in tiles.items() if is_open} == bad
    # a target shows only the modes it ran: the boards ran float16 alone
    board = re.search(r'<div class="matrix-target" data-target="board">(.*?)</div></div>', matrix, re.S).group(1)
    heads = set(re.findall(r'<abbr title="([^"]+)">', board))
    assert heads == {"float16"}


def test_accuracy_chart_puts_each_mode_on_its_own_row(full_run):
    if not charts.available():
        pytest.fail("matplotlib is part of the test extra")
    df = full_run["df"]
    modes = tables.ordered(df["mode"], tables.MODE_ORDER)
    svg = charts.accuracy(df, modes, {})
    labels = {}
    for attrs, label in re.findall(r"<text ([^>]*)>([^<]+)</text>", svg):
        if label in modes and "text-anchor: end" in attrs:
            labels[label] = float(re.search(r'\by="([-\d.]+)"', attrs).group(1))
    assert set(labels) == set(modes)
    ys = sorted(labels.values())
    font = 8 * 1.0  # the tick labels' size in px
    assert min(b - a for a, b in zip(ys, ys[1:])) > 1.5 * font   # no two mode labels overlap


# --- escaping ---------------------------------------------------------------------------------

def test_html_shows_a_hostile_message_as_text(page):
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_MESSAGE, quote=False) in page or html.escape(HOSTILE_MESSAGE) in page
    assert len(re.findall(r"<script", page, re.I)) == 1          # only the page's own


def test_summary_md_escapes_what_it_quotes(full_run):
    md = (full_run["out"] / "summary.md").read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    # rendered with raw HTML allowed, as GitHub would: no tag from a message survives
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in rendered
    line = next(ln for ln in rendered.splitlines() if "pwned" in ln).split("</strong>", 1)[1]  # after the count
    assert "<strong>" not in line and "<code>backticks</code>" not in line   # no formatting either
    assert "**stars**" in line and "`backticks`" in line and "| a pipe" in line


def test_summary_md_groups_by_message(full_run):
    md = (full_run["out"] / "summary.md").read_text(encoding="utf-8")
    errors = (full_run["df"]["outcome"] == "error").sum()
    assert f"## Infrastructure errors ({errors} in 1 group by message)" in md
    assert re.search(rf"^- \*\*{errors}×\*\* TargetError: adb device", md, re.M)
    assert len(md.splitlines()) < 150   # a summary, at any run size


def test_markdown_code_span_holds_backticks():
    from rknn_diag.report.markdown import code
    rendered = MarkdownIt("commonmark").renderInline(code("a `b` <c>"))
    assert rendered == "<code>a `b` &lt;c&gt;</code>"


# --- JUnit ------------------------------------------------------------------------------------

def test_junit_carries_metrics_latency_board_and_versions(full_run):
    df = full_run["df"]
    root = ET.parse(full_run["out"] / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    board = suites["board"]
    suite_props = {p.get("name"): p.get("value") for p in board.find("properties")}
    assert suite_props["boards"] == "rk3566-3d4e5f, rk3588-0a1b2c"
    assert suite_props["version.firmware"] == "1.5.2, 1.6.0" and suite_props["version.toolkit"] == "2.3.0"
    r = df[(df["target"] == "board") & df["latency_ms"].notna() & df["metrics.cosine"].notna()].iloc[0]
    name = f"{r['case']}[{r['mode']}][{r['board']}]"
    tc = next(t for t in board.findall("testcase") if t.get("name") == name)
    props = {p.get("name"): p.get("value") for p in tc.find("properties")}
    assert float(props["metric.cosine"]) == pytest.approx(r["metrics.cosine"], rel=1e-6)
    assert float(props["metric.max_abs"]) == pytest.approx(r["metrics.max_abs"], rel=1e-5)
    assert float(props["latency_ms"]) == pytest.approx(r["latency_ms"], rel=1e-5)
    assert props["board"] == r["board"] and props["mode"] == r["mode"]
    assert props["version.firmware"] == r["versions.firmware"]   # differs between the boards: said per case
    assert "version.toolkit" not in props                         # the same for all: said on the suite
    # a case with nothing measured carries no empty property
    err = next(t for t in board.findall("testcase") if t.find("error") is not None)
    assert all(p.get("value") for p in err.iter("property")) and "metric.cosine" not in {
        p.get("name") for p in err.iter("property")}
