"""One direction of dependency (DESIGN.md, rules of thumb): no import cycle between the
simulator (`sim/`), the quantizer (`quant/`), the build pipeline (`pipeline.py`), the targets
(`targets/` and the board layer `board/` they sit on) and the API facade (`api.py`) — lazy
imports inside functions included.

The import graph is read from the source with `ast`, so a function-level import that would
only run late counts as much as one at the top of a module."""

from __future__ import annotations

import ast
import graphlib
from collections import deque
from pathlib import Path

import rknn_diag

PACKAGE = Path(rknn_diag.__file__).resolve().parent
# Layer name -> the module prefixes it holds.
LAYERS = {
    "api": ("rknn_diag.api",),
    "targets": ("rknn_diag.targets", "rknn_diag.board"),
    "pipeline": ("rknn_diag.pipeline",),
    "quant": ("rknn_diag.quant",),
    "sim": ("rknn_diag.sim",),
}


def module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its source (parent packages
    included: importing a.b.c runs a/__init__ and a/b/__init__)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets.add(stem)
                targets.update(f"{stem}.{a.name}" for a in node.names)   # `from pkg import submodule`
        edges = set()
        for t in targets:
            parts = t.split(".")
            edges.update(m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if m in modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def layer_of(module: str, layers: dict[str, tuple[str, ...]]) -> str | None:
    for layer, prefixes in layers.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def layer_cycle(graph: dict[str, set[str]], layers: dict[str, tuple[str, ...]]) -> str | None:
    """A cycle between layers, with the module path of each step, or None. A layer depends on
    another when any of its modules reaches one of the other's through any chain of imports."""
    paths: dict[tuple[str, str], list[str]] = {}
    for layer in layers:
        start = [m for m in graph if layer_of(m, layers) == layer]
        parent = {m: None for m in start}
        queue = deque(start)
        while queue:
            m = queue.popleft()
            other = layer_of(m, layers)
            if other not in (None, layer):
                if (layer, other) not in paths:
                    chain = [m]
                    while parent[chain[-1]] is not None:
                        chain.append(parent[chain[-1]])
                    paths[(layer, other)] = chain[::-1]
                continue   # what `other` imports is `other`'s dependency, found from there
            for n in sorted(graph[m]):
                if n not in parent:
                    parent[n] = m
                    queue.append(n)
    def show(a: str, b: str) -> str:
        return f"{a} -> {b}: {' -> '.join(paths[(a, b)])}"

    mutual = [(a, b) for (a, b) in paths if (b, a) in paths and a < b]
    if mutual:   # every two-layer loop at once, so one run shows all there is to untangle
        return "\n".join(f"{show(a, b)}\n{show(b, a)}" for a, b in mutual)
    sorter = graphlib.TopologicalSorter({a: {b for (x, b) in paths if x == a} for a in layers})
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        cycle = e.args[1]
        return "\n".join(show(a, b) for a, b in zip(cycle, cycle[1:]))
    return None


def test_no_import_cycle_between_sim_quant_pipeline_targets_and_api():
    cycle = layer_cycle(import_graph(PACKAGE), LAYERS)
    assert cycle is None, f"import cycle between layers (module chains; lazy imports count):\n{cycle}"


def test_checker_finds_a_lazy_cycle_and_passes_a_clean_tree(tmp_path):
    """The checker itself: a function-level import that closes a loop through a third module is
    a cycle; the same tree without it is not."""
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "high.py").write_text("from .low import k\n")
    (pkg / "middle.py").write_text("def f():\n    from . import high\n")
    (pkg / "low" / "k.py").write_text("x = 1\n")
    layers = {"high": ("pkg.high",), "low": ("pkg.low",)}
    assert layer_cycle(import_graph(pkg), layers) is None
    (pkg / "low" / "k.py").write_text("def g():\n    from .. import middle\n")
    found = layer_cycle(import_graph(pkg), layers)
    assert found is not None and "pkg.middle" in found and "pkg.low.k" in found
