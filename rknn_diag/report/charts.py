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
MODE_COLOURS = {"float16": "#4C72B0", "asymmetric_quantized-u8": "#8172B2", "dynamic_fixed_point-i8": "#937860",
                "dynamic_fixed_point-i16": "#55A868", "w8a8": "#C44E52", "w8a16": "#DD8452",
                "w16a16i_dfp": "#4DA6C4", "w4a16": "#DA8BC3"}
MODE_MARKERS = "osD^v<>ph*"


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
    """Per mode, one row each (labels never collide, however many modes): cosine (as
    1 − cosine on a log axis, labelled in cosine) and SQNR, every case a dot, floors as
    red bars."""
    if not available():
        return None
    from matplotlib.ticker import FuncFormatter
    judged = df[df["metrics.cosine"].notna() | df["metrics.sqnr_db"].notna()]
    modes = [m for m in modes if (judged["mode"] == m).any()]
    if judged.empty or not modes:
        return None
    fig = _figure(10, 0.42 * len(modes) + 1.3)
    ax_c, ax_s = fig.subplots(1, 2, sharey=True)
    rng = np.random.default_rng(0)  # fixed jitter: the same run draws the same chart
    # Thousands of dots as SVG elements make a slow, heavy page: draw them as an
    # embedded image inside the SVG instead (axes and text stay vector).
    raster = len(judged) > 1500
    for i, mode in enumerate(modes):
        sub = judged[judged["mode"] == mode]
        colour = MODE_COLOURS.get(mode, "#666666")
        gap = np.clip(1 - sub["metrics.cosine"].dropna().to_numpy(), 1e-7, 1)
        ax_c.scatter(gap, i + rng.uniform(-0.28, 0.28, len(gap)), s=7, alpha=0.5, color=colour, rasterized=raster,
                     linewidths=0)
        sq = sub["metrics.sqnr_db"].dropna().to_numpy()
        ax_s.scatter(sq, i + rng.uniform(-0.28, 0.28, len(sq)), s=7, alpha=0.5, color=colour, rasterized=raster,
                     linewidths=0)
        if mode in floors.get("cosine", {}):
            ax_c.vlines(1 - floors["cosine"][mode], i - 0.42, i + 0.42, colors="red", linewidth=2)
        if mode in floors.get("sqnr_db", {}):
            ax_s.vlines(floors["sqnr_db"][mode], i - 0.42, i + 0.42, colors="red", linewidth=2)
    ax_c.set_xscale("log")
    ax_c.invert_xaxis()  # better (closer to 1) is to the right
    ax_c.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 - v:.{max(0, int(round(-np.log10(v))))}f}"))
    ax_c.set_xlabel("cosine vs float (log of 1 − cosine)")
    ax_s.set_xlabel("SQNR vs float (dB)")
    ax_c.set_yticks(range(len(modes)), modes, fontsize=8)
    ax_c.set_ylim(len(modes) - 0.5, -0.5)  # first mode on top
    for ax, title in ((ax_c, "Cosine similarity per mode"), (ax_s, "SQNR per mode")):
        ax.set_title(title + " (red: gate floor)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    return _svg(fig, "Accuracy distribution per mode")


def latency(df: pd.DataFrame) -> str | None:
    """Model latency: one panel per target/board (log axis: the simulator is far slower
    than a board), a row per model, a dot per mode."""
    if not available():
        return None
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from .tables import MODE_ORDER, TARGET_ORDER, ordered
    zoo = df[(df["kind"] == "model") & df["latency_ms"].notna()]
    if zoo.empty:
        return None
    table = zoo.pivot_table(index="subject", columns=["placement", "mode"], values="latency_ms", aggfunc="median")
    placements = sorted(dict.fromkeys(table.columns.get_level_values(0)),
                        key=lambda p: (TARGET_ORDER.index(p.split()[0]) if p.split()[0] in TARGET_ORDER else 9, p))
    modes = ordered(table.columns.get_level_values(1), MODE_ORDER)
    models = list(table.index)
    ncols = min(len(placements), 4)
    nrows = -(-len(placements) // ncols)
    fig = _figure(10, nrows * (0.3 * len(models) + 0.9) + 0.5)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    y = np.arange(len(models))
    dodge = np.linspace(-0.3, 0.3, len(modes)) if len(modes) > 1 else np.zeros(1)
    for ax, p in zip(axes, placements):
        for j, mode in enumerate(modes):
            if (p, mode) not in table.columns:
                continue
            ax.scatter(table[(p, mode)].to_numpy(), y + dodge[j], s=16, color=MODE_COLOURS.get(mode, "#666666"),
                       marker=MODE_MARKERS[j % len(MODE_MARKERS)], label=mode, linewidths=0)
        ax.set_xscale("log")
        # decades only: minor labels (2×10¹, 3×10¹ ...) run into each other in narrow panels
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(p, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("ms (log)", fontsize=8)
    for ax in axes[len(placements):]:
        ax.set_visible(False)
    axes[0].set_yticks(y, models, fontsize=8)
    axes[0].set_ylim(len(models) - 0.5, -0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(modes), 8), fontsize=8, frameon=False)
    fig.suptitle("Model latency per target and board, per mode", fontsize=10)
    return _svg(fig, "Model latency per target and board")


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
