"""Performance advice over ONNX models (guide chapter 6, "RKNN convolution acceleration tips").

Everything here is advice: findings are `warn`, never `error`.
"""

from __future__ import annotations

import numpy as np

from ..core import check, ok, skip, warn
from .model_onnx import loaded

SHOW = 5
# §6 item 1: the conv core supports kernels from 1 up to 11*stride-1; 3x3 is optimal.
KERNEL_MAX_FACTOR = 11
BEST_KERNEL = (3, 3)
# §6 item 2: max pool fuses into the conv only if 3x3 or 2x2, stride 2, no padding,
# 2x2 on even input, 3x3 on odd input other than 1, and for 3x3 an input width
# below 64 in 8-bit mode (32 in 16-bit mode).
FUSABLE_POOLS = ((2, 2), (3, 3))
POOL_STRIDE = (2, 2)
POOL3_MAX_WIDTH_8BIT, POOL3_MAX_WIDTH_16BIT = 64, 32
# §6 item 3: after a depthwise conv, no BN and no activation; ReLU rather than ReLU6.
ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu",
               "Selu", "Softplus", "Mish", "Gelu")
# §6 item 5 (sparsity): our thresholds, not the guide's -- a weight below 1e-3 of the
# layer's largest magnitude contributes nothing; when a fifth of a layer's weights are
# like that but not exactly zero, zeroing them lets the hardware skip them.
NEAR_ZERO_REL = 1e-3
SPARSE_SHARE = 0.2


