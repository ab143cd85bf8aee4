"""Reading results files: the flat table, reruns, and clear errors naming file and line."""

from __future__ import annotations

import json

import pytest

from fixtures.results import generate
from rknn_diag.report import data
from rknn_diag.errors import ResultsFileError
from rknn_diag.results import CaseResult, append


def test_every_kind_of_ending_is_read_with_its_outcome(runs):
    df = data.load([runs["failing"]])
    written = generate(2, product_failures=True)
    assert len(df) == len(written)
    got = set(df["outcome"])
    assert got == {"passed", "failed", "error", "xfail", "unsupported", "skipped"}
    # metrics are flattened, the zoo cases keep their latency
    zoo = df[df["kind"] == "model"]
    assert zoo["metrics.top1"].notna().any() and zoo["latency_ms"].notna().any()
    assert set(df["target"]) == {"simulator", "toolkit2", "board"}
    assert df[df["target"] == "board"]["board"].nunique() == 2


@pytest.mark.parametrize("status,category,expected", [
    ("passed", None, "passed"), ("xpass", None, "passed"), ("failed", "product", "failed"),
    ("failed", None, "failed"), ("error", "infrastructure", "error"), ("failed", "infrastructure", "error"),
    ("xfail", "vendor", "xfail"), ("failed", "vendor", "xfail"), ("xfail", "unsupported", "unsupported"),
    ("skipped", None, "skipped")])
def test_outcome_reads_status_and_blame(status, category, expected):
    assert data.outcome(status, category) == expected


def test_a_rerun_line_replaces_the_earlier_one(tmp_path):
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="ops/Add/a", status="error", target="board", op="Add", board="b1",
                         category="infrastructure"))
    append(p, CaseResult(case="ops/Add/a", status="passed", target="board", op="Add", board="b2"))
    append(p, CaseResult(case="ops/Add/a", status="passed", target="board", op="Add", board="b1"))
    df = data.load([p])
    assert len(df) == 2 and set(df["outcome"]) == {"passed"}


def test_worst_layer_from_metrics_or_message(tmp_path):
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="a", status="failed", target="simulator", op="Conv", category="product",
                         metrics={"cosine": 0.5, "worst_layer": "conv_3"}))
    append(p, CaseResult(case="b", status="failed", target="simulator", op="Conv", category="product",
                         message="cosine too low; worst_layer=relu_7 (cosine 0.8)"))
    df = data.load([p]).set_index("case")
    assert df.loc["a", "worst_layer"] == "conv_3" and df.loc["b", "worst_layer"] == "relu_7"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ResultsFileError, match="not found.*nope.jsonl"):
        data.load([tmp_path / "nope.jsonl"])


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="a", status="passed", target="simulator"))
    with open(p, "a") as f:
        f.write("{not json\n")
    append(p, CaseResult(case="b", status="passed", target="simulator"))
    with pytest.raises(ResultsFileError) as e:
        data.load([p])
    assert f"{p}:2" in str(e.value)


def test_bad_status_names_file_and_line(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"case": "a", "status": "passed", "target": "simulator"}) + "\n"
                 + json.dumps({"case": "b", "status": "exploded", "target": "simulator"}) + "\n")
    with pytest.raises(ResultsFileError) as e:
        data.load([p])
    assert f"{p}:2" in str(e.value) and "exploded" in str(e.value)


def test_torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="a", status="passed", target="simulator"))
    with open(p, "a") as f:
        f.write('{"case": "b", "sta')
    assert list(data.load([p])["case"]) == ["a"]


def test_empty_file_is_an_error(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text("")
    with pytest.raises(ResultsFileError, match="no result lines"):
        data.load([p])


def test_metrics_that_are_not_an_object_name_the_case(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"case": "ops/X/a", "status": "passed", "target": "simulator", "metrics": [0.9]}) + "\n")
    with pytest.raises(ResultsFileError, match="ops/X/a.*metrics/versions must be JSON objects"):
        data.load([p])
