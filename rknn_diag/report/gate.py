"""The quality gate: TOML rules a run must meet for the release to be signed.

File format (every key optional; a missing key takes the default below, shipped as
`reports/gate.toml`):

    [failures]  max_product = 0               # product failures allowed
    [errors]    max_infrastructure = 2        # infrastructure errors allowed
    [coverage]  min_cases_per_target = 20     # cases JUDGED (passed or failed) per target
                required_targets = []         # targets that must appear at all
    [expected]  max_exempt = 0.10             # expected failures, as a fraction of the cases run
                max_vendor = 0.5              #   on each target, per category (rknn_diag.outcome):
                max_unsupported = 0.5         #   counted apart from coverage, and limited
                max_reference = 0.05
    [accuracy.cosine]  float16 = 0.999 ...    # floors per mode: every passed or failed
    [accuracy.sqnr_db] float16 = 40 ...       #   case with the metric must reach them
                                              #   (unless metrics.floor_exempt is set)
    [accuracy.top1]    w8a8 = 0.95 ...
    [baseline]  max_new_failures = 0          # only with --baseline
                cosine_drop = 0.005           # a cosine lower by more than this has moved
                max_accuracy_drops = 0
                latency_increase_pct = 15     # slower by more than this % ...
                latency_min_increase_ms = 0.5 #   ... and by at least this much is a regression
                max_latency_regressions = 0
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import GateError
from ..resources import default_gate

DEFAULT_GATE = default_gate()   # package data (reports/gate.toml links to it in a checkout)

# section -> key -> (type, default). One place for the gate's vocabulary.
_NUM = (int, float)
SCHEMA = {
    "failures": {"max_product": (int, 0)},
    "errors": {"max_infrastructure": (int, 2)},
    "coverage": {"min_cases_per_target": (int, 1), "required_targets": (list, [])},
    "expected": {"max_exempt": (_NUM, 0.10), "max_vendor": (_NUM, 0.5), "max_unsupported": (_NUM, 0.5),
                 "max_reference": (_NUM, 0.05)},
    "baseline": {"max_new_failures": (int, 0), "cosine_drop": (_NUM, 0.005), "max_accuracy_drops": (int, 0),
                 "latency_increase_pct": (_NUM, 15.0), "latency_min_increase_ms": (_NUM, 0.5),
                 "max_latency_regressions": (int, 0)},
}
# Metrics a floor may be set on: all "higher is better".
FLOOR_METRICS = ("cosine", "sqnr_db", "top1")


@dataclass
class Gate:
    source: str
    failures: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    floors: dict[str, dict[str, float]] = field(default_factory=dict)   # metric -> mode -> floor


@dataclass
class RuleResult:
    rule: str            # e.g. "failures.max_product"
    title: str           # what the rule asks, in words
    passed: bool | None  # None: not applicable (e.g. no baseline)
    detail: str          # what was found
    offenders: list[str] = field(default_factory=list)


def load_gate(path: str | os.PathLike | None = None) -> Gate:
    """Read and check a gate file; the shipped default when `path` is None."""
    p = Path(path) if path is not None else DEFAULT_GATE
    if not p.is_file():
        raise GateError(f"gate file not found: {p}", where=str(p), fix="pass --gate with an existing TOML file")
    text = p.read_text(encoding="utf-8")
    data = _read_toml(p)
    base = data.pop("base", None)
    if base is not None:   # a gate that names a base file changes only what it sets
        if not isinstance(base, str):
            raise GateError(f"gate key 'base' must be a file name, not {base!r}", where=str(p))
        data = _merged(_read_toml(p.parent / base), data)
    gate = Gate(source=str(p))

    def bad(key: str, why: str) -> GateError:
        return GateError(f"gate key {key!r}: {why}", where=f"{p}:{_line_of(text, key)}",
                         fix=f"see the keys documented in {DEFAULT_GATE.name} (rknn_diag/report/gate.py)")

    for section, value in data.items():
        if section == "accuracy":
            if not isinstance(value, dict):
                raise bad(section, "must be a table of [accuracy.<metric>] tables")
            for metric, floors in value.items():
                if metric not in FLOOR_METRICS:
                    raise bad(f"accuracy.{metric}", f"unknown metric; floors can be set on {', '.join(FLOOR_METRICS)}")
                if not isinstance(floors, dict):
                    raise bad(f"accuracy.{metric}", "must be a table of mode = floor")
                for mode, floor in floors.items():
                    if isinstance(floor, bool) or not isinstance(floor, _NUM):
                        raise bad(f"accuracy.{metric}.{mode}", f"must be a number, not {floor!r}")
                gate.floors[metric] = {m: float(f) for m, f in floors.items()}
            continue
        if section not in SCHEMA:
            raise bad(section, f"unknown section; known: {', '.join([*SCHEMA, 'accuracy'])}")
        if not isinstance(value, dict):
            raise bad(section, "must be a table")
        for key, v in value.items():
            if key not in SCHEMA[section]:
                raise bad(f"{section}.{key}", f"unknown key; known in [{section}]: {', '.join(SCHEMA[section])}")
            typ = SCHEMA[section][key][0]
            if isinstance(v, bool) or not isinstance(v, typ):
                want = "a list" if typ is list else "an integer" if typ is int else "a number"
                raise bad(f"{section}.{key}", f"must be {want}, not {v!r}")
            if typ is not list and v < 0:
                raise bad(f"{section}.{key}", f"must not be negative, not {v!r}")
    for section, keys in SCHEMA.items():
        setattr(gate, section, {k: data.get(section, {}).get(k, default) for k, (_, default) in keys.items()})
    return gate


def _read_toml(p: Path) -> dict:
    if not p.is_file():
        raise GateError(f"gate file not found: {p}", where=str(p), fix="pass --gate with an existing TOML file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GateError(f"gate file is not valid TOML: {e}", where=str(p),
                        fix="correct the TOML syntax at that line") from None


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _line_of(text: str, dotted: str) -> int | str:
    """The line a (dotted) key is set on, best effort: the last part as a bare key or a
    table header. tomllib gives no positions for keys."""
    last = re.escape(dotted.split(".")[-1])
    pat = re.compile(rf'^\s*(\[\s*[^\]]*\b{last}\s*\]|"?{last}"?\s*=)', re.M)
    m = pat.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else "?"


def evaluate(gate: Gate, df: pd.DataFrame, diff=None) -> list[RuleResult]:
    """Apply every rule to the run (and its baseline diff, if any)."""
    out = []
    failed = df[df.outcome == "failed"]
    n = gate.failures["max_product"]
    out.append(RuleResult("failures.max_product", f"at most {n} product failures", len(failed) <= n,
                          f"{len(failed)} product failure(s)", _ids(failed)))
    errors = df[df.outcome == "error"]
    n = gate.errors["max_infrastructure"]
    out.append(RuleResult("errors.max_infrastructure", f"at most {n} infrastructure errors", len(errors) <= n,
                          f"{len(errors)} infrastructure error(s)", _ids(errors)))
    for metric, floors in sorted(gate.floors.items()):
        col = f"metrics.{metric}"
        judged = df[df.outcome.isin(["passed", "failed"]) & df[col].notna() & df["mode"].isin(list(floors))]
        if "metrics.floor_exempt" in judged:
            # The suite marks cases whose float error is not bounded by quantization (step
            # functions, exponentials of large inputs): their metric is recorded, not judged.
            judged = judged[judged["metrics.floor_exempt"].fillna(0) == 0]
        low = judged[judged[col] < judged["mode"].map(floors)]
        out.append(RuleResult(f"accuracy.{metric}",
                              f"{metric} floors per mode ({', '.join(f'{m} ≥ {f:g}' for m, f in floors.items())})",
                              low.empty, f"{len(low)} of {len(judged)} case(s) below the floor",
                              [f"{i} {metric}={v:.6g}" for i, v in zip(_ids(low), low[col])]))
    # coverage counts judged cases only: expected failures and exemptions are not coverage
    counted = df[df.outcome.isin(["passed", "failed"])].groupby("target").size()
    run = df[df.outcome != "skipped"].groupby("target").size()
    # every target that appears (even if all its cases were skipped) and every required one
    targets = sorted(set(df["target"]) | set(gate.coverage["required_targets"]))
    for key, outcome_word in (("max_exempt", "exempt"), ("max_vendor", "xfail"), ("max_unsupported", "unsupported")):
        limit = gate.expected[key]
        cats = _EXPECTED_CATEGORIES[key]
        rows = df[(df.outcome == outcome_word) & df["category"].isin(cats)]
        per = rows.groupby("target").size()
        over = [f"{t}: {int(per.get(t, 0))} of {int(run.get(t, 0))}" for t in targets
                if run.get(t, 0) and per.get(t, 0) / run.get(t, 0) > limit]
        out.append(RuleResult(f"expected.{key}", f"{_EXPECTED_TITLES[key]} at most {limit:.0%} of the cases "
                              "run on each target", not over,
                              ", ".join(f"{t}: {int(per.get(t, 0))}" for t in targets), over))
    if "category" in df:
        refs = df[df["category"] == "reference"].groupby("target").size()
        limit = gate.expected["max_reference"]
        over = [f"{t}: {int(refs.get(t, 0))}" for t in targets if run.get(t, 0) and refs.get(t, 0) / run[t] > limit]
        out.append(RuleResult("expected.max_reference", f"cases onnxruntime cannot run at most {limit:.0%}",
                              not over, ", ".join(f"{t}: {int(refs.get(t, 0))}" for t in targets), over))
    n = gate.coverage["min_cases_per_target"]
    short = [f"{t}: {int(counted.get(t, 0))}" for t in targets if counted.get(t, 0) < n]
    out.append(RuleResult("coverage.min_cases_per_target", f"at least {n} cases judged on each target"
                          + (f" (required: {', '.join(gate.coverage['required_targets'])})"
                             if gate.coverage["required_targets"] else ""),
                          not short, ", ".join(f"{t}: {int(counted.get(t, 0))}" for t in targets), short))
    b = gate.baseline
    for rule, title, attr, limit in (
            ("baseline.max_new_failures", "no new failures against the baseline", "new_failures", b["max_new_failures"]),
            ("baseline.max_accuracy_drops", f"no cosine drop over {b['cosine_drop']:g} against the baseline",
             "accuracy_drops", b["max_accuracy_drops"]),
            ("baseline.max_latency_regressions",
             f"no latency regression over {b['latency_increase_pct']:g} % (and {b['latency_min_increase_ms']:g} ms)",
             "latency_regressions", b["max_latency_regressions"])):
        if diff is None:
            out.append(RuleResult(rule, title, None, "no baseline given"))
        else:
            rows = getattr(diff, attr)
            out.append(RuleResult(rule, title + (f" (at most {limit})" if limit else ""), len(rows) <= limit,
                                  f"{len(rows)} found", _ids(rows)))
    return out


_EXPECTED_CATEGORIES = {"max_exempt": ["exempt"], "max_vendor": ["vendor"], "max_unsupported": ["unsupported"]}
_EXPECTED_TITLES = {"max_exempt": "declared exemptions", "max_vendor": "vendor findings",
                    "max_unsupported": "vendor refusals"}


def verdict(rules: list[RuleResult]) -> bool:
    return all(r.passed is not False for r in rules)


def _ids(df: pd.DataFrame) -> list[str]:
    return [f"{c} [{m}] on {p}" for c, m, p in zip(df["case"], df["mode"], df["placement"])]
