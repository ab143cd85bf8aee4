"""The one small intermediate representation every frontend produces.

A `Graph` is a topologically ordered list of `Node`s over named values.
Constants (weights, folded tensors) are numpy arrays in `Graph.constants`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Value:
    """A graph input or output: name, shape (ints; str or None for a dynamic dim), dtype."""

    name: str
    shape: tuple | None = None
    dtype: np.dtype | None = None

    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) and d >= 0 for d in self.shape)


@dataclass
class PostOp:
    """An activation fused into the node before it, applied to that node's first output.
    `inputs` are its constant extra inputs (Clip's min/max), None where omitted."""

    op_type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    inputs: list[Any] = field(default_factory=list)


@dataclass
class Node:
    """One op. `inputs` may hold '' for an omitted optional input (ONNX convention).

    `attrs` holds Python values (int, float, str, lists, numpy arrays for tensor
    attributes), named as in ONNX. `post_ops` are activations fused into this
    node by a pass, applied in order to its first output.
    `source` names the original layers this node stands for, so layer dumps
    map back to the source model after merges (guide §2.1 note).
    """

    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    post_ops: list[PostOp] = field(default_factory=list)
    source: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.source:
            self.source = [self.name]


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    inputs: list[Value]
    outputs: list[Value]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    opset: int = 13
    # Free-form facts about where the graph came from (file, producer, ...).
    meta: dict[str, Any] = field(default_factory=dict)

    def producers(self) -> dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def scalar(self, name: str) -> float | None:
        """The value of a one-element float constant, else None (a tensor, or not a constant)."""
        if not name or name not in self.constants:
            return None
        c = np.asarray(self.constants[name])
        return float(c.reshape(-1)[0]) if c.size == 1 and c.dtype.kind == "f" else None

    def clip_bounds(self, node: Node) -> tuple[float | None, float | None] | None:
        """A Clip's (min, max), None for an omitted side, wherever its opset keeps them
        (attributes before opset 11, constant inputs after); None when a bound is computed."""
        if self.opset < 11:
            lo, hi = node.attrs.get("min"), node.attrs.get("max")
            return (None if lo is None else float(lo)), (None if hi is None else float(hi))
        ins = list(node.inputs) + ["", ""]
        if any(i and self.scalar(i) is None for i in ins[1:3]):
            return None
        return self.scalar(ins[1]), self.scalar(ins[2])

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def remove_unused(self) -> None:
        """Drop nodes and constants that no graph output depends on."""
        needed = {v.name for v in self.outputs}
        kept: list[Node] = []
        for n in reversed(self.nodes):
            if any(o in needed for o in n.outputs):
                kept.append(n)
                needed.update(i for i in n.inputs if i)
        self.nodes = kept[::-1]
        self.constants = {k: v for k, v in self.constants.items() if k in needed}