class Graph:
    """Producers, consumers, initializers and inferred shapes of an ONNX graph."""

    def __init__(self, model):
        import onnx
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:
            pass  # advice still works where shapes are declared
        g = model.graph
        self.nodes = list(g.node)
        self.inits = {i.name: i for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.shapes = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            dims = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        for name, t in self.inits.items():
            self.shapes[name] = list(t.dims)

    def weight(self, name: str):
        from onnx import numpy_helper
        t = self.inits.get(name)
        return None if t is None else numpy_helper.to_array(t)

    def attr(self, node, name, default=None):
        from onnx import helper
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def kernel(self, node) -> tuple[int, ...] | None:
        k = self.attr(node, "kernel_shape")
        if k:
            return tuple(k)
        w = self.shapes.get(_in(node, 1))
        return tuple(w[2:]) if w else None

    def only_consumer(self, node):
        cons = self.consumers.get(node.output[0], []) if node.output else []
        return cons[0] if len(cons) == 1 else None


def _in(node, i: int) -> str:
    """Input i of a node, or "" (a malformed graph may lack it)."""
    return node.input[i] if len(node.input) > i else ""


def _graphs(ctx):
    return [(p, ctx.cached(f"perf-graph:{p}", lambda m=m: Graph(m))) for p, m in loaded(ctx)]


def _name(node, i=None) -> str:
    return f"'{node.name}'" if node.name else f"{node.op_type}#{i}"


def _listing(items) -> str:
    more = f"; ... and {len(items) - SHOW} more" if len(items) > SHOW else ""
    return "; ".join(items[:SHOW]) + more


@check("perf.kernel_size", "performance", "6.1 item 1", "conv kernel sizes (3x3 best, at most 11*stride-1)")
def kernel_size(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no readable ONNX --model")
    out = []
    for p, g in graphs:
        beyond, other, n = [], [], 0
        for i, node in enumerate(g.nodes):
            if node.op_type != "Conv":
                continue
            k = g.kernel(node)
            if not k:
                continue
            n += 1
            s = tuple(g.attr(node, "strides", [1] * len(k)))
            if any(kk > KERNEL_MAX_FACTOR * ss - 1 for kk, ss in zip(k, s)):
                beyond.append(f"{_name(node, i)} kernel {'x'.join(map(str, k))} stride {'x'.join(map(str, s))}")
            elif k != BEST_KERNEL:
                other.append(f"{_name(node, i)} {'x'.join(map(str, k))}")
        if beyond:
            out.append(warn(f"{p.name}: {len(beyond)} conv(s) with a kernel beyond 11*stride-1, outside the conv "
                            f"core: {_listing(beyond)}", "use smaller kernels (stack 3x3 convs) or larger strides"))
        if other:
            out.append(warn(f"{p.name}: {len(other)} of {n} conv(s) are not 3x3, the size the NPU runs best: "
                            f"{_listing(other)}", "prefer 3x3 kernels where the design allows"))
        if not beyond and not other:
            out.append(ok(f"{p.name}: all {n} conv(s) are 3x3"))
    return out


def _after_conv(g, name: str) -> bool:
    """True if `name` is produced by a Conv (through an optional BatchNormalization, folded away)."""
    n = g.producer.get(name)
    if n is not None and n.op_type == "BatchNormalization":
        n = g.producer.get(_in(n, 0))
    return n is not None and n.op_type == "Conv"


def pool_problems(g, node) -> list[str]:
    """Why this MaxPool cannot fuse into the conv before it (§6 item 2); [] if it can."""
    k = tuple(g.attr(node, "kernel_shape", []))
    s = tuple(g.attr(node, "strides", [1] * len(k)))
    pads = list(g.attr(node, "pads", [0] * 2 * len(k)))
    auto = g.attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    shape = g.shapes.get(_in(node, 0)) or []
    hw = tuple(shape[2:4]) if len(shape) == 4 else (None, None)
    out = []
    if k not in FUSABLE_POOLS:
        out.append(f"pool size {'x'.join(map(str, k))} (needs 2x2 or 3x3)")
    if s != POOL_STRIDE:
        out.append(f"stride {'x'.join(map(str, s))} (needs 2)")
    if any(pads) or auto not in ("NOTSET", "VALID"):
        out.append("padding (needs none)")
    if None not in hw:
        if k == (2, 2) and any(d % 2 for d in hw):
            out.append(f"input {hw[0]}x{hw[1]} not even (2x2 needs even)")
        if k == (3, 3):
            if any(d % 2 == 0 or d == 1 for d in hw):
                out.append(f"input {hw[0]}x{hw[1]} not odd or is 1 (3x3 needs odd, not 1)")
            if hw[1] >= POOL3_MAX_WIDTH_8BIT:
                out.append(f"input width {hw[1]} >= {POOL3_MAX_WIDTH_8BIT} (8-bit mode limit for 3x3)")
            elif hw[1] >= POOL3_MAX_WIDTH_16BIT:
                out.append(f"input width {hw[1]} >= {POOL3_MAX_WIDTH_16BIT} (16-bit mode limit for 3x3)")
    return out


@check("perf.fusion", "performance", "6.1 item 2", "ReLU and max pool fusable with the conv before them")
def fusion(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no readable ONNX --model")
    out = []
    for p, g in graphs:
        relus, pools = [], []
        for i, node in enumerate(g.nodes):
            if node.op_type == "Relu" and not _after_conv(g, _in(node, 0)):
                src = g.producer.get(_in(node, 0))
                relus.append(f"{_name(node, i)} after {src.op_type if src is not None else 'a graph input'}")
            elif node.op_type == "MaxPool":
                src = _in(node, 0)
                prod = g.producer.get(src)
                if prod is not None and prod.op_type == "Relu":
                    src = _in(prod, 0)
                if _after_conv(g, src):
                    why = pool_problems(g, node)
                    if why:
                        pools.append(f"{_name(node, i)}: {', '.join(why)}")
        if relus:
            out.append(warn(f"{p.name}: {len(relus)} ReLU(s) not directly after a conv, so not fused: "
                            f"{_listing(relus)}", "place ReLU right after a conv where the design allows"))
        if pools:
            out.append(warn(f"{p.name}: {len(pools)} max pool(s) after a conv that cannot fuse with it: "
                            f"{_listing(pools)}", "use 2x2 or 3x3 max pools with stride 2, no padding, on even "
                            "(2x2) or odd (3x3) inputs"))
        if not relus and not pools:
            out.append(ok(f"{p.name}: every ReLU and max pool after a conv can fuse with it"))
    return out


def _is_depthwise(g, node) -> bool:
    group = g.attr(node, "group", 1)
    w = g.shapes.get(_in(node, 1))
    return group > 1 and bool(w) and len(w) > 1 and w[1] == 1 and w[0] % group == 0


def _is_relu6(g, node) -> bool:
    if node.op_type != "Clip":
        return False
    hi = g.attr(node, "max")
    if hi is None and len(node.input) > 2 and node.input[2]:
        w = g.weight(node.input[2])
        hi = None if w is None or np.asarray(w).size != 1 else float(np.asarray(w).reshape(-1)[0])
    return hi is not None and abs(float(hi) - 6.0) < 1e-6


@check("perf.depthwise", "performance", "6.1 item 3", "depthwise convs without BN, activation or ReLU6 after them")
def depthwise(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no readable ONNX --model")
    out = []
    for p, g in graphs:
        relu6, after, n = [], [], 0
        for i, node in enumerate(g.nodes):
            if node.op_type != "Conv" or not _is_depthwise(g, node):
                continue
            n += 1
            nxt = g.only_consumer(node)
            if nxt is None:
                continue
            if _is_relu6(g, nxt):
                relu6.append(_name(node, i))
            elif nxt.op_type == "BatchNormalization" or nxt.op_type in ACTIVATIONS:
                after.append(f"{_name(node, i)} -> {nxt.op_type}")
        if relu6:
            out.append(warn(f"{p.name}: {len(relu6)} depthwise conv(s) followed by ReLU6, which quantizes poorly: "
                            f"{_listing(relu6)}", "use ReLU instead of ReLU6 after depthwise convs"))
        if after:
            out.append(warn(f"{p.name}: {len(after)} depthwise conv(s) followed by BN or an activation: "
                            f"{_listing(after)}", "remove BN and activation after depthwise convs, and train "
                            "their weights with L2 regularization"))
        if not relu6 and not after:
            out.append(ok(f"{p.name}: {n} depthwise conv(s), none followed by BN, activation or ReLU6"))
    return out


@check("perf.out_channels", "performance", "6.1 item 4", "conv output channels a multiple of the NPU's kernel count")
def out_channels(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no readable ONNX --model")
    k = ctx.npu_conv_kernels
    if not k:
        return skip("the guide does not give the NPU's convolution kernel count; pass --npu-conv-kernels N")
    out = []
    for p, g in graphs:
        odd = []
        for i, node in enumerate(g.nodes):
            w = g.shapes.get(_in(node, 1)) if node.op_type == "Conv" else None
            if w and w[0] and w[0] % k:
                odd.append(f"{_name(node, i)} {w[0]}")
        if odd:
            out.append(warn(f"{p.name}: {len(odd)} conv(s) with output channels not a multiple of {k}: "
                            f"{_listing(odd)}", f"round output channels up to a multiple of {k}"))
        else:
            out.append(ok(f"{p.name}: every conv's output channels are a multiple of {k}"))
    return out


@check("perf.sparsity", "performance", "6.1 item 5", "near-zero weights worth pruning to exact zeros")
def sparsity(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no readable ONNX --model")
    out = []
    for p, g in graphs:
        worth = []
        for i, node in enumerate(g.nodes):
            if node.op_type not in ("Conv", "Gemm", "MatMul"):
                continue
            w = g.weight(_in(node, 1))
            if w is None or w.size == 0 or not np.issubdtype(w.dtype, np.floating):
                continue
            a = np.abs(w.astype(np.float32))
            top = float(a.max())
            if top == 0:
                continue
            near = float(np.mean((a > 0) & (a < NEAR_ZERO_REL * top)))
            if near >= SPARSE_SHARE:
                worth.append(f"{_name(node, i)} {near:.0%}")
        if worth:
            out.append(warn(f"{p.name}: {len(worth)} layer(s) with many near-zero (not zero) weights: "
                            f"{_listing(worth)}", "prune: set weights below 1e-3 of the layer's maximum to exactly "
                            "zero (and fine-tune) so the NPU can skip them"))
        else:
            out.append(ok(f"{p.name}: no layer with {SPARSE_SHARE:.0%} or more near-zero weights"))
    return out
