"""The integer simulator: quantized models run on integer tensors end to end.

Activations are uint8/int8/int16 at their tensor's parameters, weights int8/uint8/int16/int4,
biases int32 at input scale × weight scale, accumulators int64. Rounding and
requantization rules live in `rknn_diag.qrules.schemes` (one place).

Integer kernels (bit-exact and deterministic; the only float math is exact — integers in
float BLAS below 2^24/2^53 — or per-layer tables built once):
  Conv, Gemm, MatMul   exact integer GEMM through float BLAS: operands are integers
                       (q - zero_point) and every partial sum is bounded by
                       B = max_c Σ|w| · max|x|; float32 BLAS when B < 2^24, float64 when
                       B < 2^53 (asserted per layer), so the sums are exact whatever the
                       summation order; then the int32 bias and fixed-point requantization;
                       Relu/Clip post-ops are clamps on the output integers, LeakyRelu a
                       second multiplier for negative sums.
  Conv, Gemm (w4a16)   int4 weights in groups: exact integer sums per group, combined by
                       fixed-point multipliers per (channel, group) with a shared shift.
  Add, Sub             both operands rescaled by fixed-point multipliers with a shared shift.
  Mul                  integer product, requantized.
  GlobalAveragePool    integer sum, requantized by scale_in / (H·W · scale_out).
  AveragePool          integer window sums, requantized per output position by
                       scale_in / (count · scale_out) (count as ONNX defines it).
  Concat               inputs at the output's parameters are copied; others rescaled.
  Softmax              exp table over (max - q), integer row sums, one rounded integer
                       division per element (see `_softmax`).
  Sigmoid, Tanh, HardSwish, Exp, Clip, Relu, ... (`LUT_OPS`): a table over every input code
                       (256 or 65536 entries) built once per layer as Q(f(DQ(code))).
  data movement, MaxPool, GlobalMaxPool, ReduceMax/Min, nearest Resize (`roles.is_direct`):
                       on the integers themselves (they only move or select values; the
                       output shares the input's parameters; Pad pads with the quantized value).
Which op takes which path is its registry entry's `quant` (rknn_diag.ops.registry).
Everything else falls back — dequantize the inputs, run the float32 kernel of `rknn_diag.ops`,
quantize the result at the output's parameters (deterministic for a machine's float32
math; the same DQ -> op -> Q the QDQ twin does). That is: ConvTranspose, grouped Conv with
per-group int4 weights, Gemm with transA or alpha/beta != 1, MatMul of per-group weights,
Div, Pow, Max/Min/Sum/Mean, LogSoftmax, linear/cubic Resize, the normalizations (unfolded
BatchNormalization, Instance/Layer/MVN, LRN), reductions other than max/min, PRelu, Where
and the comparison/logic ops' float inputs. `IntegerSimulator.fallback_ops` lists them per
model; accuracy_analysis reports each layer's path (`runs_in`). Layers that hybrid
quantization moved to float16 run the float16 kernel on dequantized inputs and hand on
float values.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from ..ir import Graph, Node
from ..ops import registry, run as run_op
from ..ops._window import pad_to, per_axis, resolve_pads, windows
from ..qrules import roles
from ..qrules.roles import bias_qparams
from ..qrules.schemes import (QParams, apply_fixed_point, dequantize, fixed_point, quantize, requantize,
                              shift_round, storage)
from . import exact_math
from .float_sim import to_fp16
from .reference import run_node_float

EXACT_LIMIT = 2.0 ** 53

Env = dict[str, tuple[np.ndarray, "QParams | None"]]
DumpHook = Callable[[Node, list[np.ndarray]], None]


class IntegerSimulator:
    backend = "numpy"   # the reference (see sim.backend)

    @property
    def reference(self):
        """The numpy oracle (this simulator itself; an ort simulator holds one)."""
        return self

    def __init__(self, graph: Graph, quant: dict):
        self.graph = graph
        self.quant = quant
        self.tensors = {k: QParams.from_dict(v) for k, v in quant.get("tensors", {}).items()}
        self.weights = {k: QParams.from_dict(v) for k, v in quant.get("weights", {}).items()}
        self.layers: dict[str, str] = dict(quant.get("layers", {}))
        self.qweights = {k: quantize(graph.constants[k], qp) for k, qp in self.weights.items()}
        # Data constants quantized once; raw constants (shapes, indices, params) kept as they are.
        self.base: Env = {}
        for k, v in graph.constants.items():
            if k in self.tensors:
                self.base[k] = (quantize(v, self.tensors[k]), self.tensors[k])
            else:
                self.base[k] = (np.asarray(v), None)
        self.biases = {}
        for n in graph.nodes:
            bq = bias_qparams(graph, n, self.tensors, self.weights)
            if bq is not None:
                self.biases[n.name] = (quantize(graph.constants[n.inputs[2]], bq), bq)
        self.fallback_ops = sorted({n.op_type for n in graph.nodes if not self._integer(n)})
        self.memo: dict = {}   # per-layer constants computed on first use (multipliers, bounds)

    # ---- public ---------------------------------------------------------------------------------
    def run(self, feeds: list[np.ndarray], dump: DumpHook | None = None, raw: bool = False,
            trace: dict | None = None) -> list[np.ndarray]:
        """Float inputs in, dequantized float32 outputs out (`raw=True`: the integers).
        `trace`, if given, receives every value as (array, QParams or None)."""
        env: Env = dict(self.base)
        for v, x in zip(self.graph.inputs, feeds):
            qp = self.tensors.get(v.name)
            env[v.name] = (quantize(x, qp), qp) if qp is not None else (np.asarray(x), None)
        for node in self.graph.nodes:
            outs = self.run_node(node, env)
            for name, val in zip(node.outputs, outs):
                if name:
                    env[name] = val
            if dump is not None:
                dump(node, [self._float(v) for v in outs])
        if trace is not None:
            trace.update(env)
        if raw:
            return [env[v.name][0] for v in self.graph.outputs]
        return [self._float(env[v.name]) for v in self.graph.outputs]

    def passed_through(self, feeds: list[np.ndarray], flags: list) -> list[np.ndarray]:
        """inference(inputs_pass_through=...): a passed-through input of a quantized model already
        holds the input's integers; hand them on as the real values they stand for."""
        out = list(feeds)
        for i, (v, through) in enumerate(zip(self.graph.inputs, flags)):
            qp = self.tensors.get(v.name)
            if through and qp is not None:
                out[i] = dequantize(np.rint(np.asarray(out[i], np.float64)).astype(np.int64), qp)
        return out

    def run_node(self, node: Node, env: Env) -> list[tuple[np.ndarray, QParams | None]]:
        """One node; env values may be integers at their parameters or floats (quantized on use)."""
        if self.layers.get(node.name) == "float16":
            return self._float16(node, env)
        if roles.is_direct(node) and self._shares(node):
            return self._direct(node, env)
        if self._lut_ok(node):
            return _lut(self, node, env)
        kernel = _KERNELS.get(node.op_type)
        if kernel is not None and self._integer(node):
            return kernel(self, node, env)
        return self._fallback(node, env)

    # ---- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _float(val: tuple[np.ndarray, QParams | None]) -> np.ndarray:
        arr, qp = val
        return dequantize(arr, qp) if qp is not None else arr

    def _q(self, name: str, env: Env) -> tuple[np.ndarray, QParams]:
        """The integers of data tensor `name` at its parameters (quantizing a float value)."""
        arr, qp = env[name]
        want = self.tensors[name]
        if qp is None:
            return quantize(arr, want), want
        return arr, qp

    def _shares(self, node: Node) -> bool:
        i = node.inputs[0] if node.inputs else ""
        return i in self.tensors and all(o in self.tensors and self.tensors[o].same(self.tensors[i])
                                         for o in node.outputs if o)

    def _lut_ok(self, node: Node) -> bool:
        """An elementwise function of one quantized input into one quantized output: a table."""
        if node.op_type not in LUT_OPS or self.layers.get(node.name) == "float16":
            return False
        x, y = node.inputs[0], node.outputs[0]
        params_const = all(i in self.graph.constants for i in node.inputs[1:] if i)
        return (params_const and len(node.outputs) == 1 and x in self.tensors and y in self.tensors
                and self.tensors[x].per_tensor and self.tensors[y].per_tensor
                and self.tensors[x].dtype in ("uint8", "int8", "int16"))

    def _integer(self, node: Node) -> bool:
        """Whether `node` runs on an integer kernel (else it falls back)."""
        if self.layers.get(node.name) == "float16":
            return False
        if self._lut_ok(node):
            return True
        if roles.is_direct(node):
            return self._shares(node)
        if node.op_type not in _KERNELS or node.outputs[0] not in self.tensors:
            return False
        data = [node.inputs[i] for i in roles.data_slots(node) if node.inputs[i] and node.inputs[i] not in self.weights]
        if not all(d in self.tensors and self.tensors[d].per_tensor for d in data):
            return False
        if any(p.op_type not in ("Relu", "Clip", "LeakyRelu") for p in node.post_ops) and not (
                node.op_type in ("Conv", "Gemm") and has_epilogue(node)):
            return False
        if node.op_type in ("Conv", "Gemm"):
            w = roles.weight_name(self.graph, node)
            if w is None or w not in self.weights:
                return False
            if self.weights[w].group is not None:   # int4 groups: the grouped integer kernel (no epilogue)
                return _grouped_ok(self, node) and not has_epilogue(node)
            wq = self.weights[w]
            if not wq.per_tensor and wq.axis != roles.weight_axis(node, self.graph.constants[w]):
                return False   # e.g. an imported QDQ weight quantized along another axis
            if len(node.inputs) > 2 and node.inputs[2] and node.name not in self.biases:
                return False
            if node.op_type == "Gemm" and (node.attrs.get("transA", 0) or node.attrs.get("alpha", 1.0) != 1.0):
                return False
        if node.op_type == "MatMul":
            w = roles.weight_name(self.graph, node)
            if w is not None and (w not in self.weights or self.weights[w].group is not None):
                return False
            if w is not None and not self.weights[w].per_tensor and \
                    self.weights[w].axis != roles.weight_axis(node, self.graph.constants[w]):
                return False
            if w is None and node.inputs[1] not in self.tensors:
                return False
        return True

    def _inputs_float(self, node: Node, env: Env, fp16: bool = False) -> list:
        ins = []
        for i, name in enumerate(node.inputs):
            if not name:
                ins.append(None)
            elif fp16 and name in self.graph.constants:
                ins.append(to_fp16(np.asarray(self.graph.constants[name])))
            elif name in self.weights:
                ins.append(dequantize(self.qweights[name], self.weights[name]))
            elif i == 2 and node.name in self.biases:
                b, bq = self.biases[node.name]
                ins.append(dequantize(b, bq))
            else:
                ins.append(self._float(env[name]))
        return ins

    def _outputs(self, node: Node, outs: list[np.ndarray]) -> list[tuple[np.ndarray, QParams | None]]:
        res = []
        for name, o in zip(node.outputs, outs):
            qp = self.tensors.get(name)
            o = np.asarray(o)
            res.append((quantize(o, qp), qp) if qp is not None and o.dtype.kind == "f" else (o, None))
        return res

    def _fallback(self, node: Node, env: Env):
        # contiguous: a float kernel's reductions sum in memory order, and a transposed view here
        # (a direct op's output) is a contiguous array when onnxruntime produced it — the same
        # values must give the same float32 sums on both backends
        ins = [_c_order(x) for x in self._inputs_float(node, env)]
        return self._outputs(node, _run_float(node, ins, self.graph.opset))

    def _float16(self, node: Node, env: Env):
        ins = [_c_order(to_fp16(x)) if isinstance(x, np.ndarray) else x for x in self._inputs_float(node, env, fp16=True)]
        return [(to_fp16(o), None) for o in _run_float(node, ins, self.graph.opset)]

    def _direct(self, node: Node, env: Env):
        """Value-preserving ops on the integers (as float32, exact below 2^24)."""
        x, qp = self._q(node.inputs[0], env)
        ins: list = [x.astype(np.float32)]
        for i, name in enumerate(node.inputs[1:], 1):
            ins.append(self._float(env[name]) if name else None)
        if node.op_type == "Pad":
            cv = ins[2] if len(ins) > 2 and ins[2] is not None else np.float32(node.attrs.get("value", 0.0))
            qcv = quantize(np.asarray(cv, np.float32), qp).astype(np.float32)
            if len(ins) > 2 and ins[2] is not None:
                ins[2] = qcv
            elif "value" in node.attrs or len(ins) < 3:
                if self.graph.opset < 11:
                    outs = _run_float(replace(node, attrs={**node.attrs, "value": float(qcv)}), ins,
                                      self.graph.opset)
                    return [(np.asarray(o).astype(storage(qp.dtype)), qp) for o in outs]
                ins = ins + [None] * (3 - len(ins))
                ins[2] = qcv
        outs = _run_float(node, ins, self.graph.opset)
        return [(np.asarray(o).astype(storage(qp.dtype)), qp) if np.asarray(o).dtype.kind == "f" else
                (np.asarray(o), None) for o in outs]


