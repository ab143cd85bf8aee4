"""The report's numbers as small tables, shared by the HTML, the Markdown and the tests."""

from __future__ import annotations

import re

import pandas as pd

from ..qrules.schemes import MODES as QUANT_MODES
from ..targets import TARGETS
from .data import OUTCOMES, SEVERITY

MODE_ORDER = ("float16", *QUANT_MODES)
# Column heads of the op x mode matrix: short enough for eight modes side by side.
MODE_SHORT = {"float16": "fp16", "asymmetric_quantized-u8": "u8", "dynamic_fixed_point-i8": "i8",
              "dynamic_fixed_point-i16": "i16", "w16a16i_dfp": "w16a16i"}
TARGET_ORDER = TARGETS   # the registered targets, in their order
VERSION_KEYS_FIRST = ("chip", "firmware", "toolkit", "rknn_server", "runtime", "driver")


def ordered(values, order) -> list:
    vals = [v for v in dict.fromkeys(values) if isinstance(v, str)]
    return [v for v in order if v in vals] + sorted(v for v in vals if v not in order)


def counts(df: pd.DataFrame) -> pd.DataFrame:
    """Outcome counts per target, plus a total row."""
    t = pd.crosstab(df["target"], df["outcome"]).reindex(columns=list(OUTCOMES), fill_value=0)
    t = t.reindex(ordered(t.index, TARGET_ORDER))
    t["total"] = t.sum(axis=1)
    t.loc["all targets"] = t.sum()
    return t.astype(int)


def cell_outcome(outcomes) -> str:
    present = set(outcomes)
    return next(o for o in SEVERITY if o in present)


def matrix(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Op x mode on one target: per cell (outcome, n_passed, n_cases, n_skipped), None if not run."""
    sub = df[(df["target"] == target) & (df["kind"] == "op")]
    modes = ordered(sub["mode"], MODE_ORDER)  # the modes run on this target: no empty columns
    rows: dict[str, dict] = {}
    for (op, mode), outs in sub.groupby(["subject", "mode"], sort=True)["outcome"]:
        o = outs.tolist()  # a few cases per cell: plain lists beat pandas calls here
        rows.setdefault(op, dict.fromkeys(modes))[mode] = (cell_outcome(o), o.count("passed"), len(o),
                                                          o.count("skipped"))
    return pd.DataFrame([list(r.values()) for r in rows.values()], index=list(rows), columns=modes, dtype=object)


def accuracy_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Per mode: how cosine and SQNR are spread over the cases that report them."""
    rows = []
    for mode in ordered(df["mode"], MODE_ORDER):
        sub = df[(df["mode"] == mode) & df["metrics.cosine"].notna()]
        if sub.empty:
            continue
        cos, sq = sub["metrics.cosine"], sub["metrics.sqnr_db"].dropna()
        rows.append({"mode": mode, "cases": len(sub), "cosine min": cos.min(), "cosine p5": cos.quantile(0.05),
                     "cosine median": cos.median(), "SQNR min (dB)": sq.min() if len(sq) else None,
                     "SQNR median (dB)": sq.median() if len(sq) else None})
    return pd.DataFrame(rows)


def worst_cases(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    sub = df[df["metrics.cosine"].notna()].sort_values("metrics.cosine").head(n)
    return sub[["case", "mode", "placement", "outcome", "metrics.cosine", "metrics.sqnr_db", "worst_layer"]]


def zoo(df: pd.DataFrame) -> pd.DataFrame:
    sub = df[df["kind"] == "model"].copy()
    sub["mode_rank"] = sub["mode"].map({m: i for i, m in enumerate(MODE_ORDER)})
    sub = sub.sort_values(["subject", "mode_rank", "target", "placement"])
    return sub[["subject", "mode", "placement", "outcome", "metrics.cosine", "metrics.top1", "latency_ms", "case"]]


def latency(df: pd.DataFrame) -> pd.DataFrame:
    """Latency per target and board: op cases and zoo models separately."""
    sub = df[df["latency_ms"].notna()]
    if sub.empty:
        return pd.DataFrame()
    g = sub.groupby(["placement", "kind"])["latency_ms"]
    t = pd.DataFrame({"cases": g.size(), "median (ms)": g.median(), "p90 (ms)": g.quantile(0.9), "max (ms)": g.max()})
    return t.reset_index()


# A number on its own (not part of a name like w8a8 or a version like 2.3.0).
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


def message_key(message) -> str:
    """What makes two messages 'the same': equal once whitespace is collapsed and the
    numbers in them (a cosine, an index, a count) are set aside."""
    text = " ".join(str(message or "").split())
    return _NUMBER.sub("#", text)


def message_groups(df: pd.DataFrame) -> list[dict]:
    """Cases grouped by message (see `message_key`), largest group first. Each group:
    key, message (the text itself when all its cases say exactly the same, else the text
    with its numbers as #), same (bool), count, and the cases (a DataFrame)."""
    if df.empty:
        return []
    keys = df["message"].map(message_key)
    out = []
    for key, sub in df.groupby(keys, sort=False):
        texts = set(" ".join(str(m or "").split()) for m in sub["message"])
        same = len(texts) == 1
        out.append({"key": key, "message": texts.pop() if same else key, "same": same, "count": len(sub),
                    "cases": sub})
    out.sort(key=lambda g: (-g["count"], g["key"]))
    return out


def spread(values, limit: int = 6) -> str:
    """A few distinct values, most frequent first: 'Conv, Add, … (+12)'."""
    s = pd.Series([v for v in values if isinstance(v, str) and v])
    if s.empty:
        return ""
    top = list(s.value_counts().index)
    return ", ".join(top[:limit]) + (f", … (+{len(top) - limit})" if len(top) > limit else "")


def failures(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Cases that did not pass, grouped by who is to blame."""
    cols = ["case", "mode", "placement", "message", "repro", "worst_layer", "metrics.cosine", "subject"]
    return {
        "Product failures": df[df["outcome"] == "failed"][cols],
        "Infrastructure errors": df[df["outcome"] == "error"][cols],
        "Vendor findings (expected failures)": df[df["outcome"] == "xfail"][cols],
        "Not supported": df[df["outcome"] == "unsupported"][cols],
        "Exempt (declared, not judged)": df[df["outcome"] == "exempt"][cols],
        "Skipped": df[df["outcome"] == "skipped"][cols],
    }


def environment(df: pd.DataFrame) -> pd.DataFrame:
    """What the results' `versions` say, one row per target/board and distinct versions."""
    vcols = [c for c in df.columns if c.startswith("versions.")]
    if not vcols:
        return pd.DataFrame()
    names = [c[len("versions."):] for c in vcols]
    order = [n for n in VERSION_KEYS_FIRST if n in names] + sorted(n for n in names if n not in VERSION_KEYS_FIRST)
    t = df[["target", "board", *vcols]].rename(columns=dict(zip(vcols, names)))
    t = t.astype(object).where(t.notna(), "").drop_duplicates()
    t["rank"] = t["target"].map({x: i for i, x in enumerate(TARGET_ORDER)}).fillna(len(TARGET_ORDER))
    return t.sort_values(["rank", "target", "board"])[["target", "board", *order]].reset_index(drop=True)


def outcome_counts(df: pd.DataFrame) -> dict[str, int]:
    """Cases per outcome, every outcome present (0 when none), in report order."""
    vc = df["outcome"].value_counts()
    return {o: int(vc.get(o, 0)) for o in OUTCOMES}
