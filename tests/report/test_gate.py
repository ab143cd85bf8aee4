"""The quality gate: passes and fails as it should, says which rule, and rejects a bad file."""

from __future__ import annotations

import pytest

from rknn_diag.report import cli, data, gate
from rknn_diag.errors import GateError

from .conftest import write_gate


def _rules(gate_path, results, baseline=None):
    g = gate.load_gate(gate_path)
    return {r.rule: r for r in gate.evaluate(g, data.load([results]))}


def test_default_gate_passes_a_clean_run(runs, tmp_path):
    rc = cli.main([str(runs["clean"]), "-o", str(tmp_path / "out")])
    assert rc == 0
    page = (tmp_path / "out" / "index.html").read_text()
    assert "Quality gate: PASS" in page


def test_default_gate_fails_product_failures_and_names_the_rule(runs, tmp_path):
    rc = cli.main([str(runs["failing"]), "-o", str(tmp_path / "out")])
    assert rc == 1
    page = (tmp_path / "out" / "index.html").read_text()
    verdict = page[page.index('id="verdict"'):page.index("</div>", page.index('id="verdict"'))]
    assert "Quality gate: FAIL" in verdict and "failures.max_product" in verdict
    # the failing Conv/b w8a8 cases are listed as offenders of that rule
    rules = _rules(None, runs["failing"])
    assert rules["failures.max_product"].passed is False
    assert any("ops/Conv/b [w8a8]" in o for o in rules["failures.max_product"].offenders)


def test_infrastructure_error_budget(runs, tmp_path):
    # the clean run has exactly 2 infrastructure errors
    assert _rules(write_gate(tmp_path, "[errors]\nmax_infrastructure = 2\n"), runs["clean"])[
        "errors.max_infrastructure"].passed is True
    assert _rules(write_gate(tmp_path, "[errors]\nmax_infrastructure = 1\n"), runs["clean"])[
        "errors.max_infrastructure"].passed is False


def test_accuracy_floor_per_mode(runs, tmp_path):
    df = data.load([runs["clean"]])
    worst = df[(df["mode"] == "w8a8") & df.outcome.isin(["passed", "failed"])]["metrics.cosine"].min()
    at = write_gate(tmp_path, f"[accuracy.cosine]\nw8a8 = {worst}\n")
    assert _rules(at, runs["clean"])["accuracy.cosine"].passed is True
    above = write_gate(tmp_path, f"[accuracy.cosine]\nw8a8 = {worst + 1e-6}\n")
    r = _rules(above, runs["clean"])["accuracy.cosine"]
    assert r.passed is False and len(r.offenders) == 1 and "w8a8" in r.offenders[0]


def test_vendor_findings_are_not_judged_by_accuracy_floors(tmp_path):
    from rknn_diag.results import CaseResult, append
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="a", status="xfail", category="vendor", target="toolkit2", op="Resize",
                         mode="w8a8", metrics={"cosine": 0.1}))
    g = write_gate(tmp_path, "[accuracy.cosine]\nw8a8 = 0.99\n")
    assert _rules(g, p)["accuracy.cosine"].passed is True


def test_floor_exempt_cases_are_recorded_not_judged(tmp_path):
    from rknn_diag.results import CaseResult, append
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="floor", status="passed", target="simulator", op="Floor", mode="w8a8",
                         metrics={"sqnr_db": 11.0, "floor_exempt": 1.0}))
    g = write_gate(tmp_path, "[accuracy.sqnr_db]\nw8a8 = 15\n")
    assert _rules(g, p)["accuracy.sqnr_db"].passed is True
    append(p, CaseResult(case="conv", status="passed", target="simulator", op="Conv", mode="w8a8",
                         metrics={"sqnr_db": 11.0}))
    r = _rules(g, p)["accuracy.sqnr_db"]
    assert r.passed is False and len(r.offenders) == 1 and r.offenders[0].startswith("conv")


def test_minimum_cases_per_target_and_required_targets(runs, tmp_path):
    # coverage counts judged cases (passed or failed), not expected failures
    n_sim = int(((d := data.load([runs["clean"]]))["target"].eq("toolkit2") & d.outcome.isin(["passed", "failed"])).sum())
    ok = write_gate(tmp_path, f"[coverage]\nmin_cases_per_target = {n_sim}\n")
    assert _rules(ok, runs["clean"])["coverage.min_cases_per_target"].passed is True
    short = write_gate(tmp_path, f"[coverage]\nmin_cases_per_target = {n_sim + 1}\n")
    r = _rules(short, runs["clean"])["coverage.min_cases_per_target"]
    assert r.passed is False and r.offenders == [f"toolkit2: {n_sim}"]
    missing = write_gate(tmp_path, '[coverage]\nrequired_targets = ["simulator", "toolkit3"]\n')
    r = _rules(missing, runs["clean"])["coverage.min_cases_per_target"]
    assert r.passed is False and r.offenders == ["toolkit3: 0"]


def test_baseline_rules_are_not_applicable_without_a_baseline(runs):
    rules = _rules(None, runs["clean"])
    assert rules["baseline.max_new_failures"].passed is None
    assert gate.verdict(list(rules.values())) is True