def _run_float(node: Node, ins: list, opset: int) -> list[np.ndarray]:
    return run_node_float(node, ins, opset)


# ---- integer kernels ------------------------------------------------------------------------------
def _centered(x: np.ndarray, qp: QParams) -> np.ndarray:
    return x.astype(np.int64) - np.int64(qp.zero_point)


def _amax(qp: QParams) -> int:
    lo, hi = qp.qrange
    z = int(np.max(np.abs(qp.zero_point)))
    return max(abs(lo - z), abs(hi - z), abs(lo + z), abs(hi + z))


def _c_order(x):
    """An array in C order (0-d stays 0-d, unlike np.ascontiguousarray); anything else as it is."""
    return x.copy(order="C") if isinstance(x, np.ndarray) and not x.flags.c_contiguous else x


def _check_exact(bound: float, node: Node) -> None:
    if bound >= EXACT_LIMIT:
        raise OverflowError(f"{node.name}: accumulator bound {bound:g} exceeds 2^53; float64 GEMM not exact")


def _clamp(sim: IntegerSimulator, node: Node, out_qp: QParams) -> tuple[int, int]:
    """The output range after fused Relu/Clip: the quantized bounds, intersected."""
    lo, hi = out_qp.qrange
    for p in node.post_ops:
        if p.op_type == "Relu":
            lo = max(lo, int(out_qp.zero_point))
        elif p.op_type == "Clip":
            a = p.inputs[0] if len(p.inputs) > 0 and p.inputs[0] is not None else None
            b = p.inputs[1] if len(p.inputs) > 1 and p.inputs[1] is not None else None
            if a is not None:
                lo = max(lo, int(quantize(np.asarray(a, np.float32), out_qp)))
            if b is not None:
                hi = min(hi, int(quantize(np.asarray(b, np.float32), out_qp)))
    return lo, hi


