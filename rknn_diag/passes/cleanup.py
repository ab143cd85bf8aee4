"""Identity and (inference-time) Dropout do nothing: remove them."""

from __future__ import annotations

from ..ir import Graph
from .rewire import bypass


def remove_identities(graph: Graph) -> int:
    changed = 0
    for node in list(graph.nodes):
        if node.op_type in ("Identity", "Dropout") and node.inputs and (
                len(node.outputs) == 1 or not any(node.outputs[1:])):  # Dropout's mask unused
            changed += bypass(graph, node)
    return changed
