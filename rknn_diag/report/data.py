"""Result lines -> one flat pandas table, with the report's reading of each line.

Every line becomes one row. A case that appears twice for the same mode, target and
board (a rerun appended to the same file, or two files) keeps its LAST line: a rerun
replaces what it reran and leaves what it skipped.

Columns: the CaseResult fields, `metrics.<name>` and `versions.<name>` flattened, and
`outcome`, the one word the report counts by (see `outcome`; the line's category is read
through `category` alone), `kind` (op or model), `subject` (the op or model name),
`family` (the op's kernel family, for tiling the matrix) and `placement` (target and board).

Model cases: a line with `model` set, or one the suite wrote with `op="model"` (the quantized
zoo: `quant/zoo/<name>/<mode>`), whose model name is then read from the case id.

Worst layer: a failed accuracy case may name the layer where the error starts, from
the accuracy analysis, as `metrics["worst_layer"]` (the layer/node name, a string) and
`metrics["worst_layer_cosine"]` (that layer's cosine against float), or, when the
writer could not put it in metrics, as `worst_layer=<name>` in `message`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

import pandas as pd

from rknn_diag import outcome as _oc
from rknn_diag.results import read

from ..errors import ResultsFileError, UnsupportedOpError
from ..ops import get

# The outcomes the report counts, in the order it shows them (categories: rknn_diag.outcome).
OUTCOMES = ("passed", "failed", "error", "xfail", "unsupported", "exempt", "skipped")
OUTCOME_LABELS = {
    "passed": "passed",
    "failed": "failed (product: ours)",
    "error": "errors (infrastructure)",
    "xfail": "vendor findings",
    "unsupported": "vendor refusals / no reference",
    "exempt": "exempt (declared, not judged)",
    "skipped": "skipped",
}
# How the page marks each outcome in a cell: a symbol and a short word.
OUTCOME_SYMBOLS = {"passed": "✓", "failed": "✗", "error": "!", "xfail": "~", "unsupported": "–", "exempt": "○",
                   "skipped": "·"}
OUTCOME_WORDS = {"passed": "pass", "failed": "FAIL", "error": "error", "xfail": "vendor", "unsupported": "n/s",
                 "exempt": "exempt", "skipped": "skip"}
# What a matrix cell shows when its cases ended differently: the most alarming wins.
SEVERITY = ("failed", "error", "xfail", "exempt", "unsupported", "passed", "skipped")
KEY = ["case", "mode", "target", "board"]
_WORST_LAYER_RE = re.compile(r"worst_layer=([^\s,;()]+)")


def outcome(status: str, category: str | None) -> str:
    """What a line counts as: how the case ended and who is to blame (`rknn_diag.outcome`).
    A line without a category (older files) is blamed by its status alone."""
    if status in ("passed", "xpass"):
        return "passed"
    if status == "skipped":
        return "skipped"
    if status == "error" or category == _oc.INFRASTRUCTURE:
        return "error"
    if category == _oc.VENDOR:
        return "xfail"      # a vendor finding
    if category in (_oc.UNSUPPORTED, _oc.REFERENCE):
        return "unsupported"
    if category == _oc.EXEMPT:
        return "exempt"
    return "failed" if status == "failed" or category == _oc.PRODUCT else "xfail"


def category(record) -> str | None:
    """Who is to blame for a line that did not pass, as the result record says it: the one
    place the report reads it (the categories may come from another field later)."""
    c = record.get("category")
    return c if isinstance(c, str) and c else None


def model_name(record) -> str | None:
    """The model a model case ran, or None for an op case."""
    m = record.get("model")
    if isinstance(m, str) and m:
        return m
    if record.get("op") != "model":
        return None
    parts = str(record.get("case") or "").split("/")
    if "zoo" in parts[:-1]:
        i = parts.index("zoo") + 1
        name, rest = parts[i], parts[i + 1:]
    else:
        name, rest = (parts[-2], parts[-1:]) if len(parts) > 1 else (parts[0], [])
    # the mode is a column already; anything else (e.g. accuracy_analysis) names a distinct case
    extra = [x for x in rest if x and x != record.get("mode")]
    return name + (f" ({'/'.join(extra)})" if extra else "")


def op_family(op) -> str:
    """The registry's family of an op (its kernel module: conv, pool, activation ...)."""
    try:
        return get(op).family
    except UnsupportedOpError:
        return "other"