# Fused activations that are not piecewise linear through zero: with one of them the whole
# post-op chain runs on the accumulator's real value (an epilogue) instead of as integer clamps.
EPILOGUE_OPS = ("HardSwish", "Swish")
EPILOGUE_CHAIN = ("HardSwish", "Swish", "Mul", "Add", "Relu", "Clip", "LeakyRelu")


def has_epilogue(node: Node) -> bool:
    return any(p.op_type in EPILOGUE_OPS for p in node.post_ops) and \
        all(p.op_type in EPILOGUE_CHAIN for p in node.post_ops)


def epilogue(t, post_ops, ar=exact_math.NUMPY):
    """The fused chain on float64 real values, op by op as elementary IEEE double operations,
    written once for both backends: `ar` runs each step (numpy here; ort_int's emitter writes
    each as an ONNX node), so both give the same doubles. Swish's exp is `exact_math.exp`."""
    for p in post_ops:
        c = [None if v is None else np.float64(np.asarray(v, np.float32).reshape(())) for v in p.inputs]
        if p.op_type == "HardSwish":
            g = ar.clip(ar.add(t, ar.const(3.0, "three")), ar.const(0.0, "zero"), ar.const(6.0, "six"))
            t = ar.div(ar.mul(t, g), ar.const(6.0, "six"))
        elif p.op_type == "Swish":
            t = exact_math.swish(ar, t, float(p.attrs.get("alpha", 1.0)))
        elif p.op_type == "Mul":
            t = ar.mul(t, ar.const(c[0], "c"))
        elif p.op_type == "Add":
            t = ar.add(t, ar.const(c[0], "c"))
        elif p.op_type == "Relu":
            t = ar.maximum(t, ar.const(0.0, "zero"))
        elif p.op_type == "Clip":
            if len(c) > 0 and c[0] is not None:
                t = ar.maximum(t, ar.const(c[0], "lo"))
            if len(c) > 1 and c[1] is not None:
                t = ar.minimum(t, ar.const(c[1], "hi"))
        elif p.op_type == "LeakyRelu":
            alpha = np.float64(np.float32(p.attrs.get("alpha", 0.01)))
            t = ar.where_negative(t, ar.mul(t, ar.const(alpha, "alpha")), t)
        else:   # has_epilogue() admits only the ops above
            raise AssertionError(p.op_type)
    return t


