"""Charts as inline SVG text (matplotlib, optional).

Each function returns an `<svg>` string, or None when matplotlib is not installed —
the HTML then shows the same numbers as tables, with a note. matplotlib is imported
lazily and only through its object API (no pyplot, no global backend state).
"""

from __future__ import annotations

import io
import itertools
import re

import numpy as np
import pandas as pd

_counter = itertools.count()
MISSING_NOTE = ("Charts are not drawn: matplotlib is not installed (pip install matplotlib). "
                "The tables show the same numbers.")
MODE_COLOURS = {"float16": "#4C72B0", "dynamic_fixed_point-i16": "#55A868", "w8a8": "#C44E52",
                "asymmetric_quantized-u8": "#8172B2"}


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(w: float, h: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(w, h), layout="constrained")


def _svg(fig, title: str) -> str:
    import matplotlib
    buf = io.StringIO()
    # A salt per chart keeps element ids unique when several SVGs share one page;
    # text stays text (smaller, selectable, prints sharp).
    with matplotlib.rc_context({"svg.hashsalt": f"chart{next(_counter)}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", dpi=150)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return text.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def accuracy(df: pd.DataFrame, modes: list[str], floors: dict[str, dict[str, float]]) -> str | None:
    """Per mode: cosine (as 1 − cosine on a log axis, labelled in cosine) and SQNR,
    every case a dot, floors as red bars."""
    if not available():
        return None
    from matplotlib.ticker import FuncFormatter
    judged = df[df["metrics.cosine"].notna() | df["metrics.sqnr_db"].notna()]
    if judged.empty:
        return None
    fig = _figure(10, 3.6)
    ax_c, ax_s = fig.subplots(1, 2)
    rng = np.random.default_rng(0)  # fixed jitter: the same run draws the same chart
    # Thousands of dots as SVG elements make a slow, heavy page: draw them as an
    # embedded image inside the SVG instead (axes and text stay vector).
    raster = len(judged) > 1500
    for i, mode in enumerate(modes):
        sub = judged[judged["mode"] == mode]
        colour = MODE_COLOURS.get(mode, "#666666")
        gap = np.clip(1 - sub["metrics.cosine"].dropna().to_numpy(), 1e-7, 1)
        ax_c.scatter(i + rng.uniform(-0.25, 0.25, len(gap)), gap, s=9, alpha=0.6, color=colour, rasterized=raster)
        sq = sub["metrics.sqnr_db"].dropna().to_numpy()
        ax_s.scatter(i + rng.uniform(-0.25, 0.25, len(sq)), sq, s=9, alpha=0.6, color=colour, rasterized=raster)
        if mode in floors.get("cosine", {}):
            ax_c.hlines(1 - floors["cosine"][mode], i - 0.4, i + 0.4, colors="red", linewidth=2)
        if mode in floors.get("sqnr_db", {}):
            ax_s.hlines(floors["sqnr_db"][mode], i - 0.4, i + 0.4, colors="red", linewidth=2)
    ax_c.set_yscale("log")
    ax_c.invert_yaxis()  # better (closer to 1) is up
    ax_c.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 - v:.{max(0, int(round(-np.log10(v))))}f}"))
    ax_c.set_ylabel("cosine vs float (log of 1 − cosine)")
    ax_s.set_ylabel("SQNR vs float (dB)")
    for ax, title in ((ax_c, "Cosine similarity per mode"), (ax_s, "SQNR per mode")):
        ax.set_xticks(range(len(modes)), [m.replace("_", "_\u200b") for m in modes], fontsize=8)
        ax.set_title(title + " (red: gate floor)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    return _svg(fig, "Accuracy distribution per mode")


def latency(df: pd.DataFrame) -> str | None:
    """Zoo model latency per target/board (log axis: the simulator is far slower than a
    board), one bar per mode."""
    if not available():
        return None
    zoo = df[(df["kind"] == "model") & df["latency_ms"].notna()]
    if zoo.empty:
        return None
    table = zoo.pivot_table(index=["subject", "placement"], columns="mode", values="latency_ms", aggfunc="median")
    fig = _figure(10, 0.32 * len(table) + 1.2)
    ax = fig.subplots()
    from .tables import MODE_ORDER, ordered
    modes = ordered(table.columns, MODE_ORDER)
    height = 0.8 / max(len(modes), 1)
    y = np.arange(len(table))
    for j, mode in enumerate(modes):
        ax.barh(y + j * height, table[mode].to_numpy(), height, label=mode, color=MODE_COLOURS.get(mode))
    ax.set_yticks(y + 0.4 - height / 2, [f"{m} — {p}" for m, p in table.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_title("Model zoo latency per target and board", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title="mode", title_fontsize=8)
    return _svg(fig, "Model zoo latency per target and board")


def op_latency(df: pd.DataFrame) -> str | None:
    """Op case latency on each board, one box per board."""
    if not available():
        return None
    ops = df[(df["kind"] == "op") & df["latency_ms"].notna()]
    if ops.empty:
        return None
    groups = [(p, g["latency_ms"].to_numpy()) for p, g in ops.groupby("placement")]
    fig = _figure(10, 0.5 * len(groups) + 1.2)
    ax = fig.subplots()
    values, labels = [v for _, v in groups], [re.sub(r"^board ", "", p) for p, _ in groups]
    try:
        ax.boxplot(values, orientation="horizontal", tick_labels=labels)
    except TypeError:  # matplotlib < 3.10 spells it differently
        ax.boxplot(values, vert=False, labels=labels)
    ax.set_xlabel("latency (ms)")
    ax.set_title("Op case latency per board", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig, "Op case latency per board")
