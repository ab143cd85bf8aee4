"""The page in a real browser: headless Chromium renders the headline and the matrix,
logs nothing to the console, and the screenshot is a real picture of it.

Needs Debian's `chromium` (apt-get install -y chromium); set RKNN_DIAG_CHROMIUM to use
another binary. Without it these tests FAIL: the browser check is part of the suite.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageStat

from rknn_diag.report import cli

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # no network at all: any name lookup fails, so a stray external asset cannot load
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r"CONSOLE|Uncaught|net::ERR_")


def chromium() -> str:
    exe = os.environ.get("RKNN_DIAG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed: the report's browser test needs it. Install it with "
                    "`apt-get update && apt-get install -y chromium` (as root), or set RKNN_DIAG_CHROMIUM "
                    "to a Chromium binary.")
    return exe


def run_chromium(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                              capture_output=True, text=True, timeout=120)


def console_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if CONSOLE.search(ln)]


@pytest.fixture(scope="module")
def failing_page(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    assert cli.main([str(runs["current"]), "--baseline", str(runs["baseline"]), "-o", str(out)]) == 1
    return out / "index.html"


def test_rendered_dom_has_headline_and_matrix_and_no_console_errors(failing_page):
    proc = run_chromium(failing_page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert re.search(r'id="verdict"[^>]*>\s*Quality gate: FAIL', dom)
    assert '<section id="headline"' in dom and '<table id="counts"' in dom
    matrices = re.findall(r'<div class="matrix-target" data-target="([^"]+)"', dom)
    assert matrices == ["simulator", "toolkit2", "board"]
    assert re.search(r'<td class="o-failed"><a [^>]*>✗ \d+/\d+</a>', dom)  # a failing cell, as the browser decoded it
    assert console_lines(proc.stderr) == []


def test_screenshot_is_a_picture_of_the_page(failing_page, tmp_path):
    png = tmp_path / "report.png"
    proc = run_chromium(failing_page, f"--screenshot={png}", "--window-size=1280,2000", "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.is_file() and png.stat().st_size > 10_000
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 2000)
    # Not blank: the pixels vary, and the red FAIL banner at the top is there.
    assert max(hi - lo for lo, hi in ImageStat.Stat(img).extrema) > 100
    top = img.crop((0, 0, 1280, 400))
    px = np.asarray(top, dtype=np.int16)
    fail_red = int((np.abs(px - np.array([0xF6, 0xB3, 0xB3])).max(axis=2) < 6).sum())
    assert fail_red > 5_000, "the FAIL verdict banner is not on the first screen"
    shutil.copy(png, failing_page.parent / "screenshot.png")  # kept beside the report for a human look


def test_console_scan_catches_a_broken_page(tmp_path):
    # The scan above must be able to fail: a page that logs and throws is caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><h1>x</h1><script>console.error("boom"); nope();</script></body></html>')
    proc = run_chromium(bad, "--dump-dom")
    found = console_lines(proc.stderr)
    assert any("boom" in ln for ln in found) and any("nope" in ln for ln in found)


def test_missing_chromium_fails_saying_how_to_install(monkeypatch):
    monkeypatch.delenv("RKNN_DIAG_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium()


def test_page_prints_to_pdf(failing_page, tmp_path):
    pdf = tmp_path / "report.pdf"
    proc = run_chromium(failing_page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", body))
    assert pages >= 3  # the whole report, not just the first screen


# --- a full run (7 000+ cases): readable, and its filters work in the browser -----------------

def visible_rows(dom: str) -> list[dict]:
    """The case-list rows the browser shows after the page's script ran."""
    body = re.search(r'<table id="case-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    out = []
    for tag in re.findall(r"<tr\b[^>]*>", body):
        if re.search(r"\shidden(=|\s|>)", tag):
            continue
        out.append(dict(re.findall(r'data-(\w+)="([^"]*)"', tag)))
    return out


def test_full_run_page_renders_without_console_errors(full_run, tmp_path):
    page = full_run["out"] / "index.html"
    proc = run_chromium(page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_lines(proc.stderr) == []      # the filter script ran on 7 000 rows without an error
    df = full_run["df"]
    shown = visible_rows(proc.stdout)
    assert len(shown) == df["outcome"].isin(["failed", "error", "xfail"]).sum()
    assert re.search(rf'<span id="shown">{len(shown)} of {len(df)}</span>', proc.stdout)


@pytest.mark.parametrize("query,want", [
    ("outcome=failed&mode=w4a16", lambda d: (d["outcome"] == "failed") & (d["mode"] == "w4a16")),
    ("outcome=all&target=board&board=rk3588-0a1b2c",
     lambda d: (d["target"] == "board") & (d["board"] == "rk3588-0a1b2c")),
    ("outcome=passed,unsupported&op=conv&mode=w8a8",     # an op name matches that op only, not ConvTranspose
     lambda d: d["outcome"].isin(["passed", "unsupported"]) & (d["subject"] == "Conv") & (d["mode"] == "w8a8")),
    ("outcome=all&family=pool&target=toolkit2", lambda d: (d["family"] == "pool") & (d["target"] == "toolkit2")),
])
def test_filters_from_the_address_show_exactly_the_matching_cases(full_run, query, want):
    df = full_run["df"]
    proc = run_chromium_url((full_run["out"] / "index.html").as_uri() + "?" + query, "--dump-dom")
    assert proc.returncode == 0 and console_lines(proc.stderr) == []
    shown = visible_rows(proc.stdout)
    expected = df[want(df)]
    assert len(expected) > 0
    assert sorted((r["t"], r["b"], r["c"], r["m"]) for r in shown) == sorted(
        (t, b if isinstance(b, str) else "", c, m)
        for t, b, c, m in zip(expected["target"], expected["board"], expected["case"], expected["mode"]))


def test_a_matrix_link_shows_that_cells_cases(full_run):
    df = full_run["df"]
    page = (full_run["out"] / "index.html").read_text(encoding="utf-8")
    anchor = re.search(r'<td class="o-failed"><a href="#(cases-simulator-Conv-[^"]+)"', page).group(1)
    proc = run_chromium_url((full_run["out"] / "index.html").as_uri() + "#" + anchor, "--dump-dom")
    shown = visible_rows(proc.stdout)
    mode = anchor.split("-Conv-", 1)[1]
    cell = df[(df["target"] == "simulator") & (df["subject"] == "Conv") & (df["mode"] == mode)]
    assert len(shown) == len(cell) > 1 and {r["o"] for r in shown} == set(cell["outcome"]) >= {"passed", "failed"}


def test_full_run_screenshot_is_readable(full_run):
    png = full_run["out"] / "screenshot.png"
    proc = run_chromium(full_run["out"] / "index.html", f"--screenshot={png}", "--window-size=1400,2000",
                        "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    img = Image.open(png).convert("RGB")
    assert img.size == (1400, 2000)
    px = np.asarray(img, dtype=np.int16)
    fail_red = int((np.abs(px[:400] - np.array([0xF6, 0xB3, 0xB3])).max(axis=2) < 6).sum())
    assert fail_red > 5_000, "the FAIL verdict banner is not on the first screen"


# The report in a 1 400 px frame of a harness page that clicks its controls like a user and
# writes what it sees into its own DOM (Chromium lets file pages reach each other only with
# --allow-file-access-from-files).
HARNESS = """<!DOCTYPE html><html><body><iframe id="f" src="%s" style="width:1400px;height:900px;border:0"></iframe>
<pre id="out">not run</pre><script>
document.getElementById('f').addEventListener('load', function () {
  var d = this.contentDocument, steps = {};
  function count() { return d.querySelectorAll('#case-table > tbody > tr:not([hidden])').length; }
  function fire(el, type) { el.dispatchEvent(new Event(type, {bubbles: true})); }
  try {
    steps.start = count();
    steps.width = [d.documentElement.scrollWidth, d.documentElement.clientWidth];
    steps.height = d.documentElement.scrollHeight;
    d.querySelector('input[name=outcome][value=passed]').click();
    steps.with_passed = count();
    var mode = d.querySelector('select[name=mode]'); mode.value = 'w8a8'; fire(mode, 'change');
    steps.w8a8 = count();
    var op = d.querySelector('input[name=op]'); op.value = 'MatMul'; fire(op, 'input');
    steps.w8a8_matmul = count();
    steps.label = d.getElementById('shown').textContent;
    d.querySelector('#filters input[type=reset]').click();
    setTimeout(function () {
      steps.after_reset = count();
      document.getElementById('out').textContent = JSON.stringify(steps);
    }, 50);
  } catch (e) { document.getElementById('out').textContent = 'ERROR ' + e; }
});
</script></body></html>"""


def test_clicking_the_filters_in_a_browser(full_run, tmp_path):
    import json
    df = full_run["df"]
    harness = tmp_path / "harness.html"
    harness.write_text(HARNESS % (full_run["out"] / "index.html").as_uri(), encoding="utf-8")
    proc = run_chromium(harness, "--allow-file-access-from-files", "--window-size=1500,1000",
                        "--virtual-time-budget=5000", "--dump-dom")
    assert proc.returncode == 0 and console_lines(proc.stderr) == []
    out = re.search(r'<pre id="out">([^<]*)</pre>', proc.stdout).group(1)
    steps = json.loads(html.unescape(out))
    first = df["outcome"].isin(["failed", "error", "xfail"])
    with_passed = first | (df["outcome"] == "passed")
    assert steps["start"] == first.sum()
    assert steps["with_passed"] == with_passed.sum()
    assert steps["w8a8"] == (with_passed & (df["mode"] == "w8a8")).sum()
    assert steps["w8a8_matmul"] == (with_passed & (df["mode"] == "w8a8") & (df["subject"] == "MatMul")).sum() > 0
    assert steps["label"] == f"{steps['w8a8_matmul']} of {len(df)}"
    assert steps["after_reset"] == steps["start"]
    # readable at this size: nothing wider than the window, and the page far from the 207 000 px
    # of the unfolded report (measured: ~11 000 px for 7 700 cases)
    assert steps["width"][0] <= steps["width"][1]
    assert steps["height"] < 25_000, steps["height"]


def run_chromium_url(url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=120)
