"""Structural checks of a Graph, run on every graph that enters the toolkit (an ONNX file at
load, a model file at load): names resolve, nodes in dependency order, no cycle, every output
produced, every dimension and size within `rknn_diag.limits`. A file that fails is refused
with the caller's error type (both map to RKNN_ERR_MODEL_INVALID) and never runs."""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import limits
from .errors import ModelLoadError, RknnDiagError
from .ir import Graph

ErrorType = Callable[..., RknnDiagError]


def _nbytes(shape, dtype) -> int:
    itemsize = np.dtype(dtype).itemsize if dtype is not None else 4
    return int(np.prod([int(d) for d in shape], dtype=object)) * itemsize


def check_shape(name: str, shape, where: str, error: ErrorType = ModelLoadError, dtype=None) -> int:
    """Refuse a negative, non-integer or oversized dim, or a tensor over the element cap.
    Returns the tensor's bytes (0 when a dim is symbolic)."""
    if shape is None:
        return 0
    known = True
    for d in shape:
        if d is None or isinstance(d, str):
            known = False
            continue
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 or d > limits.MAX_DIM:
            raise error(f"tensor '{name}' has dimension {d!r} in shape {list(shape)}: dims must be integers "
                        f"in 0..{limits.MAX_DIM}", where=where, fix="re-export the model with sane shapes")
    if not known:
        return 0
    elements = int(np.prod([int(d) for d in shape], dtype=object))
    if elements > limits.MAX_TENSOR_ELEMENTS:
        raise error(f"tensor '{name}' of shape {list(shape)} has {elements} elements, over the cap of "
                    f"{limits.MAX_TENSOR_ELEMENTS}", where=where,
                    fix="check the model's shapes (a bogus Expand/ConstantOfShape/Reshape?)")
    return _nbytes(shape, dtype)


def check_graph(graph: Graph, where: str, error: ErrorType = ModelLoadError) -> None:
    if not graph.outputs:
        raise error("the model has no outputs", where=where, fix="export the model with its outputs")
    if len(graph.nodes) > limits.MAX_NODES:
        raise error(f"the model has {len(graph.nodes)} nodes, over the cap of {limits.MAX_NODES}", where=where)
    total = 0
    for v in graph.inputs:
        total += check_shape(v.name, v.shape, where, error, v.dtype)
    for k, c in graph.constants.items():
        total += check_shape(k, np.shape(c), where, error, getattr(c, "dtype", None))
    _check_names(graph, where, error)
    inferred = graph.meta.get("shapes") or {}
    known = {v.name for v in graph.inputs} | set(graph.constants)
    for name, shape in inferred.items():
        if name not in known:
            total += check_shape(name, shape, where, error)
    if total > limits.MAX_MODEL_BYTES:
        raise error(f"the model's tensors need {total / 2**20:.0f} MiB, over the cap of "
                    f"{limits.MAX_MODEL_BYTES // 2**20} MiB", where=where,
                    fix="reduce the input size or check the model's shapes")


def _check_names(graph: Graph, where: str, error: ErrorType) -> None:
    """Every node input resolves to an input, a constant or an earlier node's output."""
    available = {v.name for v in graph.inputs} | set(graph.constants)
    producer: dict[str, str] = {}
    for n in graph.nodes:
        for o in n.outputs:
            if not o:
                continue
            if o in available or o in producer:
                first = producer.get(o, "a graph input or constant")
                raise error(f"tensor '{o}' is produced twice (by {first} and node '{n.name}')",
                            where=f"{where}, node '{n.name}' ({n.op_type})", fix="the model is malformed; re-export it")
            producer[o] = f"node '{n.name}'"
    seen = set(available)
    for idx, n in enumerate(graph.nodes):
        for i in n.inputs:
            if i and i not in seen:
                node_where = f"{where}, node '{n.name}' ({n.op_type})"
                if i not in producer:
                    raise error(f"input '{i}' of node '{n.name}' is produced by no node, input or initializer "
                                f"(a dangling name)", where=node_where, fix="the model is malformed; re-export it")
                if _in_cycle(graph, idx):
                    raise error(f"node '{n.name}' is on a cycle (it depends on its own output through '{i}')",
                                where=node_where, fix="a neural network graph must be acyclic; re-export it")
                raise error(f"nodes are not in topological order: '{n.name}' reads '{i}' before "
                            f"{producer[i]} produces it", where=node_where,
                            fix="sort the graph (onnx requires topological order), e.g. re-export it")
        seen.update(o for o in n.outputs if o)
    for v in graph.outputs:
        if v.name not in seen:
            raise error(f"graph output '{v.name}' is produced by no node, input or initializer", where=where,
                        fix="the model is malformed; re-export it")


def _in_cycle(graph: Graph, start: int) -> bool:
    """Does node `start` depend (transitively) on its own outputs?"""
    producer = {o: n for n in graph.nodes for o in n.outputs if o}
    target = graph.nodes[start]
    stack, visited = [i for i in target.inputs if i], set()
    while stack:
        name = stack.pop()
        n = producer.get(name)
        if n is None or id(n) in visited:
            continue
        if n is target:
            return True
        visited.add(id(n))
        stack.extend(i for i in n.inputs if i)
    return False