def epilogue_scale(mult: np.ndarray, out_qp: QParams) -> np.ndarray:
    """Accumulator -> real value: input scale × weight scale, as mult × output scale in float64."""
    return np.asarray(mult, np.float64) * np.float64(out_qp.scale)


def _finish_epilogue(node: Node, acc: np.ndarray, mult: np.ndarray, out_qp: QParams) -> np.ndarray:
    lo, hi = out_qp.qrange
    y = epilogue(acc.astype(np.float64) * epilogue_scale(mult, out_qp), node.post_ops)
    q = np.rint(y / np.float64(out_qp.scale)) + np.float64(out_qp.zero_point)
    return np.clip(q, lo, hi).astype(storage(out_qp.dtype))


def _finish(sim: IntegerSimulator, node: Node, acc: np.ndarray, mult: np.ndarray, bound: float) -> list:
    """Requantize an int64 accumulator, apply fused activations in the integer domain
    (Relu/Clip: a narrower clamp of the output integers; LeakyRelu: alpha·M for negative sums),
    or, with a fused HardSwish, as an epilogue on the real value (`epilogue`).
    Fixed-point multipliers and clamps are computed once per layer and kept."""
    out_qp = sim.tensors[node.outputs[0]]
    if has_epilogue(node):
        return [(_finish_epilogue(node, acc, mult, out_qp), out_qp)] + [(np.zeros(0), None)] * (len(node.outputs) - 1)
    (m0, n), neg, clamp = finish_constants(sim, node, mult, bound)
    y = apply_fixed_point(acc, m0, n, out_qp, clamp, bound)
    if neg is not None:
        y = np.where(acc >= 0, y, apply_fixed_point(acc, neg[0], neg[1], out_qp, clamp, bound))
    return [(y, out_qp)] + [(np.zeros(0), None)] * (len(node.outputs) - 1)


def finish_constants(sim: IntegerSimulator, node: Node, mult: np.ndarray, bound: float):
    """((m0, n), (m0, n) for negative sums under a fused LeakyRelu or None, (lo, hi) clamp),
    computed on the layer's first run and kept."""
    key = (node.name, "finish")
    if key not in sim.memo:
        leaky = next((p for p in node.post_ops if p.op_type == "LeakyRelu"), None)
        neg = None
        if leaky is not None:
            alpha = float(leaky.attrs.get("alpha", 0.01))
            neg = fixed_point(np.asarray(mult) * alpha if alpha > 0 else np.asarray(mult) * 0, bound)
        sim.memo[key] = (fixed_point(mult, bound), neg, _clamp(sim, node, sim.tensors[node.outputs[0]]))
    return sim.memo[key]


def _weight_centered(sim: IntegerSimulator, name: str) -> tuple[np.ndarray, QParams]:
    qp = sim.weights[name]
    q = sim.qweights[name]
    _, z = qp.broadcast(q.ndim)
    return q.astype(np.int64) - z, qp


def _bias(sim: IntegerSimulator, node: Node) -> np.ndarray | None:
    b = sim.biases.get(node.name)
    return None if b is None else b[0].astype(np.int64)


FLOAT32_EXACT = 2.0 ** 24
IM2COL_BYTES = 4 << 20   # the im2col matrix of the float64 convolution is built in bands of this size