def test_gate_fails_the_command_on_a_baseline_regression(runs, tmp_path):
    # Only the baseline rules: the planted regressions alone must fail the gate.
    g = write_gate(tmp_path, "[failures]\nmax_product = 100\n[accuracy.cosine]\n[accuracy.sqnr_db]\n")
    out = tmp_path / "out"
    rc = cli.main([str(runs["current"]), "--baseline", str(runs["baseline"]), "--gate", str(g), "-o", str(out)])
    assert rc == 1
    verdict = (out / "index.html").read_text().split('id="verdict"')[1].split("</div>")[0]
    for rule in ("baseline.max_new_failures", "baseline.max_accuracy_drops", "baseline.max_latency_regressions"):
        assert rule in verdict
    assert "failures.max_product" not in verdict
    # The same run without the baseline passes that gate.
    assert cli.main([str(runs["current"]), "--gate", str(g), "-o", str(tmp_path / "out2")]) == 0


@pytest.mark.parametrize("text,key,line", [
    ("[failures]\nmax_product = 0\n\n[errors]\nmax_infra = 3\n", "errors.max_infra", 5),
    ("[failures]\nmax_product = 'none'\n", "failures.max_product", 2),
    ("[failures]\nmax_product = -1\n", "failures.max_product", 2),
    ("[coverage]\nmin_cases_per_target = 3\n[baseline]\ncosine_drop = true\n", "baseline.cosine_drop", 4),
    ("[accuracy.cosine]\nw8a8 = 0.98\n[accuracy.latency]\nw8a8 = 1\n", "accuracy.latency", 3),
    ("[surprise]\nx = 1\n", "surprise", 1),
])
def test_bad_gate_key_is_named_with_its_line(tmp_path, text, key, line):
    p = write_gate(tmp_path, text)
    with pytest.raises(GateError) as e:
        gate.load_gate(p)
    assert repr(key) in str(e.value) and f"{p}:{line}" in str(e.value)


def test_gate_with_bad_toml_names_the_line_and_writes_nothing(runs, tmp_path, capsys):
    p = write_gate(tmp_path, "[failures]\nmax_product = 0\nmax_product = = 1\n")
    out = tmp_path / "out"
    assert cli.main([str(runs["clean"]), "--gate", str(p), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "line 3" in err
    assert not out.exists()


def test_shipped_default_gate_loads_with_every_section():
    g = gate.load_gate(None)
    assert set(g.floors) == {"cosine", "sqnr_db", "top1"}
    assert {"float16", "w8a8", "asymmetric_quantized-u8", "dynamic_fixed_point-i16"} <= set(g.floors["cosine"])


def test_a_target_whose_cases_were_all_skipped_has_run_nothing(tmp_path):
    from rknn_diag.results import CaseResult, append
    p = tmp_path / "r.jsonl"
    append(p, CaseResult(case="a", status="passed", target="simulator", op="Add"))
    append(p, CaseResult(case="a", status="skipped", target="board", op="Add", board="s1"))
    r = _rules(write_gate(tmp_path, "[coverage]\nmin_cases_per_target = 1\n"), p)["coverage.min_cases_per_target"]
    assert r.passed is False and r.offenders == ["board: 0"]


@pytest.mark.parametrize("seed", range(4))
def test_fixture_runs_without_planted_failures_clear_the_default_gate(tmp_path, seed):
    from fixtures.results import write_fixture_results
    p = tmp_path / "r.jsonl"
    write_fixture_results(p, seed=seed, product_failures=False)
    assert [r.rule for r in _rules(None, p).values() if r.passed is False] == []


def test_expected_failures_are_limited_per_category(runs, tmp_path):
    """Vendor findings, vendor refusals and declared exemptions are counted apart and limited:
    a gate that allows none of the clean run's vendor findings fails on them."""
    d = data.load([runs["clean"]])
    assert (d.outcome == "xfail").any()
    strict = write_gate(tmp_path, "[expected]\nmax_vendor = 0.0\n")
    r = _rules(strict, runs["clean"])["expected.max_vendor"]
    assert r.passed is False and r.offenders
    assert _rules(None, runs["clean"])["expected.max_vendor"].passed is True


def test_default_floors_are_at_least_the_suites():
    """The shipped gate is at least as strict as the suite's own floors, for float16 and every mode."""
    from rknn_diag import tolerances
    from rknn_diag.qrules.schemes import MODES

    floors = gate.load_gate().floors["cosine"]
    assert floors["float16"] >= tolerances.FLOAT16_MODEL_COSINE
    for mode in MODES:
        assert floors[mode] >= tolerances.QUANT_MODEL_COSINE[mode], mode


def test_ci_gate_requires_every_leg_and_keeps_the_defaults(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "reports"
    ci, default = gate.load_gate(root / "gate-ci.toml"), gate.load_gate(root / "gate.toml")
    assert ci.coverage["required_targets"] == ["simulator", "toolkit2", "board"]
    assert ci.floors == default.floors and ci.failures == default.failures and ci.expected == default.expected
