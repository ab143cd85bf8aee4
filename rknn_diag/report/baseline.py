"""This run against a baseline run: what broke, what got fixed, what moved.

Cases are matched on (case, mode, target, board). Thresholds come from the gate's
[baseline] table so the report and the gate agree on what "moved" means.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .data import KEY


@dataclass
class Diff:
    new_failures: pd.DataFrame         # passed in the baseline, failed (product) now
    new_errors: pd.DataFrame           # passed in the baseline, infrastructure error now
    fixed: pd.DataFrame                # failed/error/xfail in the baseline, passed now
    accuracy_moved: pd.DataFrame       # |cosine change| > threshold (either way)
    accuracy_drops: pd.DataFrame       # the part of accuracy_moved that got worse
    latency_regressions: pd.DataFrame
    missing: pd.DataFrame              # in the baseline, not run now
    added: pd.DataFrame                # run now, not in the baseline
    matched: int


def diff(current: pd.DataFrame, baseline: pd.DataFrame, *, cosine_drop: float,
         latency_increase_pct: float, latency_min_increase_ms: float) -> Diff:
    cols = [*KEY, "outcome", "metrics.cosine", "latency_ms"]
    # None boards would not join; give them a common placeholder for the merge.
    cur = current.assign(board=current["board"].fillna("")).reset_index(drop=True)
    base = baseline[cols].assign(board=baseline["board"].fillna(""))
    m = cur.merge(base, on=KEY, how="outer", suffixes=("", "_base"), indicator=True)
    m["board"] = m["board"].replace("", None)
    both = m[m["_merge"] == "both"].copy()
    was, now = both["outcome_base"], both["outcome"]
    both["cosine_change"] = both["metrics.cosine"] - both["metrics.cosine_base"]
    lat, lat0 = both["latency_ms"], both["latency_ms_base"]
    both["latency_change_pct"] = (lat / lat0 - 1) * 100
    moved = both[both["cosine_change"].abs() > cosine_drop]
    slower = (lat > lat0 * (1 + latency_increase_pct / 100)) & (lat - lat0 >= latency_min_increase_ms)
    lat_reg = both[slower.fillna(False)]
    return Diff(
        new_failures=both[(was == "passed") & (now == "failed")],
        new_errors=both[(was == "passed") & (now == "error")],
        fixed=both[was.isin(["failed", "error", "xfail"]) & (now == "passed")],
        accuracy_moved=moved,
        accuracy_drops=moved[moved["cosine_change"] < 0],
        latency_regressions=lat_reg,
        missing=m[m["_merge"] == "right_only"].assign(placement=lambda d: _placement(d)),
        added=m[m["_merge"] == "left_only"],
        matched=len(both),
    )


def _placement(d: pd.DataFrame) -> list[str]:
    return [f"{t} {b}" if isinstance(b, str) and b else t for t, b in zip(d["target"], d["board"])]