def _conv_acc(xc: np.ndarray, w: np.ndarray, attrs: dict, gemm_bound: float, w32=None) -> np.ndarray:
    """Exact integer convolution of centred integers `xc` by integer weights `w` (float64 array
    holding exact integers; every value and partial sum is below 2^53).
    Below 2^24 every product and partial sum is exact in float32, so the float Conv kernel (with
    its depthwise/pointwise fast paths) does it; otherwise im2col + float64 matmul (exact below
    2^53, checked by the caller)."""
    if gemm_bound < FLOAT32_EXACT:
        acc_f = run_op("Conv", [xc.astype(np.float32, copy=False), w32 if w32 is not None else w.astype(np.float32)],
                       attrs, 13)[0]
        return acc_f.astype(np.float64)    # exact integers
    xc = xc.astype(np.float64)
    n = xc.ndim - 2
    N, C = xc.shape[:2]
    M = w.shape[0]
    kernel = list(w.shape[2:])
    group = int(attrs.get("group", 1))
    strides = per_axis(attrs.get("strides"), n, 1, "strides")
    dil = per_axis(attrs.get("dilations"), n, 1, "dilations")
    pb, pe, out = resolve_pads(xc.shape[2:], kernel, strides, dil, attrs.get("pads"),
                               attrs.get("auto_pad", "NOTSET"))
    ek = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    need = [(o - 1) * s + e for o, s, e in zip(out, strides, ek)]
    widths = [(0, 0), (0, 0)] + [(b, max(L - i - b, 0)) for b, L, i in zip(pb, need, xc.shape[2:])]
    xp = np.pad(xc, widths)[(Ellipsis, *[slice(0, L) for L in need])]   # zero point pads as 0
    win = windows(xp, kernel, strides, dil, out)
    G, Cg = group, C // group
    P, K = int(np.prod(out)), int(np.prod(kernel))
    win = win.reshape(N, G, Cg, *out, *kernel)
    perm = (0, 1, *range(3, 3 + n), 2, *range(3 + n, 3 + 2 * n))
    wg = w.astype(np.float64).reshape(G, M // G, Cg * K).transpose(0, 2, 1)
    # im2col a band of output rows at a time (the whole matrix is K times the input: 60 MB for
    # one 16-bit layer of PP-OCRv4 det); the sums are exact in any grouping, so the same integers
    acc = np.empty((N, G, M // G, *out), np.float64)
    rows = max(1, min(out[0], IM2COL_BYTES // max(1, 8 * N * G * (P // out[0]) * Cg * K)))
    for r0 in range(0, out[0], rows):
        r1 = min(out[0], r0 + rows)
        cols = win[:, :, :, r0:r1].transpose(perm).reshape(N, G, -1, Cg * K)
        acc[:, :, :, r0:r1] = np.matmul(cols, wg).transpose(0, 1, 3, 2).reshape(N, G, M // G, r1 - r0, *out[1:])
    return acc.reshape(N, M, *out)   # exact integers


def _conv(sim: IntegerSimulator, node: Node, env: Env) -> list:
    if sim.weights[node.inputs[1]].group is not None:
        return _grouped(sim, node, env)
    x, xqp = sim._q(node.inputs[0], env)
    w, w32, wqp, bias, gemm_bound, bound = conv_constants(sim, node, xqp)
    M = w.shape[0]
    xc = (x.astype(np.float32) - np.float32(xqp.zero_point)) if gemm_bound < FLOAT32_EXACT else _centered(x, xqp)
    acc = _conv_acc(xc, w, node.attrs, gemm_bound, w32)
    n = acc.ndim - 2
    if bias is not None:
        acc += bias.reshape(M, *([1] * n))    # exact: |acc| + |bias| <= bound < 2^53
    return _finish(sim, node, acc, conv_multiplier(sim, node, xqp, wqp, n), bound)


def conv_constants(sim: IntegerSimulator, node: Node, xqp: QParams):
    """(centred integer weights, the same as float32, weight QParams, int64 bias or None,
    bound of the weight sums, bound with the bias), computed on the layer's first run."""
    key = (node.name, "conv")
    if key not in sim.memo:
        w, wqp = _weight_centered(sim, node.inputs[1])
        bias = _bias(sim, node)
        wabs = float(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
        gemm_bound = wabs * _amax(xqp)
        bound = gemm_bound + (float(np.abs(bias).max(initial=0)) if bias is not None else 0.0)
        _check_exact(bound, node)
        sim.memo[key] = (w, w.astype(np.float32), wqp, bias, gemm_bound, bound)
    return sim.memo[key]


def conv_multiplier(sim: IntegerSimulator, node: Node, xqp: QParams, wqp: QParams, n: int) -> np.ndarray:
    """The real multiplier scale_x · scale_w / scale_out, per output channel (shaped for `n`
    spatial axes) or a scalar."""
    ws = np.asarray(wqp.scale, np.float64).reshape(-1)
    mult = np.float64(xqp.scale) * ws / np.float64(sim.tensors[node.outputs[0]].scale)
    return mult.reshape(-1, *([1] * n)) if mult.size > 1 else mult.reshape(())


def _gemm(sim: IntegerSimulator, node: Node, env: Env) -> list:
    w0 = roles.weight_name(sim.graph, node)
    if w0 is not None and w0 in sim.weights and sim.weights[w0].group is not None:
        return _grouped(sim, node, env)
    a, aqp = sim._q(node.inputs[0], env)
    ac = _centered(a, aqp).astype(np.float64)
    b, bqp = (None, None) if roles.weight_name(sim.graph, node) is not None else sim._q(node.inputs[1], env)
    wf, bound, mult, bias = gemm_constants(sim, node, aqp, b, bqp)
    if bound < FLOAT32_EXACT:   # exact in float32 as well (see _conv)
        ac, wf = ac.astype(np.float32), wf.astype(np.float32)
    acc = np.matmul(ac, wf).astype(np.float64, copy=False)   # exact integers (bound checked above)
    if bias is not None:
        acc = acc + bias
    mult = np.asarray(mult)
    return _finish(sim, node, acc, mult if mult.size > 1 else mult.reshape(()), bound)


def gemm_constants(sim: IntegerSimulator, node: Node, aqp: QParams, b: np.ndarray | None = None,
                   bqp: QParams | None = None, kdim: int | None = None):
    """(centred weights as float64 (K, N) or the centred second operand `b`, accumulator bound,
    real multiplier (per output column or scalar), int64 bias or None). Without `b`'s values,
    `kdim` gives the summed dimension of a second operand that is not a weight."""
    wname = roles.weight_name(sim.graph, node)
    out_scale = np.float64(sim.tensors[node.outputs[0]].scale)
    if wname is not None:
        w, wqp = _weight_centered(sim, wname)
        wf = w.astype(np.float64)
        if node.op_type == "Gemm" and node.attrs.get("transB", 0):
            wf = wf.T
        # wf is (K, N) here, channels on the last axis
        bound = float(np.abs(wf).sum(axis=-2).max(initial=0)) * _amax(aqp)
        ws = np.asarray(wqp.scale, np.float64).reshape(-1)
        mult = np.float64(aqp.scale) * ws / out_scale
    else:
        wf = _centered(b, bqp).astype(np.float64) if b is not None else None
        k = (wf.shape[-2] if wf.ndim >= 2 else wf.shape[0]) if wf is not None else kdim
        bound = float(k) * _amax(aqp) * _amax(bqp)
        mult = np.float64(aqp.scale) * np.float64(bqp.scale) / out_scale
    bias = _bias(sim, node) if node.op_type == "Gemm" else None
    bound += float(np.abs(bias).max(initial=0)) if bias is not None else 0.0
    _check_exact(bound, node)
    return wf, bound, mult, bias


def _grouped_ok(sim: IntegerSimulator, node: Node) -> bool:
    """Per-group weights run on the grouped integer kernel for plain Conv (group=1) and Gemm
    (transB=1, alpha=beta=1) without LeakyRelu; the rest falls back."""
    if any(p.op_type == "LeakyRelu" for p in node.post_ops):
        return False
    if node.op_type == "Conv":
        return int(node.attrs.get("group", 1)) == 1
    return (node.op_type == "Gemm" and node.attrs.get("transB", 0) == 1 and not node.attrs.get("transA", 0)
            and node.attrs.get("alpha", 1.0) == 1.0 and node.attrs.get("beta", 1.0) == 1.0)


def _grouped(sim: IntegerSimulator, node: Node, env: Env) -> list:
    """Weights quantized per group of g input channels (w4a16): exact integer sums per group,
    combined by per-(channel, group) fixed-point multipliers sharing one shift per output
    channel, chosen so that Σ_g |acc_g|·m0_g + |bias| < 2^62 provably (bounds from the weights).
    The float bias enters at the same fixed point: round(b / s_out · 2^n)."""
    x, xqp = sim._q(node.inputs[0], env)
    out_qp = sim.tensors[node.outputs[0]]
    key = (node.name, "grouped")
    if key not in sim.memo:
        wqp = sim.weights[node.inputs[1]]
        q = sim.qweights[node.inputs[1]].astype(np.int64)          # symmetric: zero point 0
        g = int(wqp.group)
        cin = q.shape[1]
        ng = -(-cin // g)
        spans = [(k * g, min((k + 1) * g, cin)) for k in range(ng)]
        M = q.shape[0]
        amax = _amax(xqp)
        bounds = np.stack([np.abs(q[:, a:b]).reshape(M, -1).sum(axis=1) * amax for a, b in spans], 1)  # (M, ng)
        mult = np.float64(xqp.scale) * np.asarray(wqp.scale, np.float64) / np.float64(out_qp.scale)  # (M, ng)
        b = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
        bias_real = (np.asarray(sim.graph.constants[b], np.float64) / np.float64(out_qp.scale)) if b else np.zeros(M)
        total = (bounds * mult).sum(axis=1) + np.abs(bias_real) + 1.0
        n = np.minimum(61 - np.ceil(np.log2(total)), 30 - np.floor(np.log2(np.maximum(mult.max(axis=1), 1e-30))))
        n = n.astype(np.int64)
        if (n < 1).any():
            raise OverflowError(f"{node.name}: grouped accumulator too wide for int64 fixed point")
        m0 = np.rint(mult * np.exp2(n.astype(np.float64))[:, None]).astype(np.int64)
        bias_fp = np.rint(bias_real * np.exp2(n.astype(np.float64))).astype(np.int64)
        for k in range(ng):
            _check_exact(float(bounds[:, k].max(initial=0)), node)
        sim.memo[key] = (q, spans, m0, n, bias_fp, _clamp(sim, node, out_qp), bounds.max(axis=0))
    q, spans, m0, n, bias_fp, clamp, gbounds = sim.memo[key]
    xc = _centered(x, xqp)
    nd = 2 if node.op_type == "Conv" else 0
    total = None
    for k, (a, b) in enumerate(spans):     # a loop over weight groups (cin / g of them), not elements
        if node.op_type == "Conv":
            part = _conv_acc(xc[:, a:b], q[:, a:b], node.attrs, float(gbounds[k])).astype(np.int64)
            acc = part * m0[:, k].reshape(-1, *([1] * (part.ndim - 2)))
        else:
            acc = np.rint(xc[:, a:b].astype(np.float64) @ q[:, a:b].T.astype(np.float64)).astype(np.int64) * m0[:, k]
        total = acc if total is None else total + acc
    shape = (-1, *([1] * (total.ndim - 2))) if nd else (-1,)
    total = total + bias_fp.reshape(shape)
    y = shift_round(total, n.reshape(shape)) + np.int64(out_qp.zero_point)
    lo, hi = clamp
    return [(np.clip(y, lo, hi).astype(storage(out_qp.dtype)), out_qp)]


def _addsub(sim: IntegerSimulator, node: Node, env: Env) -> list:
    if len(node.inputs) != 2:
        return sim._fallback(node, env)
    (a, aqp), (b, bqp) = sim._q(node.inputs[0], env), sim._q(node.inputs[1], env)
    oqp = sim.tensors[node.outputs[0]]
    ma0, mb0, n = addsub_constants(aqp, bqp, oqp)
    sign = -1 if node.op_type == "Sub" else 1
    acc = ma0 * _centered(a, aqp) + sign * mb0 * _centered(b, bqp)
    lo, hi = oqp.qrange
    y = np.clip(shift_round(acc, np.int64(n)) + np.int64(oqp.zero_point), lo, hi).astype(storage(oqp.dtype))
    for p in node.post_ops:   # only Relu is fused into Add (passes.fuse_activation)
        if p.op_type == "Relu":
            y = np.maximum(y, int(oqp.zero_point)).astype(y.dtype)
    return [(y, oqp)]


def addsub_constants(aqp: QParams, bqp: QParams, oqp: QParams) -> tuple[np.int64, np.int64, int]:
    """Both operands' multipliers scale_a/scale_out, scale_b/scale_out in fixed point with one
    shared shift n: (ma0, mb0, n)."""
    ma = np.float64(aqp.scale) / np.float64(oqp.scale)
    mb = np.float64(bqp.scale) / np.float64(oqp.scale)
    bound = float(_amax(aqp) + _amax(bqp))
    _, n = fixed_point(np.float64(max(ma, mb)), bound)
    n = int(n)
    return np.int64(np.rint(ma * 2.0 ** n)), np.int64(np.rint(mb * 2.0 ** n)), n


def _mul(sim: IntegerSimulator, node: Node, env: Env) -> list:
    (a, aqp), (b, bqp) = sim._q(node.inputs[0], env), sim._q(node.inputs[1], env)
    acc = _centered(a, aqp) * _centered(b, bqp)
    mult = np.float64(aqp.scale) * np.float64(bqp.scale) / np.float64(sim.tensors[node.outputs[0]].scale)
    return _finish(sim, node, acc, mult, float(_amax(aqp) * _amax(bqp)))


def _gap(sim: IntegerSimulator, node: Node, env: Env) -> list:
    x, xqp = sim._q(node.inputs[0], env)
    axes = tuple(range(2, x.ndim))
    count = int(np.prod([x.shape[a] for a in axes]))
    acc = _centered(x, xqp).sum(axis=axes, keepdims=True)
    mult = np.float64(xqp.scale) / (count * np.float64(sim.tensors[node.outputs[0]].scale))
    return _finish(sim, node, acc, mult, float(count * _amax(xqp)))


def _avgpool(sim: IntegerSimulator, node: Node, env: Env) -> list:
    """Integer window sums, requantized by scale_in / (count · scale_out) per output position
    (count: the window's positions that count, as the float kernel defines them)."""
    x, xqp = sim._q(node.inputs[0], env)
    n, kernel, strides, dil, pb, lengths, out, mult, bound = avgpool_constants(sim, node, x.shape, xqp)
    axes = tuple(range(-n, 0))
    acc = windows(pad_to(_centered(x, xqp), pb, lengths, 0), kernel, strides, dil, out).sum(axis=axes)
    return _finish(sim, node, acc, mult, bound)


def avgpool_constants(sim: IntegerSimulator, node: Node, shape: tuple, xqp: QParams):
    """(spatial rank, kernel, strides, dilations, pads before, padded lengths, output sizes, real
    multiplier per output position, accumulator bound), on the layer's first run."""
    from ..ops.pool import _geometry

    key = (node.name, "avgpool")
    if key not in sim.memo:
        a = node.attrs
        n, kernel, strides, dil, pb, pe, out, lengths = _geometry(
            "AveragePool", np.broadcast_to(np.zeros((), np.int8), shape), a.get("kernel_shape"), a.get("strides"),
            a.get("dilations"), a.get("pads"), a.get("auto_pad", "NOTSET"), a.get("ceil_mode", 0))
        axes = tuple(range(-n, 0))
        sp = tuple(shape[2:])
        if a.get("count_include_pad", 0):
            mask = pad_to(np.ones([i + b + e for i, b, e in zip(sp, pb, pe)], np.int64), [0] * n, lengths, 0)
        else:
            mask = pad_to(np.ones(sp, np.int64), pb, lengths, 0)
        cnt = np.maximum(windows(mask, kernel, strides, dil, out).sum(axis=axes), 1)
        mult = np.float64(xqp.scale) / (cnt.astype(np.float64) * np.float64(sim.tensors[node.outputs[0]].scale))
        sim.memo[key] = (n, kernel, strides, dil, pb, lengths, out, mult,
                         float(int(np.prod(kernel)) * _amax(xqp)))
    return sim.memo[key]


EXP_FRAC_BITS = 20


def _softmax(sim: IntegerSimulator, node: Node, env: Env) -> list:
    """Integer softmax: d = max - q along the axis (integers >= 0), e = T[d] from a per-layer
    table T[d] = round(exp(-scale_in·d)·2^20), then each e divided by the row's integer sum Σe
    and by the output scale with one rounded integer division: y = round(e·m0 / (Σe·2^n)) + zp,
    where 1/scale_out ≈ m0·2^-n. The table is built once from float64 exp (correctly rounded to
    20 bits, so it does not depend on the libm's last ulp in practice)."""
    x, xqp = sim._q(node.inputs[0], env)
    out_qp = sim.tensors[node.outputs[0]]
    opset = sim.graph.opset
    axis = int(node.attrs.get("axis", -1 if opset >= 13 else 1)) % max(x.ndim, 1)
    table, m0, n = softmax_constants(sim, node, xqp, out_qp)
    shape = x.shape
    xi = x.astype(np.int64)
    if opset < 13:   # softmax over all axes from `axis` on, as a 2-D coercion
        xi = xi.reshape(int(np.prod(shape[:axis], dtype=np.int64)), -1)
        axis = 1
    d = xi.max(axis=axis, keepdims=True) - xi
    e = table[d]
    total = e.sum(axis=axis, keepdims=True)                 # >= 2^20: the max element gives T[0]
    num = e * m0
    den = total << n if n >= 0 else total
    if n < 0:
        num = num << -n
    y = (2 * num + den) // (2 * den)                       # round half up, exact integers
    lo, hi = out_qp.qrange
    y = np.clip(y + np.int64(out_qp.zero_point), lo, hi).reshape(shape)
    return [(y.astype(storage(out_qp.dtype)), out_qp)]


def softmax_constants(sim: IntegerSimulator, node: Node, xqp: QParams, out_qp: QParams):
    """(exp table over max - q, m0, n with 1/scale_out ≈ m0·2^-n), built on the first run."""
    key = (node.name, "softmax")
    if key not in sim.memo:
        lo, hi = xqp.qrange
        table = np.rint(np.exp(-np.float64(xqp.scale) * np.arange(hi - lo + 1, dtype=np.float64))
                        * 2.0 ** EXP_FRAC_BITS).astype(np.int64)
        m0, n = fixed_point(np.float64(1.0) / np.float64(out_qp.scale), 2.0 ** (EXP_FRAC_BITS + 1))
        sim.memo[key] = (table, int(m0), int(n))
    return sim.memo[key]


def _concat(sim: IntegerSimulator, node: Node, env: Env) -> list:
    oqp = sim.tensors[node.outputs[0]]
    parts = []
    for name in node.inputs:
        x, qp = sim._q(name, env)
        if qp.same(oqp):
            parts.append(x)
        else:
            parts.append(requantize(_centered(x, qp), np.float64(qp.scale) / np.float64(oqp.scale),
                                    float(_amax(qp)), oqp))
    axis = int(node.attrs["axis"])
    return [(np.concatenate(parts, axis=axis).astype(storage(oqp.dtype)), oqp)]


# Elementwise functions of one input: on 8/16-bit inputs a lookup table over every input code,
# built once per layer as quantize(f(dequantize(code))) — the fallback's own formula, so the
# results are those of DQ -> float kernel -> Q, computed once per code instead of per element.
# Which ops: those the registry classifies TABLE (`OpSpec.quant`).
LUT_OPS = roles.TABLE_OPS


def _lut(sim: IntegerSimulator, node: Node, env: Env) -> list:
    x, xqp = sim._q(node.inputs[0], env)
    table, lo = lut_table(sim, node, xqp)
    return [(table[x.astype(np.int64) - lo], sim.tensors[node.outputs[0]])]


def lut_table(sim: IntegerSimulator, node: Node, xqp: QParams) -> tuple[np.ndarray, int]:
    """(Q(f(DQ(code))) for every input code from qmin up, qmin), built on the layer's first run."""
    key = (node.name, "lut")
    if key not in sim.memo:
        lo, hi = xqp.qrange
        codes = np.arange(lo, hi + 1, dtype=np.int64).astype(storage(xqp.dtype))
        ins = [dequantize(codes, xqp)] + [sim.graph.constants[i] if i else None for i in node.inputs[1:]]
        table = quantize(_run_float(node, ins, sim.graph.opset)[0], sim.tensors[node.outputs[0]])
        sim.memo[key] = (table, lo)
    return sim.memo[key]


# The integer kernels; which ops have one is the registry's (`Quant.path == KERNEL`).
_IMPLEMENTATIONS = {"Conv": _conv, "Gemm": _gemm, "MatMul": _gemm, "Add": _addsub, "Sub": _addsub, "Mul": _mul,
                    "GlobalAveragePool": _gap, "Concat": _concat, "AveragePool": _avgpool, "Softmax": _softmax}


def integer_kernels() -> dict[str, Callable]:
    """op -> integer kernel for every op the registry classifies KERNEL; a KeyError names an op
    classified so without a kernel here, or a kernel here for an op classified otherwise."""
    kernel_ops = {op for op, spec in registry.specs().items() if spec.quant.path == registry.KERNEL}
    wrong = sorted(kernel_ops ^ set(_IMPLEMENTATIONS))
    if wrong:
        raise KeyError(f"the registry's KERNEL ops and sim.int_sim's integer kernels differ on {wrong}")
    return {op: _IMPLEMENTATIONS[op] for op in sorted(kernel_ops)}


_KERNELS = integer_kernels()
