"""The suite's checks can fail: each planted fault (tests/faults/plant.py) turns a small slice of
the real conformance suite red, as a PRODUCT failure — in pytest's verdict and in the results
file alike — never as a pass, an expected failure or an infrastructure error.

Each fault runs the suite in its own process (`-p tests.faults.plant`, RKNN_DIAG_PLANT=...),
on a slice chosen to meet the fault, through the simulator target's full user path, on the
numpy reference backend (RKNN_DIAG_BACKEND=numpy) where the planted kernels run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# fault -> (suite file, -k selection)
SLICES = {
    "coarse_weight_scales": ("conformance/test_quant.py", "test_op_quantized and Conv/k3_s1_p1 and w8a8"),
    "round_half_up": ("conformance/test_quant.py",
                      "test_op_quantized and (AveragePool/ or Mul/) and (dynamic_fixed_point or w16a16i_dfp)"),
    "bias_scale": ("conformance/test_quant.py", "test_op_quantized and Conv/k3_s1_p1 and (w8a8 or u8)"),
    "int_conv_off": ("conformance/test_quant.py", "test_op_quantized and Conv/k3_s1_p1"),
    "float_conv_off": ("conformance/test_ops.py", "test_op_float16 and Conv/k3"),
    "float_softmax_off": ("conformance/test_ops.py", "test_op_float16 and Softmax/"),
    "kernel_refuses": ("conformance/test_ops.py", "test_op_float16 and Elu/"),
    "kernel_crashes": ("conformance/test_ops.py", "test_op_float16 and Selu/"),
}


def _run(fault: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    suite, select = SLICES[fault]
    results = tmp_path / "results.jsonl"
    # The numpy kernels are the reference the faults are planted in; on the default onnxruntime
    # backend the float path does not run them (tests/sim/test_backends.py cross-checks the two).
    env = {**os.environ, "RKNN_DIAG_PLANT": fault, "RKNN_DIAG_BACKEND": "numpy"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.faults.plant", "-p", "no:cacheprovider",
                           "-n", "0", "-q", "-rfE", suite, "-k", select, "--results", str(results)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = [json.loads(ln) for ln in results.read_text().splitlines()] if results.exists() else []
    return proc, lines


@pytest.mark.parametrize("fault", list(SLICES))
def test_planted_fault_turns_the_suite_red(fault, tmp_path):
    proc, lines = _run(fault, tmp_path)
    tail = proc.stdout[-3000:]
    assert lines, f"the slice ran no case:\n{tail}"
    assert proc.returncode == 1, f"pytest exit {proc.returncode} with fault {fault} planted:\n{tail}"
    failed = [r for r in lines if r["status"] == "failed"]
    assert failed and all(r["category"] == "product" for r in failed), tail
    # pytest's own verdict agrees with the results file: FAILED lines, not ERRORs
    assert f"FAILED {SLICES[fault][0]}" in proc.stdout and " error" not in proc.stdout.splitlines()[-1], tail
    if fault in ("kernel_refuses", "kernel_crashes"):
        # every case of the broken op is ours to fix: none excused as expected or infrastructure
        op = "ops/Elu/" if fault == "kernel_refuses" else "ops/Selu/"
        broken = [r for r in lines if r["case"].startswith(op)]
        assert broken and {r["status"] for r in broken} == {"failed"}, [(r["case"], r["status"]) for r in broken]


def test_the_slices_pass_without_a_fault(tmp_path):
    """The same slices are green on the real toolkit: what turns them red is the fault alone."""
    for fault in ("coarse_weight_scales", "round_half_up", "float_conv_off", "kernel_refuses"):
        suite, select = SLICES[fault]
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q",
                               suite, "-k", select], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:]
