"""The page in a real browser: headless Chromium renders the headline and the matrix,
logs nothing to the console, and the screenshot is a real picture of it.

Needs Debian's `chromium` (apt-get install -y chromium); set RKNN_DIAG_CHROMIUM to use
another binary. Without it these tests FAIL: the browser check is part of the suite.
"""

from __future__ import annotations

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
