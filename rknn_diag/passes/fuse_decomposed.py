"""Fuse activations and normalisations that exporters write out op by op back into one layer,
as the NPU compilers do (guide ch. 6: fewer layers, and in a quantized model one quantization
step instead of one per intermediate tensor):

* HardSwish written as  x · Clip(x + 3, 0, 6) / 6            -> HardSwish(x)
* a scalar affine a·y + b after an elementwise activation      -> the activation's fused post-ops
  (PP-LCNet's "learnable affine" after HardSwish: one table in a quantized model)
* SiLU written as  x · Sigmoid(x)                              -> Swish(x) (ONNX opset 24)
* GELU written as  x · 0.5 · (1 + Erf(x / √2)), the factors in any order  -> Gelu(x) (opset 20;
  the vendor's converter makes it one layer too, `exGelu` in its per-layer analysis)
* LayerNorm written as  (x - mean) / sqrt(var + eps) · g + b   -> LayerNormalization(x, g, b)
  (mean and var by ReduceMean over the last axis; Pow 2 or Mul for the square)

Every fused layer keeps the names of the layers it replaced (`source`), so layer dumps and
accuracy_analysis still name the user's layers.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, PostOp
from .rewire import producer, sole_consumer

# Elementwise activations that may carry a scalar affine as post-ops (one input, one output;
# not Relu/Clip, whose output shares its input's quantization parameters).
AFFINE_HOSTS = ("HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Gelu", "Mish")


def _other(node: Node, value: str) -> str | None:
    """The other input of a binary node that reads `value`."""
    if len(node.inputs) != 2 or value not in node.inputs:
        return None
    return node.inputs[1] if node.inputs[0] == value else node.inputs[0]


def _absorb(host: Node, gone: list[Node], graph: Graph) -> None:
    for n in gone:
        host.source.extend(s for s in n.source if s not in host.source)
        graph.nodes.remove(n)


def fuse_silu(graph: Graph) -> int:
    changed = 0
    for sig in list(graph.nodes):
        if sig not in graph.nodes or sig.op_type != "Sigmoid" or sig.post_ops or not sig.inputs:
            continue
        x = sig.inputs[0]
        if x in graph.constants:
            continue
        mul = sole_consumer(graph, sig.outputs[0])
        if mul is None or mul.op_type != "Mul" or mul.post_ops or _other(mul, sig.outputs[0]) != x:
            continue
        sw = Node("Swish", sig.name, [x], [mul.outputs[0]], {}, source=list(sig.source))
        graph.nodes.insert(graph.nodes.index(sig), sw)
        _absorb(sw, [sig, mul], graph)
        changed += 1
    return changed


def _near(v: float | None, want: float, tol: float = 1e-4) -> bool:
    return v is not None and abs(v - want) <= tol * abs(want)


def fuse_gelu(graph: Graph) -> int:
    """Erf(x / √2) (or Erf(x · 1/√2)) -> + 1 -> times x and times 0.5, in the three orders
    exporters write: (x · a) · 0.5, x · (a · 0.5), (x · 0.5) · a."""
    changed = 0
    for erf in list(graph.nodes):
        if erf not in graph.nodes or erf.op_type != "Erf" or erf.post_ops:
            continue
        scale = producer(graph, erf.inputs[0])
        if scale is None or scale.post_ops or sole_consumer(graph, scale.outputs[0]) is not erf:
            continue
        if scale.op_type == "Div" and _near(graph.scalar(scale.inputs[1]), np.sqrt(2.0)):
            x = scale.inputs[0]
        elif scale.op_type == "Mul":
            x = next((i for i in scale.inputs if _near(graph.scalar(_other(scale, i) or ""), np.sqrt(0.5))), None)
        else:
            x = None
        if x is None or x in graph.constants:
            continue
        add = sole_consumer(graph, erf.outputs[0])
        if add is None or add.op_type != "Add" or add.post_ops or graph.scalar(_other(add, erf.outputs[0]) or "") != 1.0:
            continue
        m1 = sole_consumer(graph, add.outputs[0])
        if m1 is None or m1.op_type != "Mul" or m1.post_ops:
            continue
        a, other = add.outputs[0], _other(m1, add.outputs[0])
        gone, out = [scale, erf, add, m1], None
        if other == x or graph.scalar(other or "") == 0.5:             # (x · a) · 0.5 or x · (a · 0.5)
            m2 = sole_consumer(graph, m1.outputs[0])
            want = (lambda o: graph.scalar(o or "") == 0.5) if other == x else (lambda o: o == x)
            if m2 is not None and m2.op_type == "Mul" and not m2.post_ops and want(_other(m2, m1.outputs[0])):
                gone, out = gone + [m2], m2.outputs[0]
        else:                                                          # (x · 0.5) · a
            half = producer(graph, other)
            if (half is not None and half.op_type == "Mul" and not half.post_ops and x in half.inputs
                    and graph.scalar(_other(half, x) or "") == 0.5 and sole_consumer(graph, other) is m1):
                gone, out = gone + [half], m1.outputs[0]
        if out is None or a == out:
            continue
        ge = Node("Gelu", erf.name, [x], [out], {}, source=list(scale.source))
        graph.nodes.insert(graph.nodes.index(min(gone, key=graph.nodes.index)), ge)
        _absorb(ge, gone, graph)
        changed += 1
    return changed


def fuse_hardswish(graph: Graph) -> int:
    changed = 0
    for add in list(graph.nodes):
        if add not in graph.nodes or add.op_type != "Add" or add.post_ops:
            continue
        x = next((i for i in add.inputs if graph.scalar(_other(add, i) or "") == 3.0), None)
        if x is None or x in graph.constants:
            continue
        clip = sole_consumer(graph, add.outputs[0])
        if clip is None or clip.op_type != "Clip" or graph.clip_bounds(clip) != (0.0, 6.0):
            continue
        mul = sole_consumer(graph, clip.outputs[0])
        if mul is None or mul.op_type != "Mul" or _other(mul, clip.outputs[0]) != x or mul.post_ops:
            continue
        div = sole_consumer(graph, mul.outputs[0])
        if div is None or div.post_ops:
            continue
        if div.op_type == "Div" and div.inputs[0] == mul.outputs[0] and graph.scalar(div.inputs[1]) == 6.0:
            pass
        elif div.op_type == "Mul" and abs((graph.scalar(_other(div, mul.outputs[0]) or "") or 0) - 1 / 6) < 1e-7:
            pass
        else:
            continue
        hs = Node("HardSwish", add.name, [x], [div.outputs[0]], {}, source=list(add.source))
        graph.nodes.insert(graph.nodes.index(add), hs)
        _absorb(hs, [add, clip, mul, div], graph)
        changed += 1
    return changed


def fuse_scalar_affine(graph: Graph) -> int:
    changed = 0
    for host in list(graph.nodes):
        if host not in graph.nodes or host.op_type not in AFFINE_HOSTS or len(host.outputs) != 1:
            continue
        while True:
            nxt = sole_consumer(graph, host.outputs[0])
            if nxt is None or nxt.op_type not in ("Mul", "Add") or nxt.post_ops:
                break
            k = _other(nxt, host.outputs[0])
            if k is None or graph.scalar(k) is None:
                break
            host.post_ops.append(PostOp(nxt.op_type, {}, [np.asarray(graph.constants[k], np.float32).reshape(())]))
            host.outputs = [nxt.outputs[0]]
            _absorb(host, [nxt], graph)
            changed += 1
    return changed


def _reduce_last(graph: Graph, node: Node) -> bool:
    """ReduceMean over the last axis (-1) only, keeping dims (the IR keeps no intermediate
    ranks, so a positive last axis is not recognised)."""
    if node.op_type != "ReduceMean" or not node.attrs.get("keepdims", 1):
        return False
    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1] in graph.constants:
        axes = np.asarray(graph.constants[node.inputs[1]]).tolist()
    if axes is None:
        return False
    axes = [int(a) for a in np.atleast_1d(axes)]
    return axes == [-1]


def fuse_layernorm(graph: Graph) -> int:
    changed = 0
    for mean in list(graph.nodes):
        if mean not in graph.nodes:
            continue
        x = mean.inputs[0] if mean.inputs else None
        if x is None or not _reduce_last(graph, mean):
            continue
        sub = sole_consumer(graph, mean.outputs[0])
        if sub is None or sub.op_type != "Sub" or sub.inputs != [x, mean.outputs[0]]:
            continue
        d = sub.outputs[0]
        users = [n for n in graph.nodes if d in n.inputs]
        sq = next((n for n in users if (n.op_type == "Pow" and n.inputs[0] == d and graph.scalar(n.inputs[1]) == 2.0)
                   or (n.op_type == "Mul" and n.inputs == [d, d])), None)
        div = next((n for n in users if n.op_type == "Div" and n.inputs[0] == d), None)
        if sq is None or div is None or len(users) != 2:
            continue
        var = sole_consumer(graph, sq.outputs[0])
        if var is None or not _reduce_last(graph, var):
            continue
        add = sole_consumer(graph, var.outputs[0])
        eps = graph.scalar(_other(add, var.outputs[0]) or "") if add is not None and add.op_type == "Add" else None
        if eps is None:
            continue
        sqrt = sole_consumer(graph, add.outputs[0])
        if sqrt is None or sqrt.op_type != "Sqrt" or div.inputs[1] != sqrt.outputs[0] or \
                sole_consumer(graph, sqrt.outputs[0]) is not div:
            continue
        chain = [mean, sub, sq, var, add, sqrt, div]
        out = div.outputs[0]
        gamma = beta = None
        mul = sole_consumer(graph, out)
        g = _other(mul, out) if mul is not None and mul.op_type == "Mul" and not mul.post_ops else None
        if g is not None and g in graph.constants and np.ndim(graph.constants[g]) == 1:
            gamma, out = g, mul.outputs[0]
            chain.append(mul)
            badd = sole_consumer(graph, out)
            b = _other(badd, out) if badd is not None and badd.op_type == "Add" and not badd.post_ops else None
            if b is not None and b in graph.constants and np.ndim(graph.constants[b]) == 1:
                beta, out = b, badd.outputs[0]
                chain.append(badd)
        width = next((int(np.size(graph.constants[c])) for c in (gamma, beta) if c), None)
        if gamma is None:
            if width is None:
                continue   # the normalised width is unknown without a scale: leave it
        ones = f"{mean.name}__ln_scale"
        if gamma is None:
            graph.constants[ones] = np.ones(width, np.float32)
        ln = Node("LayerNormalization", mean.name, [x, gamma or ones] + ([beta] if beta else []), [out],
                  {"axis": -1, "epsilon": float(eps)}, source=list(mean.source))
        graph.nodes.insert(graph.nodes.index(mean), ln)
        _absorb(ln, chain, graph)
        changed += 1
    return changed


def fuse_decomposed(graph: Graph) -> int:
    return (fuse_hardswish(graph) + fuse_silu(graph) + fuse_gelu(graph) + fuse_layernorm(graph)
            + fuse_scalar_affine(graph))
