"""The results file and the pytest plugin that writes it: one line per finished case,
failures (product) kept apart from errors (infrastructure)."""

import json
from importlib.metadata import entry_points

import pytest

from rknn_diag import results

pytest_plugins = ["pytester"]

# Installed, the plugin comes in through its entry point; from a bare checkout, by name.
PLUGIN = [] if any(ep.name == "rknn_diag" for ep in entry_points(group="pytest11")) else \
    ["-p", "rknn_diag.pytest_plugin"]

SUITE = '''
import pytest
from rknn_diag.errors import TargetError

@pytest.fixture
def broken_board():
    raise TargetError("board 127.0.0.1:5601 vanished", where="push model")

@pytest.mark.rknn_case(case="ops/A", op="Relu")
def test_pass(record):
    record["metrics"] = {"cosine": 0.999}

@pytest.mark.rknn_case(case="ops/B", op="Conv")
def test_wrong_answer(record):
    assert False, "cosine 0.2 below floor"

@pytest.mark.rknn_case(case="ops/C", op="Conv")
def test_board_lost(broken_board, record):
    pass

@pytest.mark.rknn_case(case="ops/D", op="Resize")
def test_vendor_finding(record):
    record["category"] = "vendor"
    pytest.xfail("vendor simulator crashed (exit 139)")

@pytest.mark.rknn_case(case="ops/E", op="Add")
def test_target_error_in_body(record):
    raise TargetError("adb timeout after 30 s", where="pull outputs")

def test_not_a_case():
    pass
'''


def _run(pytester, *args):
    pytester.makepyfile(test_suite=SUITE)
    path = pytester.path / "res.jsonl"
    pytester.runpytest(*PLUGIN, "--results", str(path), *args)
    return path, {r.case: r for r in results.read([path])}


def test_every_case_lands_with_its_status_and_category(pytester):
    path, got = _run(pytester)
    assert set(got) == {"ops/A", "ops/B", "ops/C", "ops/D", "ops/E"}
    assert (got["ops/A"].status, got["ops/A"].metrics) == ("passed", {"cosine": 0.999})
    assert (got["ops/B"].status, got["ops/B"].category) == ("failed", "product")
    assert "cosine 0.2 below floor" in got["ops/B"].message
    assert (got["ops/C"].status, got["ops/C"].category) == ("error", "infrastructure")
    assert "vanished" in got["ops/C"].message
    assert (got["ops/D"].status, got["ops/D"].category) == ("xfail", "vendor")
    assert (got["ops/E"].status, got["ops/E"].category) == ("error", "infrastructure")
    assert all(r.target == "simulator" and r.repro.startswith("python -m pytest ") for r in got.values())
    assert len({r.run_id for r in got.values()}) == 1


def test_skip_passed_reruns_only_what_did_not_pass(pytester):
    path, _ = _run(pytester)
    before = path.read_text().count("\n")
    pytester.runpytest(*PLUGIN, "--results", str(path), "--skip-passed")
    new = [json.loads(line) for line in path.read_text().splitlines()[before:]]
    assert sorted(r["case"] for r in new) == ["ops/B", "ops/C", "ops/D", "ops/E"]


def test_torn_last_line_is_ignored_but_a_bad_middle_line_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    results.append(path, results.CaseResult(case="x", status="passed", target="simulator"))
    with open(path, "a") as f:
        f.write('{"case": "y", "sta')          # the writer was killed mid-line
    assert [r.case for r in results.read([path])] == ["x"]
    with open(path, "a") as f:
        f.write('\n{"case": "z", "status": "passed", "target": "board"}\n')
    with pytest.raises(ValueError, match=r"r.jsonl:2"):
        list(results.read([path]))


def test_bad_status_refused():
    with pytest.raises(ValueError, match="status"):
        results.CaseResult(case="x", status="green", target="simulator")
