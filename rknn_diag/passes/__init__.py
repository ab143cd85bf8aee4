"""Graph rewrites. Each pass takes a Graph, changes it in place and returns how
many rewrites it made; `optimize` runs them in a fixed order until nothing changes.
Every merge extends the surviving node's `source`, so layer dumps map back."""

from __future__ import annotations

from ..ir import Graph
from .cleanup import remove_identities
from .fold_bn import fold_batchnorm
from .fold_constants import fold_constants
from .fuse_activation import fuse_activations
from .fuse_decomposed import fuse_decomposed
from .fuse_matmul_bias import fuse_matmul_bias

PIPELINE = (remove_identities, fold_constants, fold_batchnorm, fuse_decomposed, fuse_matmul_bias, fuse_activations)


def optimize(graph: Graph, level: int = 3) -> Graph:
    """level 0: only what correctness needs (identities, constants); >=1: folding and fusion."""
    passes = PIPELINE if level >= 1 else (remove_identities, fold_constants)
    for _ in range(20):
        if not sum(p(graph) for p in passes):
            break
    graph.remove_unused()
    return graph
