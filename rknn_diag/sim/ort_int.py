"""The integer simulator on onnxruntime: `IntegerSimulator`'s integers, bit for bit.

Every node takes the path the numpy simulator (int_sim.py) takes, and the lowering reproduces
that path's integers exactly, using the very constants int_sim computes (its `*_constants`
helpers: fixed-point multipliers, clamps, tables). Why each lowering is exact:

  Conv (1-D, 2-D), Gemm/MatMul by constant weights   float32 Conv/MatMul on the centred integers, exact
        because every product and partial sum is an integer below 2^24 (checked per layer from
        the weights); 16-bit inputs (and weights) split into bytes, one float32 product per part
        pair, recombined in double (see `_float_acc`). Where no split is exact, 8-bit operands
        take ConvInteger / MatMulInteger (int32 sums, lowered only when bound < 2^31).
  requantization  int_sim's `apply_fixed_point`: acc · (m0·2^-n), round half to even, + zero
        point, clamp. Where int_sim's float64 path is exact (|acc|·m0 < 2^53, n > 0) the same
        double Mul -> Round; where it takes its int64 path, the same rounding of the exact
        product acc·m0·2^-n from two exact double partial products (`_split_round`), or in int64
        ops (`_shift_round`). The clamp is done on the centred float32 value (exact: small
        integers), which the next integer layer of the segment reads directly (no store and
        reload between layers; stores nobody reads are pruned).
  fused HardSwish/SiLU epilogue   int_sim's `epilogue` itself, replayed with one ONNX node per
        elementary IEEE double step (`_EmitArith`); SiLU's exp is `exact_math.exp`, built from
        such steps, so numpy and onnxruntime compute the same doubles.
  Add, Sub   A·(a - za) ± B·(b - zb) in double from the centred forms (= int_sim's a·A + b·B + C,
        A = ma0·2^-n, B = mb0·2^-n, C = -(za·ma0 ± zb·mb0)·2^-n): every term is an integer times
        2^-n and the numerators stay below 2^53 (checked), so the sum is int_sim's int64
        accumulator scaled exactly; Round gives its shift_round (ties to even).
  Mul, GlobalAveragePool   centred integer products / sums in double (exact below 2^53, checked;
        GlobalAveragePool sums the centred float32 form where the sum stays below 2^24), then the
        requantization above.
  AveragePool   the window sums as a depthwise float32 Conv of ones (exact below 2^24), then
        int_sim's per-position requantization.
  MatMul of two activations   float32 MatMul of the centred forms where K·amax·bmax < 2^24,
        else 8-bit MatMulInteger.
  Concat     inputs at the output's parameters are copied; others requantized as above (int_sim's
        int64 path, exact in double since amax·m0 < 2^53).
  Softmax    int_sim's integer algorithm in int64: max - q, the same exp table (Gather), row sums,
        one floor division of non-negative integers per element.
  lookup tables (Sigmoid, HardSigmoid, ...)   the piecewise-linear ones (Relu, Clip, HardSigmoid,
        HardSwish) as float32 arithmetic q = clip(round(f(s·c)/s_out)) on the centred input, f
        written op for op as rknn_diag.ops computes it (one correctly rounded operation per
        ONNX op, so the same float32 values), and used only where it gives int_sim's table on
        every input code (checked at lowering, `_lut_chain`); the others Gather on int_sim's table.
  Div with one variable 8/16-bit input and scalar constants, or two variable 8-bit inputs:
        int_sim's fallback (dequantize -> float32 divide -> quantize) is a function of the input
        codes alone (IEEE division is correctly rounded element by element), so it is tabulated
        once from that very fallback over every code (pair) and looked up. Tables read from a
        centred input the segment holds index from it and give centred outputs.
  data movement, MaxPool, nearest Resize (int_sim's direct ops)   the same op on the integers
        (onnxruntime's integer kernel where it has one, else Cast(float) -> op -> Cast, as int_sim);
        pure data movement and MaxPool on the centred float32 form where the segment holds it.
Static shapes: onnx shape inference, with shape arithmetic folded from static shapes first
(`ort_lower.infer_values(fold=True)`), since several lowerings need a rank or a summed length.
  integer shape arithmetic (Shape, Cast, Slice/Concat/Gather of int64 ...)   the same op.
Everything else (the float fallbacks — ReduceMean, ConvTranspose, LayerNorm pieces —, products
no split keeps exact, grouped int4 weights, hybrid float16 layers) runs on int_sim's numpy kernels
between onnxruntime segments, so the whole model's integers are int_sim's.
"""

from __future__ import annotations

import itertools

import numpy as np
from onnx import TensorProto

from ..ir import Graph, Node
from ..qrules import roles
from ..qrules.schemes import QParams, fixed_point, quantize, storage
from .int_sim import (_KERNELS, IntegerSimulator, _amax, addsub_constants, avgpool_constants, conv_constants,
                      conv_multiplier, epilogue, epilogue_scale, finish_constants, gemm_constants, has_epilogue,
                      lut_table, softmax_constants)
from .ort_lower import (Emitter, LoweringError, check_ort_semantics, infer_values, is_ort_refusal, session,
                        value_info)

EXACT = 2.0 ** 53
FLOAT32_EXACT = 2.0 ** 24
INT32 = 2.0 ** 31
EIGHT_BIT = ("uint8", "int8")
ONNX_INT = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8, "int16": TensorProto.INT16}
# Direct ops onnxruntime runs on integer tensors of every width (pure data movement).
MOVE_ANY = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "Split", "Identity",
            "Expand", "Tile")
# Direct ops run on a value's centred float32 form when a segment holds it (`_direct_centred`).
CENTRED_MOVES = (*MOVE_ANY, "MaxPool")
# ... and those it runs on 8-bit integers (from the opset given).
MOVE_8BIT = {"MaxPool": 12, "Resize": 11, "Pad": 11, "ReduceMax": 12, "ReduceMin": 12}
# Fallback ops whose float result is a function of the input codes alone (correctly rounded
# elementwise IEEE arithmetic): tabulated from int_sim's own fallback.
TABULATED = ("Div",)
# Table ops whose kernel is a few correctly rounded float32 operations (see `_piecewise`).
PIECEWISE = ("Relu", "Clip", "HardSigmoid", "HardSwish")
PIECEWISE_POST = ("Relu", "Clip", "Mul", "Add", "Sub", "Div", "Max", "Min")   # one rounding each
# Segments are written at opset 12 at least (Clip on doubles, one pass where Max + Min take two);
# opset 11 -> 12 changed no op's meaning except these, whose opset-11 form 12 rejects.
SEGMENT_OPSET = 12
INVALID_AT_12 = ("Dropout",)
# Below this share of nodes on onnxruntime the segments' hand-offs cost more than they save.
MIN_SHARE = 0.5

Kind = tuple  # (numpy dtype, QParams or None): what int_sim's env holds for a value


class _Skip(Exception):
    """This node runs on numpy (no exact onnxruntime form)."""


class _Segment:
    def __init__(self, opset: int, ids, outer: "_Segment | None" = None):
        self.e = Emitter(opset)
        self.e._ids = ids
        # value -> its centred float32 form (q - zero point) computed in this segment, so that the
        # next integer layer reads it without a store/load round trip; `outer`: the enclosing
        # segment's (a trial node's lowering may use it).
        self.e.centered = {}
        self.e.outer = outer.e.centered if outer is not None else {}
        self.inputs: list[str] = []
        self.produced: list[str] = []
        self.nodes: list[Node] = []