def load(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read results files into the flat table. Raises ResultsFileError naming the file
    (and line) when a file is missing, empty or malformed."""
    rows = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise ResultsFileError(f"results file not found: {p}", where=str(p),
                                   fix="pass the results.jsonl written by the conformance suite")
        n = 0
        try:
            for r in read([p]):
                d = asdict(r)
                metrics, versions = d.pop("metrics") or {}, d.pop("versions") or {}
                if not isinstance(metrics, dict) or not isinstance(versions, dict):
                    raise ValueError(f"{p}: result number {n + 1} (case {d['case']!r}): "
                                     "metrics/versions must be JSON objects")
                d.update({f"metrics.{k}": v for k, v in metrics.items()})
                d.update({f"versions.{k}": v for k, v in versions.items()})
                d["source"] = str(p)
                d["outcome"] = outcome(d["status"], category(d))
                d["model"] = model_name(d)
                rows.append(d)
                n += 1
        except UnicodeDecodeError as e:
            raise ResultsFileError(f"results file is not UTF-8 text ({e.reason} at byte {e.start})",
                                   where=str(p), fix="pass the JSON-lines results file") from None
        except ValueError as e:
            # results.read names file:line; keep that as the place.
            text = str(e)
            where, _, what = text.partition(": ")
            raise ResultsFileError(what or text, where=where if what else str(p),
                                   fix="repair or remove that line (each line is one JSON result)") from None
        if n == 0:
            raise ResultsFileError("results file holds no result lines", where=str(p),
                                   fix="check the conformance run wrote to this file")
    df = pd.DataFrame(rows)
    for col in ("metrics.cosine", "metrics.sqnr_db", "metrics.max_abs", "metrics.mean_abs", "metrics.top1",
                "metrics.worst_layer", "metrics.worst_layer_cosine", "latency_ms"):
        if col not in df:
            df[col] = None
    df["board"] = df["board"].astype(object).where(df["board"].notna(), None)
    df = df.drop_duplicates(subset=KEY, keep="last").reset_index(drop=True)
    df["kind"] = ["model" if isinstance(m, str) and m else "op" for m in df["model"]]
    df["subject"] = [m if k == "model" else (o or c) for k, m, o, c in zip(df["kind"], df["model"], df["op"], df["case"])]
    families = {s: op_family(s) for s in set(df.loc[df["kind"] == "op", "subject"])}
    df["family"] = [families[s] if k == "op" else "model" for k, s in zip(df["kind"], df["subject"])]
    df["placement"] = [f"{t} {b}" if b else t for t, b in zip(df["target"], df["board"])]
    df["worst_layer"] = [worst_layer(w, m) for w, m in zip(df["metrics.worst_layer"], df["message"])]
    for col in ("metrics.cosine", "metrics.sqnr_db", "metrics.max_abs", "metrics.mean_abs", "metrics.top1",
                "metrics.worst_layer_cosine", "latency_ms"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def worst_layer(from_metrics, message: str) -> str | None:
    if isinstance(from_metrics, str) and from_metrics:
        return from_metrics
    m = _WORST_LAYER_RE.search(message or "")
    return m.group(1) if m else None


def cell_id(target: str, subject: str, mode: str) -> str:
    """The anchor of one matrix cell's case list."""
    return "cases-" + re.sub(r"[^A-Za-z0-9_-]+", "_", f"{target}-{subject}-{mode}")
