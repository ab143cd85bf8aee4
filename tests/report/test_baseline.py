"""The baseline diff finds exactly the regressions planted in the fixture."""

from __future__ import annotations

from rknn_diag.report import baseline, data, gate


def _keys(df):
    return sorted(zip(df["case"], df["mode"], df["target"], [b if isinstance(b, str) else None for b in df["board"]]))


def _diff(runs, **over):
    b = dict(gate.load_gate(None).baseline)
    b.update(over)
    return baseline.diff(data.load([runs["current"]]), data.load([runs["baseline"]]), cosine_drop=b["cosine_drop"],
                         latency_increase_pct=b["latency_increase_pct"],
                         latency_min_increase_ms=b["latency_min_increase_ms"])


def test_planted_regressions_are_found(runs):
    planted, d = runs["planted"], _diff(runs)
    assert _keys(d.new_failures) == sorted(planted.new_failures)
    assert _keys(d.fixed) == sorted(planted.fixed)
    assert _keys(d.latency_regressions) == sorted(planted.latency_regressions)
    # the planted drop, and the new failure (whose cosine fell with it); nothing else
    assert _keys(d.accuracy_drops) == sorted(planted.accuracy_drops + planted.new_failures)
    assert d.matched == len(data.load([runs["current"]]))
    assert d.missing.empty and d.added.empty and d.new_errors.empty


def test_thresholds_decide_what_moved(runs):
    # The planted cosine drop is 0.02 and the latency rise 40 %: thresholds above them hide them.
    d = _diff(runs, cosine_drop=0.5, latency_increase_pct=50)
    assert d.accuracy_drops.empty and d.latency_regressions.empty
    d = _diff(runs, latency_min_increase_ms=1e6)
    assert d.latency_regressions.empty


def test_missing_and_added_cases(runs, tmp_path):
    cur = data.load([runs["current"]])
    old = data.load([runs["baseline"]])
    d = baseline.diff(cur.iloc[1:], old.iloc[:-1], cosine_drop=0.005, latency_increase_pct=15,
                      latency_min_increase_ms=0.5)
    assert _keys(d.missing) == _keys(old.iloc[:1]) and _keys(d.added) == _keys(cur.iloc[-1:])


def test_baseline_section_comes_first(runs, tmp_path):
    from rknn_diag.report import cli
    out = tmp_path / "out"
    cli.main([str(runs["current"]), "--baseline", str(runs["baseline"]), "-o", str(out)])
    page = (out / "index.html").read_text()
    sections = [page.index(f'<section id="{s}"') for s in ("baseline", "headline", "matrix", "accuracy", "failures")]
    assert sections == sorted(sections)
    new_fail = runs["planted"].new_failures[0][0]
    base_section = page[sections[0]:sections[1]]
    assert new_fail in base_section and runs["planted"].fixed[0][0] in base_section
    md = (out / "summary.md").read_text()
    assert f"New failures: `{new_fail}`" in md
