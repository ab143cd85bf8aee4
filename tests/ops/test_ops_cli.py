"""`rknn-diag ops`: a table for people by default, JSON for programs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from rknn_diag import ops_cli
from rknn_diag.ops import get, supported_ops

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rknn_diag.cli", "ops", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_default_is_a_table_of_every_op_by_family():
    proc = run()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    ops = supported_ops()
    with_json = json.dumps(ops, indent=2)
    assert len(out.splitlines()) < len(with_json.splitlines()) / 5   # far shorter than the JSON it replaces
    assert not out.lstrip().startswith("{")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^  (\w+) +.*$", out, re.M)}
    assert set(ops) <= set(rows) | {"op"}
    families = re.findall(r"^(\w+) \((\d+) ops?\)$", out, re.M)
    assert sum(int(n) for _, n in families) == len(ops)
    assert {f for f, _ in families} == {v["family"] for v in ops.values()}
    # an op's line says its inputs ([optional]) and dtypes; its attributes follow, indented
    assert re.search(r"^  Conv +X, W, \[B\] +f32 f16$", out, re.M)
    conv_attrs = out.split("\n  Conv ", 1)[1].splitlines()[1]
    assert conv_attrs.startswith("      ") and "group=1" in conv_attrs and "kernel_shape" in conv_attrs
    assert max(len(line) for line in out.splitlines() if not line.startswith("        ")) <= 120


def test_columns_line_up_under_their_heads():
    text = ops_cli.table(["Selu"], 100)     # inputs ("X") narrower than its head
    head, row = text.splitlines()[4:6]
    assert head.index("dtypes") == row.index("f32") and head.index("inputs") == row.index("X")


def test_values_handled_are_shown():
    text = ops_cli.table(["Resize"], 100)
    spec = get("Resize")
    for v in spec.values["mode"]:
        assert v in text
    assert "mode=nearest (" in text


def test_json_for_programs_is_the_registry():
    proc = run("--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == json.loads(json.dumps(supported_ops()))


def test_names_and_a_chosen_op():
    assert run("--names").stdout.split() == list(supported_ops())
    proc = run("Conv", "--json")
    assert list(json.loads(proc.stdout)) == ["Conv"]


def test_an_unknown_op_is_named():
    proc = run("NoSuchOp")
    assert proc.returncode == 2 and "NoSuchOp" in proc.stderr and proc.stdout == ""
