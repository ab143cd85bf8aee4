"""Recorded result files for the report tests, generated once per session (fixed seeds)."""

from __future__ import annotations

import pytest

from fixtures.results import write_baseline_pair, write_fixture_results, write_full_run


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    clean = d / "clean.jsonl"
    write_fixture_results(clean, seed=1, product_failures=False, infra_errors=2)
    failing = d / "failing.jsonl"
    write_fixture_results(failing, seed=2, product_failures=True)
    old, new = d / "baseline.jsonl", d / "current.jsonl"
    planted = write_baseline_pair(old, new, seed=3)
    return {"dir": d, "clean": clean, "failing": failing, "baseline": old, "current": new, "planted": planted}


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    """A full run at scale (7 000+ cases) and its report, rendered once."""
    from rknn_diag.report import cli, data

    d = tmp_path_factory.mktemp("full")
    results = write_full_run(d / "results.jsonl", seed=4)
    out = d / "report"
    rc = cli.main([str(d / "results.jsonl"), "-o", str(out)])
    return {"results": results, "jsonl": d / "results.jsonl", "out": out, "rc": rc,
            "df": data.load([d / "results.jsonl"])}


def write_gate(tmp_path, text: str):
    p = tmp_path / "gate.toml"
    p.write_text(text, encoding="utf-8")
    return p