class OrtIntegerSimulator:
    """Same interface and integers as `IntegerSimulator`."""

    backend = "ort"

    def __init__(self, graph: Graph, quant: dict, threads: int = 1, expose: bool = False):
        """`expose=True`: every value an onnxruntime segment computes is handed back (`values`),
        for value-by-value checks against the numpy reference."""
        self.graph = graph
        self.reference = ref = IntegerSimulator(graph, quant)
        self.fallback_ops = ref.fallback_ops
        if graph.opset < 11:
            raise LoweringError(f"opset {graph.opset} < 11 (no Round op in onnx): integer model runs on numpy")
        check_ort_semantics(graph)
        self.opset = graph.opset
        self.seg_opset = self.opset if any(n.op_type in INVALID_AT_12 for n in graph.nodes) else \
            max(self.opset, SEGMENT_OPSET)
        self.types, self.shapes = infer_values(graph, fold=True)
        self.kinds: dict[str, Kind] = {k: (arr.dtype, qp) for k, (arr, qp) in ref.base.items()}
        for v in graph.inputs:
            qp = ref.tensors.get(v.name)
            self.kinds[v.name] = (np.dtype(storage(qp.dtype)), qp) if qp is not None else \
                (np.dtype(v.dtype or np.float32), None)
        ids = itertools.count()
        steps: list = []
        seg: _Segment | None = None
        lowered = 0
        for node in graph.nodes:
            trial = _Segment(self.seg_opset, ids, seg)
            try:
                out_kinds = self._lower(node, trial)
            except _Skip:
                out_kinds = None
            if out_kinds is None:
                steps.append(("numpy", node))
                seg = None
                for o in node.outputs:
                    if o:
                        self.kinds[o] = self._numpy_kind(node, o)
                continue
            lowered += 1
            if seg is None:
                seg = _Segment(self.seg_opset, ids)
                steps.append(("ort", seg))
            self._merge(seg, trial)
            seg.nodes.append(node)
            for o in node.outputs:
                if o:
                    self.kinds[o] = out_kinds[o]
                    seg.produced.append(o)
        if not graph.nodes or lowered < MIN_SHARE * len(graph.nodes):
            raise LoweringError(f"only {lowered} of {len(graph.nodes)} layers have an exact onnxruntime form")
        self.steps = self._finish(steps, threads, expose)
        self.dead_after = None if expose else self._dead_after(self.steps)
        self.numpy_nodes = [s[1].name for s in self.steps if s[0] == "numpy"]

    def __getattr__(self, name):
        """The reference's per-model tables (weights, tensors, layers ...) are this model's too."""
        if name == "reference":
            raise AttributeError(name)
        return getattr(self.reference, name)

    # ---- running ---------------------------------------------------------------------------------
    def passed_through(self, feeds, flags):
        return self.reference.passed_through(feeds, flags)

    def run(self, feeds: list[np.ndarray], dump=None, raw: bool = False, trace: dict | None = None):
        ref = self.reference
        if dump is not None or trace is not None:   # per-layer values: the numpy reference walks the layers
            return ref.run(feeds, dump, raw, trace)
        if self.steps is None:   # a plan found wrong on an earlier run: the reference from then on
            return ref.run(feeds, None, raw)
        try:
            env = self.values(feeds)
        except Exception as e:  # noqa: BLE001 - a lowering found wrong, or onnxruntime's own refusal
            if not (isinstance(e, LoweringError) or is_ort_refusal(e)):
                raise
            self.steps = None
            return ref.run(feeds, None, raw)
        vals = [env[v.name] for v in self.graph.outputs]
        return [a for a, _ in vals] if raw else [IntegerSimulator._float(v) for v in vals]

    def values(self, feeds: list[np.ndarray]) -> dict:
        """Every value computed (as int_sim's env: (array, QParams or None)); with `expose=False`
        only those the segments hand on."""
        ref = self.reference
        env = dict(ref.base)
        for v, x in zip(self.graph.inputs, feeds):
            qp = ref.tensors.get(v.name)
            env[v.name] = (quantize(x, qp), qp) if qp is not None else (np.asarray(x), None)
        for k, (kind, step) in enumerate(self.steps):
            if self.dead_after is not None and k:
                for name in self.dead_after[k - 1]:   # read by no later step: freed now, not at the end
                    env.pop(name, None)
            if kind == "numpy":
                for name, val in zip(step.outputs, ref.run_node(step, env)):
                    if name:
                        env[name] = val
                continue
            sess, ins, outs = step
            feed = {}
            for n in ins:
                arr, qp = env[n]
                arr = np.asarray(arr)
                if arr.dtype != self.kinds[n][0] or (qp is None) != (self.kinds[n][1] is None):
                    # the plan expected another kind of value here: never guess, say where
                    raise LoweringError(f"value '{n}' is {arr.dtype} "
                                        f"{'quantized' if qp is not None else 'raw'}; the onnxruntime plan "
                                        f"expected {self.kinds[n][0]}")
                feed[n] = arr
            res = sess.run(outs, feed)
            for name, val in zip(outs, res):
                env[name] = (val, self.kinds[name][1])
        return env

    # ---- planning --------------------------------------------------------------------------------
    def _merge(self, seg: _Segment, trial: _Segment) -> None:
        seg.e.nodes += trial.e.nodes
        seg.e.inits.update(trial.e.inits)
        seg.e.centered.update(trial.e.centered)
        for i in trial.inputs:
            if i not in seg.produced and i not in seg.inputs:
                seg.inputs.append(i)

    def _finish(self, steps: list, threads: int, expose: bool) -> list:
        """Each segment's outputs: what later steps or the graph outputs read. Sessions made once."""
        wanted_after: list[set] = [set() for _ in steps]
        later = {v.name for v in self.graph.outputs}
        for k in range(len(steps) - 1, -1, -1):
            wanted_after[k] = set(later)
            kind, step = steps[k]
            later |= {i for i in step.inputs if i} if kind == "numpy" else set(step.inputs)
        out = []
        for (kind, step), wanted in zip(steps, wanted_after):
            if kind == "numpy":
                out.append((kind, step))
                continue
            outs = [o for o in step.produced if o in wanted or expose]
            if not outs:
                continue
            _prune(step.e, outs)
            model = step.e.model([value_info(i, self.kinds[i][0]) for i in step.inputs],
                                 [value_info(o, self.kinds[o][0]) for o in outs], self.graph.name)
            out.append(("ort", (session(model, threads), list(step.inputs), outs)))
        return out

    def _dead_after(self, steps: list) -> list[list[str]]:
        """Per step, the non-constant values whose last reader it is (graph outputs excepted)."""
        last: dict[str, int] = {}
        for k, (kind, step) in enumerate(steps):
            for i in (step.inputs if kind == "numpy" else step[1]):
                if i and i not in self.graph.constants:
                    last[i] = k
        keep = {v.name for v in self.graph.outputs}
        dead: list[list[str]] = [[] for _ in steps]
        for name, k in last.items():
            if name not in keep:
                dead[k].append(name)
        return dead

    def _numpy_kind(self, node: Node, o: str) -> Kind:
        """What int_sim's run_node leaves in env for output `o` (see IntegerSimulator.run_node)."""
        ref = self.reference
        t = self.types.get(o)
        if t is None:
            raise LoweringError(f"no type inferred for '{o}' (node '{node.name}', {node.op_type})")
        if ref.layers.get(node.name) == "float16":
            return (np.dtype(np.float32) if t.kind == "f" else t, None)
        if roles.is_direct(node) and ref._shares(node):
            qp = self.kinds[node.inputs[0]][1] or ref.tensors[node.inputs[0]]
            return (np.dtype(storage(qp.dtype)), qp) if t.kind == "f" else (t, None)
        integer = ref._lut_ok(node) or (_KERNELS.get(node.op_type) is not None and ref._integer(node)
                                         and not (node.op_type in ("Add", "Sub") and len(node.inputs) != 2))
        if integer:
            if o != node.outputs[0]:
                raise LoweringError(f"node '{node.name}': a second output of an integer kernel")
            qp = ref.tensors[o]
            return (np.dtype(storage(qp.dtype)), qp)
        qp = ref.tensors.get(o)
        if qp is not None and t.kind == "f":
            return (np.dtype(storage(qp.dtype)), qp)
        return (t, None)

    # ---- one node ----------------------------------------------------------------------------------
    def _use(self, seg: _Segment, name: str) -> str:
        if name in self.graph.constants:
            if name not in seg.e.inits:
                seg.e.init(name, self.reference.base[name][0])
        elif name not in seg.inputs:
            seg.inputs.append(name)
        return name

    def _q(self, seg: _Segment, name: str, bits8: bool = False) -> tuple[str, QParams]:
        dt, qp = self.kinds.get(name, (None, None))
        if qp is None or not qp.per_tensor or qp.dtype not in ONNX_INT or (bits8 and qp.dtype not in EIGHT_BIT):
            raise _Skip
        return self._use(seg, name), qp

    def _lower(self, node: Node, seg: _Segment) -> dict[str, Kind] | None:
        ref = self.reference
        if ref.layers.get(node.name) == "float16":
            return None
        if roles.is_direct(node) and ref._shares(node):
            return self._direct(node, seg)
        if ref._lut_ok(node):
            return self._lut(node, seg)
        if node.op_type in _KERNELS and ref._integer(node):
            fn = getattr(self, "_k_" + node.op_type.lower(), None)
            if node.op_type in ("Add", "Sub") and len(node.inputs) != 2:
                return self._fallback(node, seg)
            if fn is None or len([o for o in node.outputs if o]) != 1:
                return None
            return fn(node, seg)
        return self._fallback(node, seg)

    def _out(self, node: Node) -> tuple[str, QParams]:
        o = node.outputs[0]
        qp = self.reference.tensors.get(o)
        if qp is None or not qp.per_tensor or qp.dtype not in ONNX_INT:
            raise _Skip
        return o, qp

    # requantization: int_sim's apply_fixed_point
    def _requant(self, e: Emitter, acc_d: str, m0, n, zp: int, clamp, dtype: str, bound: float,
                 out: str | None = None) -> str:
        return self._clamp_cast(e, self._rounded(e, acc_d, m0, n, bound), zp, clamp, dtype, out)

    def _rounded(self, e: Emitter, acc_d: str, m0, n, bound: float) -> str:
        """int_sim's apply_fixed_point before its clamp: round(acc·m0·2^-n), ties to even, as double."""
        m0, n = np.asarray(m0, np.int64), np.asarray(n, np.int64)
        if bound * float(np.max(m0, initial=0)) < EXACT and (n > 0).all():   # its float64 path
            mult = np.asarray(m0, np.float64) * np.exp2(-np.asarray(n, np.float64))
            return e.one("Round", [e.one("Mul", [acc_d, e.const(mult, "M")])])
        split = self._split_round(e, acc_d, m0, n, bound)
        return split if split is not None else self._shift_round(e, acc_d, m0, n)

    def _split_round(self, e: Emitter, acc_d: str, m0: np.ndarray, n: np.ndarray, bound: float) -> str | None:
        """RNE(acc·m0·2^-n) — what int_sim's int64 path computes — in double, exactly, where
        acc·m0 is too wide for one double but |acc| < 2^B with B <= 37, n >= 1, m0 < 2^31:
        m0 = mh·2^s + ml (ml < 2^s, s = 52 - B), so q1 = acc·mh·2^(s-n) and q2 = acc·ml·2^-n are
        exact products (B + bits(mh) <= 53, B + s <= 53). f = 2·floor(q1/2) is even and exact,
        r = q1 - f in [0, 2) is exact (a multiple of 2^(s-n)), t = r + q2 is exact (a multiple of
        2^-n below 2^(B+s+1-n)). acc·m0·2^-n = f + t with f even, so RNE of it is f + RNE(t)
        (the tie parity is kept). The last addition is exact whenever the result is in any
        integer range; where it is not, rounding is monotone and the clamp gives the same."""
        B = int(np.ceil(np.log2(max(bound, 1.0) + 1)))
        if B > 37 or (n < 1).any() or (n > 62).any() or (m0 >= 2 ** 31).any() or (m0 < 0).any():
            return None
        s = 52 - B
        mh, ml = m0 >> s, m0 & ((1 << s) - 1)
        a1 = mh.astype(np.float64) * np.exp2((s - n).astype(np.float64))
        a2 = ml.astype(np.float64) * np.exp2(-n.astype(np.float64))
        q1 = e.one("Mul", [acc_d, e.const(a1, "A1")])
        f = e.one("Mul", [e.one("Floor", [e.one("Mul", [q1, e.const(np.float64(0.5), "half")])]),
                          e.const(np.float64(2), "two")])
        t = e.one("Add", [e.one("Sub", [q1, f]), e.one("Mul", [acc_d, e.const(a2, "A2")])])
        return e.one("Add", [e.one("Round", [t]), f])

    def _shift_round(self, e: Emitter, acc_d: str, m0: np.ndarray, n: np.ndarray) -> str:
        """int_sim's int64 path, schemes.shift_round(acc·m0, n), in int64 ops: p = acc·m0
        (< 2^62 by fixed_point's choice of m0), r = p mod 2^n, q = (p - r) / 2^n (exact, so
        floor), then +1 where r > 2^(n-1), or where r == 2^(n-1) and q is odd (ties to even).
        Shifts n <= 0 are exact products p·2^-n. Returns the rounded value as double."""
        if ((n <= 0).any() and (n > 0).any()) or (n >= 62).any() or (n <= -62).any():
            raise _Skip   # mixed or out-of-range shifts: numpy
        p = e.one("Mul", [e.one("Cast", [acc_d], to=TensorProto.INT64), e.const(m0, "m0")])
        if (n <= 0).all():
            y = e.one("Mul", [p, e.const(np.left_shift(np.int64(1), -n), "p2")])
            return e.one("Cast", [y], to=TensorProto.DOUBLE)
        one = np.int64(1)
        div = e.const(np.left_shift(one, n), "p2")
        half = e.const(np.left_shift(one, n - 1), "half")
        r = e.one("Mod", [p, div], fmod=0)        # sign of the divisor: 0 <= r < 2^n
        q = e.one("Div", [e.one("Sub", [p, r]), div])
        odd = e.one("Equal", [e.one("Mod", [q, e.const(np.int64(2), "two")], fmod=0), e.const(one, "one")])
        up = e.one("Or", [e.one("Greater", [r, half]), e.one("And", [e.one("Equal", [r, half]), odd])])
        q = e.one("Add", [q, e.one("Cast", [up], to=TensorProto.INT64)])
        return e.one("Cast", [q], to=TensorProto.DOUBLE)

    def _clamp_c(self, e: Emitter, y_d: str, zp: int, clamp) -> str:
        """The rounded double, clamped, as its centred float32 form (q - zp). The cast to float32
        is exact for |y| < 2^24, and a larger |y| stays beyond the clamp range, so the clamp
        result is the same."""
        lo, hi = clamp
        y = e.one("Cast", [y_d], to=TensorProto.FLOAT)
        return e.one("Clip", [y, e.const(np.float32(lo - zp), "lo"), e.const(np.float32(hi - zp), "hi")])

    def _store(self, e: Emitter, c: str, zp: int, dtype: str, out: str | None) -> str:
        """Centred float32 -> stored integers (+ zero point, cast; exact: small integers). The
        centred form stays known for later layers of the segment; the store is pruned when no
        one reads it."""
        if out:
            e.centered[out] = c
        y = e.one("Add", [c, e.const(np.float32(zp), "zp")]) if zp else c
        return e.op("Cast", [y], outputs=[out] if out else None, to=ONNX_INT[dtype])[0]

    def _clamp_cast(self, e: Emitter, y_d: str, zp: int, clamp, dtype: str, out: str | None) -> str:
        """+ zero point, clamp, store."""
        return self._store(e, self._clamp_c(e, y_d, zp, clamp), zp, dtype, out)

    def _c(self, seg: _Segment, name: str, bits8: bool = False) -> tuple[str, QParams, int]:
        """(centred float32 form of a quantized value, its QParams, max |q - zp|): the one a
        layer before computed in this segment, else Cast + Sub from the stored integers."""
        _, qp = self.kinds.get(name, (None, None))
        if qp is None or not qp.per_tensor or qp.dtype not in ONNX_INT or (bits8 and qp.dtype not in EIGHT_BIT):
            raise _Skip
        z = int(qp.zero_point)
        lo, hi = qp.qrange
        cmax = max(abs(lo - z), abs(hi - z))
        e = seg.e
        c = e.centered.get(name) or e.outer.get(name)
        if c is None:
            c = e.one("Cast", [self._use(seg, name)], to=TensorProto.FLOAT)
            if z:
                c = e.one("Sub", [c, e.const(np.float32(z), "z")])
            e.centered[name] = c
        return c, qp, cmax

    def _double(self, e: Emitter, name: str, zp: int = 0) -> str:
        d = e.one("Cast", [name], to=TensorProto.DOUBLE)
        return e.one("Sub", [d, e.const(np.float64(zp), "z")]) if zp else d

    def _reduce(self, e: Emitter, op: str, x: str, axes: list[int]) -> str:
        as_input = self.opset >= (13 if op == "ReduceSum" else 18)
        if as_input:
            return e.one(op, [x, e.const(np.asarray(axes, np.int64), "axes")], keepdims=1)
        return e.one(op, [x], axes=axes, keepdims=1)

    def _finish_acc(self, node: Node, seg: _Segment, acc_i32: str | None, acc_d: str, mult, bound: float):
        """int_sim's _finish: requantize, fused Relu/Clip as clamps, LeakyRelu's second multiplier."""
        o, oqp = self._out(node)
        e = seg.e
        if has_epilogue(node):
            self._epilogue(e, node, acc_d, mult, oqp, o)
            return {o: (np.dtype(storage(oqp.dtype)), oqp)}
        (m0, n), neg, clamp = finish_constants(self.reference, node, mult, bound)
        if neg is None:
            self._requant(e, acc_d, m0, n, int(oqp.zero_point), clamp, oqp.dtype, bound, o)
        else:
            zp = int(oqp.zero_point)
            pos = self._clamp_c(e, self._rounded(e, acc_d, m0, n, bound), zp, clamp)
            negv = self._clamp_c(e, self._rounded(e, acc_d, neg[0], neg[1], bound), zp, clamp)
            cond = e.one("Not", [e.one("Less", [acc_d, e.const(np.float64(0), "zero")])])
            self._store(e, e.one("Where", [cond, pos, negv]), zp, oqp.dtype, o)
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    def _epilogue(self, e: Emitter, node: Node, acc_d: str, mult, oqp: QParams, out: str) -> None:
        """int_sim's `_finish_epilogue`, the same IEEE double operations in the same order: the
        real value acc·(mult·s_out), the fused chain (`int_sim.epilogue`, replayed here through
        `_EmitArith`), / s_out, Round (half to even, like np.rint), + zero point, clamp."""
        scale = epilogue_scale(mult, oqp)
        t = e.one("Mul", [acc_d, e.const(np.asarray(scale, np.float64).reshape(np.shape(scale)), "es")])
        t = epilogue(t, node.post_ops, _EmitArith(e))
        y = e.one("Round", [e.one("Div", [t, e.const(np.float64(oqp.scale), "s")])])
        self._clamp_cast(e, y, int(oqp.zero_point), oqp.qrange, oqp.dtype, out)

    # ---- integer kernels -----------------------------------------------------------------------
    def _k_conv(self, node: Node, seg: _Segment):
        """1-D and 2-D convolutions (onnxruntime's ConvInteger takes 2-D ones only)."""
        ref = self.reference
        w = node.inputs[1]
        rank = len(self.shapes.get(node.inputs[0], ()))
        if ref.weights[w].group is not None or rank not in (3, 4):
            raise _Skip
        nsp = rank - 2
        xqp = self._c(seg, node.inputs[0])[1]
        wc, _, wqp, bias, gemm_bound, bound = conv_constants(ref, node, xqp)
        mult = conv_multiplier(ref, node, xqp, wqp, nsp)
        acc_d = self._float_conv(node, seg, xqp, wc, bias, bound, nsp)
        if acc_d is not None:
            return self._finish_acc(node, seg, None, acc_d, mult, bound)
        x, xqp = self._q(seg, node.inputs[0])
        if xqp.dtype not in EIGHT_BIT or wqp.dtype not in EIGHT_BIT or gemm_bound >= INT32 or nsp != 2:
            raise _Skip
        e = seg.e
        wname = e.const(ref.qweights[w], "w")
        acc = e.one("ConvInteger", [x, wname, e.const(np.asarray(xqp.zero_point, storage(xqp.dtype)), "xz"),
                                    self._wzp(seg, wqp)], **node.attrs)
        acc_d = self._with_bias(e, acc, bias, bound, (-1, 1, 1))
        return self._finish_acc(node, seg, acc, acc_d, mult, bound)

    def _float_conv(self, node: Node, seg: _Segment, xqp: QParams, wc: np.ndarray, bias, bound: float, nsp: int):
        """The exact integer convolution as float32 Conv ops; see `_float_acc`."""
        def conv(e, x, w, b):
            return e.one("Conv", [x, e.const(w.astype(np.float32), "w")] + ([b] if b else []), **node.attrs)
        wsum = lambda a: float(np.abs(a).reshape(a.shape[0], -1).sum(axis=1).max(initial=0))  # noqa: E731
        return self._float_acc(seg, node.inputs[0], xqp, wc, wsum, bias, (-1,), (-1, *[1] * nsp), conv)

    def _float_acc(self, seg: _Segment, xname: str, xqp: QParams, wc: np.ndarray, wsum, bias, bshape_in,
                   bshape_out, emit):
        """An exact integer product (Conv or MatMul of the centred input by centred integer
        weights `wc`) as float32 ops (onnxruntime's fastest kernels), as double; None where no
        split below keeps it exact. `wsum(w)`: the largest Σ|w| over the terms of one output.

        Exactness: a float32 Conv/MatMul of integer operands is exact whatever its summation
        order (im2col, NCHWc blocks, FMA) when every product and every partial sum is an
        integer below 2^24 in magnitude, which holds when max Σ|w|·max|x| < 2^24 (the bias
        counted too when it is added in float32). Where it does not hold, the centred input
        c = x - z is split c = 256·h + l (l = c - 256·floor(c/256) in [0, 255], both exact in
        float32), and if still needed the centred weights w = 256·wh + wl likewise; each
        part-by-part product is held to the 2^24 bound, and the parts are recombined in double,
        exact because every term and sum is an integer below int_sim's own bound < 2^53.
        Padding: float Conv pads with 0, which is the centred zero point (h = l = 0)."""
        e = seg.e
        lo, hi = xqp.qrange
        z = int(xqp.zero_point)
        cmax = max(abs(lo - z), abs(hi - z))
        bmax = float(np.abs(bias).max(initial=0)) if bias is not None else 0.0
        xparts, wparts = [(None, cmax, 1)], [(wc, 1)]
        if wsum(wc) * cmax >= FLOAT32_EXACT:
            hmax = max(abs((lo - z) // 256), abs((hi - z) // 256))
            xparts = [("h", hmax, 256), ("l", 255, 1)]
            if any(wsum(wc) * m >= FLOAT32_EXACT for _, m, _ in xparts):
                wh = np.floor_divide(wc, 256)
                wparts = [(wh, 256), (wc - 256 * wh, 1)]
            if any(wsum(wp) * m >= FLOAT32_EXACT for wp, _ in wparts for _, m, _ in xparts):
                return None
        inside = len(xparts) == 1 and len(wparts) == 1 and wsum(wc) * cmax + bmax < FLOAT32_EXACT
        xf = self._c(seg, xname)[0]
        tensors = {None: xf}
        if len(xparts) > 1:
            h = e.one("Floor", [e.one("Mul", [xf, e.const(np.float32(1 / 256), "inv256")])])
            tensors = {"h": h, "l": e.one("Sub", [xf, e.one("Mul", [h, e.const(np.float32(256), "f256")])])}
        b32 = e.const(bias.astype(np.float32).reshape(bshape_in), "b") if inside and bias is not None else None
        terms = []
        for key, _, sx in xparts:
            for wp, sw in wparts:
                acc = e.one("Cast", [emit(e, tensors[key], wp, b32)], to=TensorProto.DOUBLE)
                terms.append(acc if sx * sw == 1 else e.one("Mul", [acc, e.const(np.float64(sx * sw), "s")]))
        acc_d = terms[0]
        for t in terms[1:]:
            acc_d = e.one("Add", [acc_d, t])
        if not inside and bias is not None:
            acc_d = e.one("Add", [acc_d, e.const(bias.astype(np.float64).reshape(bshape_out), "b")])
        return acc_d

    def _with_bias(self, e: Emitter, acc: str, bias, bound: float, shape) -> str:
        """acc + bias as double: added in int32 when the bound allows, else in double (exact)."""
        if bias is None:
            return self._double(e, acc)
        if bound < INT32:
            return self._double(e, e.one("Add", [acc, e.const(bias.astype(np.int32).reshape(shape), "b")]))
        return e.one("Add", [self._double(e, acc), e.const(bias.astype(np.float64).reshape(shape), "b")])

    def _wzp(self, seg: _Segment, wqp: QParams) -> str:
        """A weight zero point onnxruntime takes: one per tensor (per-channel ones must be 0)."""
        z = np.asarray(wqp.zero_point).reshape(-1)
        if not wqp.per_tensor and z.any():
            raise _Skip
        return seg.e.const(np.asarray(z[0] if z.size else 0, storage(wqp.dtype)), "wz")

    def _k_gemm(self, node: Node, seg: _Segment):
        ref = self.reference
        wname = roles.weight_name(self.graph, node)
        e = seg.e
        if wname is not None:
            wqp = ref.weights[wname]
            if wqp.group is not None:
                raise _Skip
            aqp = self._c(seg, node.inputs[0])[1]
            wf, bound, mult, bias = gemm_constants(ref, node, aqp)
            mult = np.asarray(mult)
            mult = mult if mult.size > 1 else mult.reshape(())
            if node.op_type == "MatMul" or len(self.shapes.get(node.inputs[0], ())) == 2:
                def matmul(e, x, w, b):
                    y = e.one("MatMul", [x, e.const(w.astype(np.float32), "w")])
                    return e.one("Add", [y, b]) if b else y
                wsum = lambda w: float(np.abs(w).sum(axis=-2).max(initial=0))  # noqa: E731
                acc_d = self._float_acc(seg, node.inputs[0], aqp, wf, wsum, bias, (-1,), (-1,), matmul)
                if acc_d is not None:
                    return self._finish_acc(node, seg, None, acc_d, mult, bound)
            a, aqp = self._q(seg, node.inputs[0], bits8=True)
            if wqp.dtype not in EIGHT_BIT:
                raise _Skip
            wq = ref.qweights[wname]
            if node.op_type == "Gemm" and node.attrs.get("transB", 0):
                wq = np.ascontiguousarray(wq.T)
            b = e.const(wq, "w")
            bz = self._wzp(seg, wqp)
        else:
            shp = self.shapes.get(node.inputs[1])
            if shp is None:
                raise _Skip
            kdim = shp[-2] if len(shp) >= 2 else shp[0]
            if node.op_type == "MatMul":   # two activations: float32 MatMul of the centred forms
                (ca, aqp, _), (cb, bqp, _) = self._c(seg, node.inputs[0]), self._c(seg, node.inputs[1])
                _, bound, mult, _ = gemm_constants(ref, node, aqp, None, bqp, kdim)
                if bound < FLOAT32_EXACT:   # every product and partial sum an integer below 2^24
                    acc_d = e.one("Cast", [e.one("MatMul", [ca, cb])], to=TensorProto.DOUBLE)
                    return self._finish_acc(node, seg, None, acc_d, np.asarray(mult).reshape(()), bound)
            a, aqp = self._q(seg, node.inputs[0], bits8=True)
            b, bqp = self._q(seg, node.inputs[1], bits8=True)
            _, bound, mult, bias = gemm_constants(ref, node, aqp, None, bqp, kdim)
            bz = e.const(np.asarray(bqp.zero_point, storage(bqp.dtype)), "bz")
            mult = np.asarray(mult)
            mult = mult if mult.size > 1 else mult.reshape(())
        gemm_bound = bound - (float(np.abs(bias).max(initial=0)) if bias is not None else 0.0)
        if gemm_bound >= INT32:
            raise _Skip
        acc = e.one("MatMulInteger", [a, b, e.const(np.asarray(aqp.zero_point, storage(aqp.dtype)), "az"), bz])
        acc_d = self._with_bias(e, acc, bias, bound, (-1,))
        return self._finish_acc(node, seg, acc, acc_d, mult, bound)

    _k_matmul = _k_gemm

    def _k_add(self, node: Node, seg: _Segment):
        """From the centred forms: A·(a - za) ± B·(b - zb) = A·a ± B·b + C of int_sim's sum."""
        (a, aqp, amax), (b, bqp, bmax) = self._c(seg, node.inputs[0]), self._c(seg, node.inputs[1])
        o, oqp = self._out(node)
        ma0, mb0, n = addsub_constants(aqp, bqp, oqp)
        sign = -1 if node.op_type == "Sub" else 1
        if abs(int(ma0)) * amax + abs(int(mb0)) * bmax >= EXACT:
            raise _Skip
        e, scale = seg.e, 2.0 ** -n
        y = e.one("Add", [e.one("Mul", [self._double(e, a), e.const(np.float64(int(ma0) * scale), "A")]),
                          e.one("Mul", [self._double(e, b), e.const(np.float64(sign * int(mb0) * scale), "B")])])
        lo, hi = oqp.qrange
        if any(p.op_type == "Relu" for p in node.post_ops):
            lo = max(lo, int(oqp.zero_point))
        self._clamp_cast(e, e.one("Round", [y]), int(oqp.zero_point), (lo, hi), oqp.dtype, o)
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    _k_sub = _k_add

    def _k_mul(self, node: Node, seg: _Segment):
        (a, aqp, _), (b, bqp, _) = self._c(seg, node.inputs[0]), self._c(seg, node.inputs[1])
        e = seg.e
        acc = e.one("Mul", [self._double(e, a), self._double(e, b)])
        mult = np.float64(aqp.scale) * np.float64(bqp.scale) / np.float64(self.reference.tensors[node.outputs[0]].scale)
        return self._finish_acc(node, seg, None, acc, mult, float(_amax(aqp) * _amax(bqp)))

    def _k_globalaveragepool(self, node: Node, seg: _Segment):
        shp = self.shapes.get(node.inputs[0])
        if shp is None:
            raise _Skip
        count = int(np.prod(shp[2:]))
        e = seg.e
        axes = list(range(2, len(shp)))
        c, xqp, cmax = self._c(seg, node.inputs[0])
        if count * cmax < FLOAT32_EXACT:   # float32 sums of integers below 2^24: exact in any order
            acc = e.one("Cast", [self._reduce(e, "ReduceSum", c, axes)], to=TensorProto.DOUBLE)
        else:
            x, xqp = self._q(seg, node.inputs[0])
            acc = self._reduce(e, "ReduceSum", self._double(e, x), axes)
            if int(xqp.zero_point):
                acc = e.one("Sub", [acc, e.const(np.float64(count * int(xqp.zero_point)), "cz")])
        mult = np.float64(xqp.scale) / (count * np.float64(self.reference.tensors[node.outputs[0]].scale))
        return self._finish_acc(node, seg, None, acc, mult, float(count * _amax(xqp)))

    def _k_averagepool(self, node: Node, seg: _Segment):
        """int_sim's window sums as a depthwise float32 Conv of ones on the centred input (exact:
        integers below 2^24; the conv's zero padding is the centred zero point, as int_sim pads),
        padded at the end to int_sim's padded lengths (checked to give its output size); then its
        per-position requantization."""
        shp = self.shapes.get(node.inputs[0])
        if shp is None or len(shp) < 3:
            raise _Skip
        c, xqp, cmax = self._c(seg, node.inputs[0])
        n, kernel, strides, dil, pb, lengths, out, mult, bound = avgpool_constants(self.reference, node, shp, xqp)
        if bound >= FLOAT32_EXACT:
            raise _Skip
        pe = [max(L - b - i, 0) for L, b, i in zip(lengths, pb, shp[2:])]   # < 0: a tail no window reads
        if any((i + b + p - ((k - 1) * d + 1)) // s + 1 != o for i, b, p, k, d, s, o in
                                         zip(shp[2:], pb, pe, kernel, dil, strides, out)):
            raise _Skip
        e = seg.e
        ones = np.ones((shp[1], 1, *kernel), np.float32)
        acc = e.one("Conv", [c, e.const(ones, "ones")], group=int(shp[1]), kernel_shape=list(kernel),
                    strides=list(strides), dilations=list(dil), pads=list(pb) + pe)
        acc_d = e.one("Cast", [acc], to=TensorProto.DOUBLE)
        return self._finish_acc(node, seg, None, acc_d, np.asarray(mult), bound)

    def _k_concat(self, node: Node, seg: _Segment):
        o, oqp = self._out(node)
        e = seg.e
        parts = []
        for name in node.inputs:
            x, qp = self._q(seg, name)
            if qp.same(oqp):
                parts.append(x)
                continue
            m0, n = fixed_point(np.float64(qp.scale) / np.float64(oqp.scale), float(_amax(qp)))
            if _amax(qp) * float(m0) >= EXACT:
                raise _Skip
            # int_sim's int64 shift path; exact in double here (also for n <= 0: then no rounding)
            y = e.one("Mul", [self._double(e, x, int(qp.zero_point)),
                              e.const(np.float64(float(m0) * 2.0 ** -int(n)), "M")])
            parts.append(self._clamp_cast(e, e.one("Round", [y]), int(oqp.zero_point), oqp.qrange, oqp.dtype, None))
        e.op("Concat", parts, outputs=[o], axis=int(node.attrs["axis"]))
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    def _k_softmax(self, node: Node, seg: _Segment):
        x, xqp = self._q(seg, node.inputs[0])
        o, oqp = self._out(node)
        shp = self.shapes.get(node.inputs[0])
        if shp is None:
            raise _Skip
        table, m0, n = softmax_constants(self.reference, node, xqp, oqp)
        axis = int(node.attrs.get("axis", -1 if self.opset >= 13 else 1)) % max(len(shp), 1)
        e = seg.e
        xi = e.one("Cast", [x], to=TensorProto.INT64)
        if self.opset < 13:   # softmax over all axes from `axis` on, as a 2-D coercion
            xi = e.one("Reshape", [xi, e.const(np.asarray([int(np.prod(shp[:axis], dtype=np.int64)), -1],
                                                          np.int64), "shape")])
            axis = 1
        d = e.one("Sub", [self._reduce(e, "ReduceMax", xi, [axis]), xi])
        ex = e.one("Gather", [e.const(table, "exp"), d], axis=0)
        total = self._reduce(e, "ReduceSum", ex, [axis])
        num = e.one("Mul", [ex, e.const(np.int64(m0 << max(-n, 0)), "m0")])
        den = e.one("Mul", [total, e.const(np.int64(1 << max(n, 0)), "p2")]) if n > 0 else total
        two = e.const(np.int64(2), "two")
        y = e.one("Div", [e.one("Add", [e.one("Mul", [num, two]), den]), e.one("Mul", [den, two])])
        if self.opset < 13:
            y = e.one("Reshape", [y, e.const(np.asarray(shp, np.int64), "shape")])
        self._clamp_cast(e, e.one("Cast", [y], to=TensorProto.DOUBLE), int(oqp.zero_point), oqp.qrange,
                         oqp.dtype, o)
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    # ---- tables, direct ops, integer shape arithmetic --------------------------------------------
    def _gather(self, seg: _Segment, table: np.ndarray, idx: str, out: str) -> None:
        seg.e.op("Gather", [seg.e.const(table, "table"), idx], outputs=[out], axis=0)

    def _index(self, seg: _Segment, x: str, lo: int) -> str:
        e = seg.e
        i = e.one("Cast", [x], to=TensorProto.INT32)
        return e.one("Add", [i, e.const(np.int32(-lo), "lo")]) if lo else i

    def _lut(self, node: Node, seg: _Segment):
        o, oqp = self._out(node)
        xqp = self._c(seg, node.inputs[0])[1]
        table, lo = lut_table(self.reference, node, xqp)
        chain = self._lut_chain(node, xqp, oqp, table, lo)
        if chain is not None:
            self._store(seg.e, chain(seg.e, self._c(seg, node.inputs[0])[0]), int(oqp.zero_point), oqp.dtype, o)
        elif seg.e.centered.get(node.inputs[0]) or seg.e.outer.get(node.inputs[0]):
            # the segment holds the centred input: index c + (z - lo) = q - lo from it, and look
            # up the table's centred outputs, which the next layers read directly (small
            # integers: exact in float32 and in the casts)
            e, c = seg.e, self._c(seg, node.inputs[0])[0]
            off = int(xqp.zero_point) - lo
            f = e.one("Add", [c, e.const(np.float32(off), "off")]) if off else c
            idx = e.one("Cast", [f], to=TensorProto.INT32)
            centred = table.astype(np.float32) - np.float32(int(oqp.zero_point))
            y = e.one("Gather", [e.const(centred, "ctable"), idx], axis=0)
            self._store(e, y, int(oqp.zero_point), oqp.dtype, o)
        else:
            x, xqp = self._q(seg, node.inputs[0])
            self._gather(seg, table, self._index(seg, x, lo), o)
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    def _lut_chain(self, node: Node, xqp: QParams, oqp: QParams, table: np.ndarray, lo: int):
        """The table as float32 arithmetic on the centred input, c -> clip(round(f(s·c) / s_out)),
        the centred output — or None. Used only where onnxruntime gives exactly the table on
        every input code (checked here, on the codes laid out at several offsets, so vector
        bodies and scalar tails both answer): then it is the table, elementwise."""
        if node.op_type not in PIECEWISE or any(p.op_type not in PIECEWISE_POST for p in node.post_ops) \
                or len([o for o in node.outputs if o]) != 1:
            return None
        if node.op_type == "Clip" and (self.opset < 11 or any(i and i not in self.graph.constants
                                                               for i in node.inputs[1:])):
            return None
        z, zo = int(xqp.zero_point), int(oqp.zero_point)
        qlo, qhi = oqp.qrange

        def chain(e: Emitter, c: str) -> str:
            f = e.one("Mul", [c, e.const(np.asarray(xqp.scale, np.float32).reshape(()), "s")])
            y = self._piecewise(e, node, f)
            if node.post_ops:   # fused Mul/Add/...: the Emitter's post-op lowering, one op each
                post = e.fresh(node.outputs[0])
                e.ir_node(Node("Identity", node.name, [y], [post], post_ops=node.post_ops), [y], [post])
                y = post
            q = e.one("Round", [e.one("Div", [y, e.const(np.asarray(oqp.scale, np.float32).reshape(()), "so")])])
            return e.one("Clip", [q, e.const(np.float32(qlo - zo), "lo"), e.const(np.float32(qhi - zo), "hi")])

        codes = np.arange(lo, lo + table.size, dtype=np.float32) - np.float32(z)
        feed = np.concatenate([codes, np.roll(codes, 1), codes[:7], np.roll(codes, 3), codes[:13]])
        want = np.concatenate([table, np.roll(table, 1), table[:7], np.roll(table, 3), table[:13]])
        e = Emitter(self.opset)
        e.op("Identity", [chain(e, "c")], outputs=["y"])
        try:
            got = session(e.model([value_info("c", np.float32)], [value_info("y", np.float32)]), 1).run(
                None, {"c": feed})[0]
        except LoweringError:
            return None
        ok = got.shape == want.shape and np.array_equal(got.astype(np.float64) + zo, want.astype(np.float64))
        return chain if ok else None

    def _piecewise(self, e: Emitter, node: Node, f: str) -> str:
        """rknn_diag.ops' kernel of a piecewise-linear activation, one ONNX op per numpy
        operation: each is a single correctly rounded (or exact) float32 operation per element,
        so the values are numpy's whatever the position in the tensor (vector body or tail)."""
        op = node.op_type
        if op == "Relu":
            return e.one("Relu", [f])
        if op == "Clip":
            ins = [f] + [e.const(np.asarray(self.graph.constants[i], np.float32).reshape(()), "k") if i else ""
                         for i in node.inputs[1:3]]
            while ins[-1] == "":
                ins.pop()
            return e.one("Clip", ins)
        zero, one = e.const(np.float32(0), "zero"), e.const(np.float32(1), "one")
        alpha, beta = ((float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5)))
                       if op == "HardSigmoid" else (1 / 6, 0.5))
        t = e.one("Clip", [e.one("Add", [e.one("Mul", [f, e.const(np.float32(alpha), "alpha")]),
                                         e.const(np.float32(beta), "beta")]), zero, one])
        return t if op == "HardSigmoid" else e.one("Mul", [f, t])

    def _fallback(self, node: Node, seg: _Segment):
        if node.op_type in TABULATED:
            return self._tabulated(node, seg)
        return self._raw(node, seg)

    def _tabulated(self, node: Node, seg: _Segment):
        """int_sim's fallback over every input code (pair), looked up (see the module docstring)."""
        ref = self.reference
        if node.post_ops or len(node.outputs) != 1:
            raise _Skip
        o, oqp = self._out(node)
        if ref.tensors.get(o) is None or self.types.get(o, np.dtype(np.int64)).kind != "f":
            raise _Skip
        var = [i for i in node.inputs if i and i not in self.graph.constants]
        consts = [i for i in node.inputs if i and i in self.graph.constants]
        if any(np.size(self.graph.constants[c]) != 1 for c in consts):
            raise _Skip
        if len(var) == 1:
            x, xqp = self._q(seg, var[0])
            if self.shapes.get(o) != self.shapes.get(var[0]):   # the constants must not widen the shape
                raise _Skip
            if node.op_type == "Div" and len(consts) == 1:
                quick = self._div_float32(node, seg, x, xqp, var[0], consts[0], oqp)
                if quick is not None:
                    return quick
            lo, hi = xqp.qrange
            env = dict(ref.base)
            env[var[0]] = (np.arange(lo, hi + 1).astype(storage(xqp.dtype)), xqp)
            table = ref._fallback(node, env)[0][0].reshape(-1)
            self._gather(seg, table, self._index(seg, x, lo), o)
        elif len(var) == 2 and var[0] != var[1]:
            (a, aqp), (b, bqp) = self._q(seg, var[0], bits8=True), self._q(seg, var[1], bits8=True)
            (alo, ahi), (blo, bhi) = aqp.qrange, bqp.qrange
            ca = np.arange(alo, ahi + 1).astype(storage(aqp.dtype))
            cb = np.arange(blo, bhi + 1).astype(storage(bqp.dtype))
            env = dict(ref.base)
            env[var[0]] = (np.repeat(ca, cb.size), aqp)
            env[var[1]] = (np.tile(cb, ca.size), bqp)
            table = ref._fallback(node, env)[0][0].reshape(-1)
            e = seg.e
            idx = e.one("Add", [e.one("Mul", [self._index(seg, a, alo), e.const(np.int32(cb.size), "n")]),
                                self._index(seg, b, blo)])
            self._gather(seg, table, idx, o)
        else:
            raise _Skip
        return {o: (np.dtype(storage(oqp.dtype)), oqp)}

    def _div_float32(self, node: Node, seg: _Segment, x: str, xqp: QParams, xname: str, cname: str,
                     oqp: QParams):
        """Div by (or of) a non-zero scalar constant as int_sim's fallback computes it, op for op in
        float32: dequantize s·float32(q - z), divide (IEEE division is correctly rounded in
        numpy and onnxruntime alike), quantize rint(y / s_out) + z_out, clamp. Every step is one
        correctly rounded float32 operation on the same operands, so the integers are the
        fallback's; no NaN can arise (finite / non-zero). None where that does not hold."""
        ref = self.reference
        arr, cqp = ref.base[cname]
        c = ref._float((arr, cqp))
        if np.asarray(c).dtype != np.float32 or not np.isfinite(c).all() or not np.all(c != 0):
            return None
        e = seg.e
        f = e.one("Cast", [x], to=TensorProto.FLOAT)
        if int(xqp.zero_point):
            f = e.one("Sub", [f, e.const(np.float32(int(xqp.zero_point)), "z")])
        f = e.one("Mul", [e.const(np.asarray(xqp.scale, np.float32).reshape(()), "s"), f])
        cc = e.const(np.asarray(c, np.float32).reshape(()), "c")
        f = e.one("Div", [f, cc] if node.inputs[0] == xname else [cc, f])
        f = e.one("Round", [e.one("Div", [f, e.const(np.asarray(oqp.scale, np.float32).reshape(()), "so")])])
        lo, hi = oqp.qrange
        z = int(oqp.zero_point)
        f = e.one("Clip", [f, e.const(np.float32(lo - z), "lo"), e.const(np.float32(hi - z), "hi")])
        if z:
            f = e.one("Add", [f, e.const(np.float32(z), "zp")])
        e.op("Cast", [f], outputs=[node.outputs[0]], to=ONNX_INT[oqp.dtype])
        return {node.outputs[0]: (np.dtype(storage(oqp.dtype)), oqp)}

    def _raw(self, node: Node, seg: _Segment):
        """Integer shape arithmetic: no float value in or out, so the op itself is exact."""
        if node.post_ops:
            raise _Skip
        outs = {}
        for o in node.outputs:
            t = self.types.get(o)
            if not o or t is None or t.kind in "fc":
                raise _Skip
            outs[o] = (t, None)
        shape_only = node.op_type in ("Shape", "Size")
        for i in node.inputs:
            if not i:
                continue
            dt, qp = self.kinds.get(i, (None, None))
            if dt is None or (not shape_only and (qp is not None or dt.kind in "fc")):
                raise _Skip
        seg.e.ir_node(node, [self._use(seg, i) if i else "" for i in node.inputs], list(node.outputs))
        return outs

    def _direct_centred(self, node: Node, seg: _Segment, ins: list, out_kinds: dict, qp: QParams) -> bool:
        """A data movement (or MaxPool) of a value whose centred float32 form this segment holds:
        the op on that form (it moves or selects values; max commutes with - zero point; exact
        float32 integers), so no store and reload around it; the outputs' centred forms are
        kept for the next layers and their stores pruned when nobody reads them."""
        e = seg.e
        c = e.centered.get(node.inputs[0]) or e.outer.get(node.inputs[0])
        if c is None or node.op_type not in CENTRED_MOVES or node.post_ops:
            return False
        outs = [o for o in node.outputs if o]
        if len(outs) != len(node.outputs) or (node.op_type == "MaxPool" and len(outs) != 1) or \
                any(out_kinds[o][1] is None for o in outs):
            return False
        tmp = [e.fresh(o) for o in outs]
        e.ir_node(node, [c, *ins[1:]], tmp)
        for o, t in zip(outs, tmp):
            self._store(e, t, int(qp.zero_point), qp.dtype, o)
        return True

    def _direct(self, node: Node, seg: _Segment):
        """int_sim's _direct: the op on the integers (Pad pads with the quantized pad value)."""
        x, qp = self._q(seg, node.inputs[0])
        e = seg.e
        ins = [x]
        for i in node.inputs[1:]:
            if i and self.kinds.get(i, (None, 1))[1] is not None:
                raise _Skip   # a quantized parameter input: int_sim dequantizes it
            ins.append(self._use(seg, i) if i else "")
        out_kinds = {}
        for o in node.outputs:
            t = self.types.get(o)
            if o and t is None:
                raise _Skip
            if o:
                out_kinds[o] = (np.dtype(storage(qp.dtype)), qp) if t.kind == "f" else (t, None)
        if self._direct_centred(node, seg, ins, out_kinds, qp):
            return out_kinds
        if node.op_type == "Pad":
            cv = self.graph.constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
            if len(node.inputs) > 2 and node.inputs[2] and cv is None:
                raise _Skip
            cv = np.float32(0.0) if cv is None else cv
            qcv = quantize(np.asarray(cv, np.float32), qp)
            if len(node.inputs) > 2 and node.inputs[2] == "":
                qcv = np.zeros((), storage(qp.dtype))   # int_sim leaves an omitted pad value at integer 0
            ins = (ins + [""] * 3)[:max(3, len(ins))]
            ins[2] = e.const(np.asarray(qcv, storage(qp.dtype)).reshape(()), "pad")
        native = node.op_type in MOVE_ANY or (qp.dtype in EIGHT_BIT and self.opset >= MOVE_8BIT.get(node.op_type, 99))
        if native:
            e.ir_node(node, ins, list(node.outputs))
            return out_kinds
        if node.op_type == "Pad":
            ins[2] = e.one("Cast", [ins[2]], to=TensorProto.FLOAT)
        ins[0] = e.one("Cast", [x], to=TensorProto.FLOAT)
        tmp = [e.fresh(o) if o and out_kinds[o][1] is not None else o for o in node.outputs]
        e.ir_node(node, ins, tmp)
        for o, t in zip(node.outputs, tmp):
            if t != o:
                e.op("Cast", [t], outputs=[o], to=ONNX_INT[qp.dtype])
        return out_kinds


