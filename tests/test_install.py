"""A real install: the wheel (not editable) in a fresh virtual environment runs both CLI
commands from a folder outside the checkout, writes only under --out, and leaves no link or
file in the checkout. (The venv sees the system's numpy/onnx/... so nothing is downloaded.)"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, timeout=600):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RKNN_DIAG_RUN_ID")})
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"      # setuptools builds in-tree (build/, *.egg-info): build a copy, not the checkout
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".tox", ".hypothesis", "build", "*.egg-info", "reports", "__pycache__"))
    wheels = tmp / "wheels"
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 str(wheels), str(src)], cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels.glob("rknn_diag-*.whl")
    env = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], cwd=tmp).returncode == 0
    done = _run([str(env / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    where = _run([str(env / "bin" / "python"), "-c", "import rknn_diag; print(rknn_diag.__file__)"], cwd=tmp)
    assert str(env) in where.stdout, where.stdout + where.stderr      # the wheel, not the checkout
    return env, tmp


def _checkout_state():
    return subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO, capture_output=True,
                          text=True).stdout


def test_wheel_ships_the_default_gate(venv):
    env, tmp = venv
    done = _run([str(env / "bin" / "python"), "-c",
                 "from rknn_diag.resources import default_gate; p = default_gate(); print(p, p.is_file())"], cwd=tmp)
    assert done.stdout.strip().endswith("True") and str(env) in done.stdout, done.stdout + done.stderr


def test_wheel_runs_conformance_with_a_relative_out_from_another_folder(venv):
    env, tmp = venv
    work = tmp / "work"
    work.mkdir()
    before = _checkout_state()
    done = _run([str(env / "bin" / "rknn-diag"), "conformance", "--suite", str(REPO / "conformance"),
                 "--out", "rel", "-n", "0", "-k", "test_zoo_float16 and ssd_like"], cwd=work)
    text = done.stdout + done.stderr
    assert (work / "rel" / "results.jsonl").is_file(), text[-3000:]
    assert (work / "rel" / "report" / "index.html").is_file(), text[-3000:]
    assert "no results were written" not in text
    assert _checkout_state() == before          # nothing written into the checkout: no link, no file
    assert not (REPO / "reports" / "latest").exists()
    done = _run([str(env / "bin" / "rknn-diag"), "report", str(work / "rel" / "results.jsonl"),
                 "-o", str(work / "again"), "--gate", str(REPO / "reports" / "gate.toml")], cwd=work)
    assert (work / "again" / "index.html").is_file(), (done.stdout + done.stderr)[-3000:]


def test_conformance_outside_a_checkout_without_suite_says_what_to_do(venv):
    env, tmp = venv
    done = _run([str(env / "bin" / "rknn-diag"), "conformance", "-n", "0"], cwd=tmp)
    assert done.returncode == 2 and "conformance suite was not found" in done.stderr and "--suite" in done.stderr


def test_wheel_report_finds_its_default_gate(venv, tmp_path):
    env, tmp = venv
    res = tmp_path / "r.jsonl"
    res.write_text('{"case": "a", "status": "passed", "target": "simulator", "run_id": "x"}\n')
    done = _run([str(env / "bin" / "rknn-diag"), "report", str(res), "-o", str(tmp_path / "o")], cwd=tmp_path)
    assert (tmp_path / "o" / "index.html").is_file(), (done.stdout + done.stderr)[-3000:]
