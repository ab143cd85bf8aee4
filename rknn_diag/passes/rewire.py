"""Shared helpers for passes: replacing uses of a value and checking single use."""

from __future__ import annotations

from ..ir import Graph, Node


def replace_uses(graph: Graph, old: str, new: str) -> None:
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]


def is_graph_output(graph: Graph, name: str) -> bool:
    return any(o.name == name for o in graph.outputs)


def producer(graph: Graph, value: str) -> Node | None:
    """The node writing `value` (None for a graph input or a constant)."""
    return next((n for n in graph.nodes if value in n.outputs), None)


def sole_consumer(graph: Graph, value: str) -> Node | None:
    """The only node reading `value`, if exactly one does and it is not a graph output."""
    if is_graph_output(graph, value):
        return None
    users = [n for n in graph.nodes if value in n.inputs]
    return users[0] if len(users) == 1 else None


def bypass(graph: Graph, node: Node) -> bool:
    """Remove a pass-through node (output == input). Returns False when it cannot go
    (its input is a graph input/constant and its output a graph output)."""
    src, dst = node.inputs[0], node.outputs[0]
    if is_graph_output(graph, dst):
        producer = graph.producers().get(src)
        if producer is None or is_graph_output(graph, src):
            return False
        # Let the producer write the graph output directly.
        producer.outputs = [dst if o == src else o for o in producer.outputs]
        replace_uses(graph, src, dst)
        producer.source.extend(s for s in node.source if s not in producer.source)
    else:
        replace_uses(graph, dst, src)
    graph.nodes.remove(node)
    return True
