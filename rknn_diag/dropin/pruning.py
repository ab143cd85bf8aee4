"""config(model_pruning=True): what can be removed without changing any output, removed and reported.

* dead branches: nodes no graph output depends on;
* constant branches: nodes whose inputs are all constants, computed once at build time;
* all-zero channels (toolkit2's model_pruning example: "only models with sparse weights can
  be pruned"): an output channel of a Conv whose weights are all zero is a constant,
  act(bias). When every reader of that tensor is a plain Conv (group 1), the channel is cut
  from the producer and the readers; a non-zero constant is moved into the readers' biases,
  which is exact only if the readers add no padding, so such channels are cut only then.
The build prints the vendor-style summary: weight and multiply-accumulate savings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph
from ..log import Logger
from ..ops.registry import POST_OP_OPSET, run
from ..passes.fold_constants import fold_constants


@dataclass
class Size:
    nodes: int
    weight_bytes: int
    macs: int

    @classmethod
    def of(cls, graph: Graph) -> "Size":
        used = {i for n in graph.nodes for i in n.inputs}
        weights = sum(np.asarray(v).nbytes for k, v in graph.constants.items() if k in used)
        return cls(len(graph.nodes), weights, _macs(graph))


def _macs(graph: Graph) -> int:
    """Multiply-accumulates of Conv and Gemm/MatMul with known shapes (the bulk of the work)."""
    return sum(node_macs(graph, n) for n in graph.nodes)


def node_macs(graph: Graph, n) -> int:
    """One Conv/Gemm/MatMul layer's multiply-accumulates (0 for other layers or unknown shapes)."""
    shapes = graph.meta.get("shapes", {})
    w = graph.constants.get(n.inputs[1]) if len(n.inputs) > 1 else None
    out = shapes.get(n.outputs[0]) if n.outputs else None
    if w is None or not out or not all(isinstance(d, int) for d in out):
        return 0
    if n.op_type == "Conv":
        return int(np.prod(out)) * int(np.prod(np.shape(w)[1:]))
    if n.op_type in ("Gemm", "MatMul"):
        return int(np.prod(out)) * int(np.shape(w)[0 if n.op_type == "MatMul" or not n.attrs.get("transB") else 1])
    return 0


def remove_branches(graph: Graph) -> dict[str, int]:
    """Dead and constant branches, removed; their counts."""
    n0 = len(graph.nodes)
    graph.remove_unused()
    dead = n0 - len(graph.nodes)
    constant = 0
    while True:
        k = fold_constants(graph)
        if not k:
            break
        constant += k
    graph.remove_unused()
    return {"dead": dead, "constant": constant}


def _constant_of(node, bias: float) -> float:
    """act(bias): the value an all-zero-weight channel takes after the node's fused activations."""
    v = np.asarray([bias], np.float32)
    for post in node.post_ops:
        v = np.asarray(run(post.op_type, [v, *post.inputs], post.attrs, POST_OP_OPSET)[0], np.float32)
    return float(v[0])


def zero_channels(graph: Graph) -> int:
    """Cut all-zero output channels of Convs where every reader can take the cut; their count."""
    cut = 0
    outputs = {v.name for v in graph.outputs}
    for node in list(graph.nodes):
        if node.op_type != "Conv" or int(node.attrs.get("group", 1)) != 1 or len(node.inputs) < 2:
            continue
        w = graph.constants.get(node.inputs[1])
        y = node.outputs[0]
        if w is None or y in outputs or len(node.outputs) != 1:
            continue
        readers = [n for n in graph.nodes if y in n.inputs]
        if not readers or any(r.op_type != "Conv" or int(r.attrs.get("group", 1)) != 1 or r.inputs[0] != y
                              or r.inputs.count(y) != 1 or r.inputs[1] not in graph.constants for r in readers):
            continue
        b_name = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
        bias = np.asarray(graph.constants[b_name], np.float32) if b_name else np.zeros(w.shape[0], np.float32)
        zero = np.flatnonzero(~np.asarray(w).reshape(w.shape[0], -1).any(axis=1))
        consts = {int(k): _constant_of(node, float(bias[k])) for k in zero}
        padded = any(any(r.attrs.get("pads", [0])) or r.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")
                     for r in readers)
        drop = [k for k, c in consts.items() if c == 0.0 or not padded]
        if not drop or len(drop) == w.shape[0]:
            continue
        keep = np.setdiff1d(np.arange(w.shape[0]), drop)
        for r in readers:
            rw = np.asarray(graph.constants[r.inputs[1]], np.float32)
            # no padding: every output sees the constant channel through the whole kernel
            shift = sum(rw[:, k].reshape(rw.shape[0], -1).sum(axis=1) * consts[k] for k in drop if consts[k] != 0.0)
            graph.constants[r.inputs[1]] = np.ascontiguousarray(rw[:, keep])
            if np.any(shift):
                rb_name = r.inputs[2] if len(r.inputs) > 2 and r.inputs[2] else f"{r.name}_pruned_bias"
                rb = np.asarray(graph.constants.get(rb_name, np.zeros(rw.shape[0], np.float32)), np.float32)
                graph.constants[rb_name] = (rb + shift).astype(np.float32)
                if len(r.inputs) < 3 or not r.inputs[2]:
                    r.inputs = [*r.inputs[:2], rb_name]
        graph.constants[node.inputs[1]] = np.ascontiguousarray(np.asarray(w)[keep])
        if b_name:
            graph.constants[b_name] = bias[keep]
        shapes = graph.meta.get("shapes", {})
        if isinstance(shapes.get(y), (list, tuple)) and len(shapes[y]) > 1:
            shapes[y] = (shapes[y][0], len(keep), *shapes[y][2:])
        cut += len(drop)
    return cut


def report(sizes: list[Size], branches: dict[str, int], channels: int, log: Logger) -> dict:
    """sizes: loaded, after branch removal, after optimisation, after channel cuts. The savings
    counted are pruning's own (branches + channels), not the optimiser's folds and fusions."""
    s0, s1, s2, s3 = sizes
    dw = (s1.weight_bytes - s0.weight_bytes) + (s3.weight_bytes - s2.weight_bytes)
    dm = (s1.macs - s0.macs) + (s3.macs - s2.macs)

    def pct(d: int, base: int) -> str:
        return f"{d / base * 100:+.1f}%" if base else "n/a"

    log.i("model_pruning results:")
    log.i(f"    dead branches: {branches['dead']} node(s) removed; constant branches: {branches['constant']} "
          f"node(s) computed at build time; all-zero channels cut: {channels}")
    log.i(f"    Weight: {dw / 2**20:+.5f} MB ({pct(dw, s0.weight_bytes)})")
    log.i(f"    MACs:   {dm:+d} ({pct(dm, s0.macs)})")
    return {"dead": branches["dead"], "constant": branches["constant"], "channels": channels,
            "weight_bytes": dw, "macs": dm}