class _EmitArith:
    """exact_math's elementary double steps as ONNX nodes, one each (onnxruntime's double Add,
    Sub, Mul, Div are IEEE operations, Round is half to even, Clip/Max/Min/Gather exact)."""

    def __init__(self, e: Emitter):
        self.e = e

    def const(self, v, hint: str = "c") -> str:
        return self.e.const(np.asarray(v, np.float64), hint)

    def _op(self, op: str, *ins: str) -> str:
        return self.e.one(op, list(ins))

    def add(self, a, b):
        return self._op("Add", a, b)

    def sub(self, a, b):
        return self._op("Sub", a, b)

    def mul(self, a, b):
        return self._op("Mul", a, b)

    def div(self, a, b):
        return self._op("Div", a, b)

    def round(self, a):
        return self._op("Round", a)

    def maximum(self, a, b):
        return self._op("Max", a, b)

    def minimum(self, a, b):
        return self._op("Min", a, b)

    def clip(self, a, lo, hi):
        if self.e.opset >= 12:   # Clip takes doubles from opset 12
            return self._op("Clip", a, lo, hi)
        return self.minimum(self.maximum(a, lo), hi)

    def where_negative(self, t, neg, pos):
        return self.e.one("Where", [self._op("Less", t, self.const(0.0, "zero")), neg, pos])

    def lookup(self, table: np.ndarray, k):
        # one name per table: the layers of a segment share one copy of it
        name = self.e.init(f"__exact_table_{table.size}_{hash(table.tobytes()) & 0xffffffff:x}", table)
        return self.e.one("Gather", [name, self.e.one("Cast", [k], to=TensorProto.INT64)], axis=0)


def _prune(e: Emitter, outputs: list[str]) -> None:
    """Drop the nodes no output depends on (stores nobody reads) and their constants."""
    if any(a.type in (a.GRAPH, a.GRAPHS) for nd in e.nodes for a in nd.attribute):
        return   # a subgraph may read outer values implicitly: keep everything
    need = set(outputs)
    kept = []
    for nd in reversed(e.nodes):
        if any(o in need for o in nd.output):
            kept.append(nd)
            need.update(i for i in nd.input if i)
    e.nodes[:] = kept[::-1]
    for k in [k for k in e.inits if k not in need]:
        del e.inits[k]
