"""TensorFlow frontend: a frozen GraphDef (.pb) -> the IR, with no TensorFlow.

The GraphDef is read with the doctor's declared subset of TensorFlow's protos
(`doctor.tf_graph`); constants' TensorProto with the few fields declared here. The graph is
cut at the `inputs`/`outputs` the caller names (guide §4.1), walked in dependency order and
lowered to ONNX nodes named after the TF nodes. NHWC is carried as NCHW between
layout-aware ops (`_nhwc`); outputs keep TensorFlow's layout (§4.3). Conv2D's
`explicit_paddings` (TensorFlow >= 1.14, §4.4) is read, not refused; a graph whose
variables are not frozen (resource handles, §4.2) is refused with the fix.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..doctor.tf_graph import read_graph
from ..dropin import custom_op
from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph
from ._nhwc import TO_NCHW, Layouts, nchw_constant, same_pads
from ._onnx_build import OnnxBuilder
from ._proto_schema import F, OPT, REP, message_classes

# tensorflow/core/framework/{tensor,tensor_shape,types}.proto
SCHEMA = {
    "Dim": [("size", 1, OPT, F.TYPE_INT64, None, False), ("name", 2, OPT, F.TYPE_STRING, None, False)],
    "TensorShapeProto": [("dim", 2, REP, F.TYPE_MESSAGE, "Dim", False),
                         ("unknown_rank", 3, OPT, F.TYPE_BOOL, None, False)],
    "TensorProto": [("dtype", 1, OPT, F.TYPE_INT32, None, False),
                    ("tensor_shape", 2, OPT, F.TYPE_MESSAGE, "TensorShapeProto", False),
                    ("tensor_content", 4, OPT, F.TYPE_BYTES, None, False),
                    ("float_val", 5, REP, F.TYPE_FLOAT, None, True),
                    ("double_val", 6, REP, F.TYPE_DOUBLE, None, True),
                    ("int_val", 7, REP, F.TYPE_INT32, None, True),
                    ("int64_val", 10, REP, F.TYPE_INT64, None, True),
                    ("bool_val", 11, REP, F.TYPE_BOOL, None, True),
                    ("half_val", 13, REP, F.TYPE_INT32, None, True)],
}
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
          10: np.bool_, 19: np.float16}
DT_RESOURCE = 20
SKIP = {"NoOp", "Assert"}
PASS = {"Identity", "StopGradient", "Snapshot", "PreventGradient"}


@lru_cache(maxsize=1)
def _classes():
    return message_classes("rknn_diag_tf_tensor", SCHEMA)


def tensor_value(raw: bytes) -> np.ndarray:
    t = _classes()["TensorProto"].FromString(raw)
    if t.dtype not in DTYPES:
        raise ValueError(f"TensorFlow dtype {t.dtype}")
    dtype = np.dtype(DTYPES[t.dtype]).newbyteorder("<")
    shape = [int(d.size) for d in t.tensor_shape.dim]
    if t.tensor_content:
        arr = np.frombuffer(t.tensor_content, dtype).astype(dtype.newbyteorder("="))
    else:
        vals = {np.float32: t.float_val, np.float64: t.double_val, np.int64: t.int64_val, np.bool_: t.bool_val}.get(
            DTYPES[t.dtype], t.int_val)
        if DTYPES[t.dtype] == np.float16:
            vals = np.asarray(list(t.half_val), np.uint16).view(np.float16)
        arr = np.asarray(list(vals) if not isinstance(vals, np.ndarray) else vals, DTYPES[t.dtype])
        n = int(np.prod(shape)) if shape else 1
        if arr.size not in (n, 0):   # TensorFlow stores a repeated last value once
            arr = np.concatenate([arr, np.full(n - arr.size, arr[-1], arr.dtype)])
        elif arr.size == 0:
            arr = np.zeros(n, DTYPES[t.dtype])
    return arr.reshape(shape)


def shape_of(raw: bytes) -> list[int] | None:
    s = _classes()["TensorShapeProto"].FromString(raw)
    return None if s.unknown_rank else [int(d.size) for d in s.dim]


def _key(ref: str) -> str:
    name, _, idx = ref.lstrip("^").partition(":")
    return f"{name}:{idx or 0}"


class _Lower:
    def __init__(self, nodes: dict, b: OnnxBuilder, where: str, warn=None):
        self.nodes, self.b, self.where = nodes, b, where
        self.warn = warn or (lambda msg: None)
        self.lay = Layouts(b)
        self.consts: dict[str, np.ndarray] = {}

    def attr(self, node, key, default=None):
        if key not in node.attr:
            return default
        a = node.attr[key]
        kind = a.WhichOneof("value")
        if kind == "list":
            return list(a.list.i) or [x.decode() for x in a.list.s] or list(a.list.f)
        if kind == "s":
            return a.s.decode()
        return getattr(a, kind) if kind else default

    def at(self, node) -> str:
        return f"{self.where}, node '{node.name}' ({node.op})"

    def const(self, ref: str) -> np.ndarray:
        k = _key(ref)
        if k not in self.consts:
            node = self.nodes.get(k.split(":")[0])
            raise UnsupportedOpError(f"'{ref}' must be a constant here, it is computed by "
                                     f"{node.op if node is not None else '?'}", where=self.where,
                                     fix="freeze the graph with fixed shapes (constant-fold it before export)")
        return self.consts[k]

    def is_const(self, ref: str) -> bool:
        return _key(ref) in self.consts

    def rank(self, ref: str) -> int:
        k = _key(ref)
        return self.consts[k].ndim if k in self.consts else self.lay.rank(k)

    def get(self, ref: str, layout: str) -> str:
        k = _key(ref)
        if k in self.consts:
            arr = self.consts[k]
            arr = arr.astype(np.float32) if arr.dtype.kind == "f" else arr
            return self.b.const(k.split(":")[0], arr.transpose(TO_NCHW) if layout == "nchw" and arr.ndim == 4
                                else arr)
        return self.lay.get(k, layout, k)

    def put(self, node, value: str, layout: str) -> None:
        self.lay.put(f"{node.name}:0", value, layout, len(self.b.shape(value)))

    def held(self, ref: str) -> str:
        k = _key(ref)
        return self.lay.layout(k) if k in self.lay else "nhwc"

    def data_inputs(self, node) -> list[str]:
        return [i for i in node.input if not i.startswith("^")]

    def run(self, node) -> None:
        if node.op in SKIP:
            return
        if node.op == "Const":
            self.consts[f"{node.name}:0"] = tensor_value(node.attr["value"].tensor)
            return
        ins = self.data_inputs(node)
        if node.op in PASS:
            k = _key(ins[0])
            if k in self.consts:
                self.consts[f"{node.name}:0"] = self.consts[k]
            else:
                self.lay.vals[f"{node.name}:0"] = self.lay.vals[k]
            return
        t1 = custom_op.toolkit1_op(node.op)
        if t1 is not None and self._custom(node, ins, t1):
            return
        fn = getattr(self, f"o_{node.op}", None)
        resource = node.op == "Placeholder" and self.attr(node, "dtype") == DT_RESOURCE
        if node.op == "Placeholder" and not resource:
            raise ModelLoadError(f"placeholder '{node.name}' feeds the outputs but is not among inputs=",
                                 where=self.where, ref="4.1", fix=f"add '{node.name}' to inputs= (with its size in "
                                                                  "input_size_list)")
        if fn is None:
            if resource or node.op in ("VarHandleOp", "ReadVariableOp", "VariableV2", "Variable"):
                raise ModelLoadError(f"the graph holds variables ({node.op} '{node.name}'), it is not frozen "
                                     "(\"Cannot convert value dtype (['resource', 'u1'])\")", where=self.where,
                                     ref="4.2", fix="freeze it: tf.compat.v1.graph_util.convert_variables_to_"
                                                    "constants (TF1) or convert_variables_to_constants_v2 (TF2)")
            raise UnsupportedOpError(f"TensorFlow op '{node.op}' (node '{node.name}') is not supported",
                                     where=self.where,
                                     fix=f"cut the graph before it with inputs=/outputs=, or export to ONNX; "
                                         f"supported: {', '.join(supported_ops())}")
        fn(node, ins)

    def _custom(self, node, ins, t1) -> bool:
        """A TF op replaced by a 1.x custom op (register_op): a node of its IR op type, 4-D tensors
        NCHW (its kernel hands them to the user's code NHWC). False: lower the TF op natively."""
        consts = {i: self.const(i) for i in ins if self.is_const(i)}
        try:
            params = t1.params(node, consts)
        except Exception as e:   # the user's code: say whose it is
            raise ModelLoadError(f"load_params_from_tf of custom op '{t1.name}' raised {type(e).__name__}: {e}",
                                 where=self.at(node), fix="fix the op's load_params_from_tf(node_def, "
                                                          "tensor_data_map)") from None
        attrs = custom_op.params_to_attrs(params)
        data = ins[:t1.n_inputs] if t1.n_inputs else [i for i in ins if not self.is_const(i)]
        args = [self.get(i, "nchw") for i in data]
        shapes = [self.b.shape(a) for a in args]
        try:
            computes = t1.computes([np.ones(s, np.float32) for s in shapes], attrs)
        except Exception as e:
            raise ModelLoadError(f"compute_output_tensor of custom op '{t1.name}' raised {type(e).__name__}: "
                                 f"{e}", where=self.at(node), fix="fix the op's compute_output_tensor") from None
        if not computes:
            if hasattr(self, f"o_{node.op}"):
                self.warn(f"custom op '{t1.name}' (node '{node.name}'): its compute_output_tensor returns no "
                          f"outputs (the compiled kernel computes it, on a board only); the simulator runs "
                          f"TensorFlow's own {node.op} instead")
                return False
            raise UnsupportedOpError(f"custom op '{t1.name}' (node '{node.name}'): compute_output_tensor returns "
                                     f"no outputs, and the compiled .rknnop kernel runs only on a board",
                                     where=self.at(node), fix="implement compute_output_tensor in numpy (or "
                                                              "TensorFlow) in the op's Python file")
        from ..ops.registry import custom_shapes
        out_shapes, out_dtypes = custom_shapes(t1.op_type)(attrs, shapes, [np.dtype(np.float32)] * len(shapes))
        outs = [self.b.tmp(node.name) for _ in out_shapes]
        self.b.node(t1.op_type, args, outs, node.name, **attrs)
        for k, (y, shape, dtype) in enumerate(zip(outs, out_shapes, out_dtypes)):
            self.b.declare(y, shape, dtype)
            self.lay.put(f"{node.name}:{k}", y, "nchw", len(shape))
        return True

    # ---- ops ----
    def _nhwc_only(self, node):
        fmt = self.attr(node, "data_format", "NHWC")
        if fmt not in ("NHWC", None):
            raise UnsupportedOpError(f"data_format {fmt} of '{node.name}' is not supported", where=self.at(node),
                                     fix="export the graph in NHWC (TensorFlow's default on CPU)")

    def _conv(self, node, ins, depthwise: bool):
        self._nhwc_only(node)
        w = self.const(ins[1])
        kh, kw, cin_g, cout = w.shape
        x = self.get(ins[0], "nchw")
        in_shape = self.b.shape(x)
        s = self.attr(node, "strides", [1, 1, 1, 1])[1:3]
        d = (self.attr(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1])[1:3]
        pad = self.attr(node, "padding", "VALID")
        if pad == "SAME":
            pads = same_pads(in_shape[2:4], [kh, kw], s, d)
        elif pad == "EXPLICIT":   # §4.4: [[0,0],[top,bottom],[left,right],[0,0]] in NHWC
            e = self.attr(node, "explicit_paddings", [0] * 8)
            pads = [e[2], e[4], e[3], e[5]]
        else:
            pads = [0, 0, 0, 0]
        if depthwise:
            weights, group = w.reshape(kh, kw, cin_g * cout, 1).transpose(2, 3, 0, 1), cin_g
        else:
            weights, group = w.transpose(3, 2, 0, 1), in_shape[1] // cin_g
        y = self.b.tmp(node.name)
        self.b.node("Conv", [x, self.b.const(f"{node.name}_W", weights.astype(np.float32))], [y], node.name,
                    kernel_shape=[kh, kw], strides=list(s), dilations=list(d), pads=pads, group=group)
        self.put(node, y, "nchw")

    def o_Conv2D(self, node, ins):
        self._conv(node, ins, False)

    def o_DepthwiseConv2dNative(self, node, ins):
        self._conv(node, ins, True)

    def _binary(self, op, node, ins):
        acts = [i for i in ins if not self.is_const(i)]
        layout = "nchw" if acts and all(self.rank(i) == 4 and self.held(i) == "nchw" for i in acts) else "nhwc"
        args = []
        for i in ins:
            if layout == "nchw" and self.is_const(i) and self.rank(i) < 4:
                args.append(self.b.const(_key(i).split(":")[0], nchw_constant(self.const(i).astype(np.float32))))
            else:
                args.append(self.get(i, layout))
        y = self.b.tmp(node.name)
        self.b.node(op, args, [y], node.name)
        self.put(node, y, layout)

    def o_BiasAdd(self, node, ins):
        self._nhwc_only(node)
        self._binary("Add", node, ins)

    def o_Add(self, node, ins):
        self._binary("Add", node, ins)

    o_AddV2 = o_Add

    def o_Sub(self, node, ins):
        self._binary("Sub", node, ins)

    def o_Mul(self, node, ins):
        self._binary("Mul", node, ins)

    def o_RealDiv(self, node, ins):
        self._binary("Div", node, ins)

    def o_TruncateDiv(self, node, ins):
        self._binary("Div", node, ins)
        if np.dtype(DTYPES.get(self.attr(node, "T", 1), np.float32)).kind != "f":
            return      # integer Div already rounds toward zero
        q, layout, _ = self.lay.vals[f"{node.name}:0"]
        names = {op: self.b.tmp(f"{node.name}/{op.lower()}") for op in ("Abs", "Floor", "Sign", "Mul")}
        self.b.node("Abs", [q], [names["Abs"]], node.name)
        self.b.node("Floor", [names["Abs"]], [names["Floor"]], node.name)
        self.b.node("Sign", [q], [names["Sign"]], node.name)
        self.b.node("Mul", [names["Sign"], names["Floor"]], [names["Mul"]], node.name)   # trunc(x) = sign(x)*floor(|x|)
        self.put(node, names["Mul"], layout)

    def o_Maximum(self, node, ins):
        self._binary("Max", node, ins)

    def o_Minimum(self, node, ins):
        self._binary("Min", node, ins)

    def _unary(self, op, node, ins, **attrs):
        layout = self.held(ins[0])
        y = self.b.tmp(node.name)
        self.b.node(op, [self.get(ins[0], layout)], [y], node.name, **attrs)
        self.put(node, y, layout)

    def o_Relu(self, node, ins):
        self._unary("Relu", node, ins)

    def o_Exp(self, node, ins):
        self._unary("Exp", node, ins)

    def o_Sigmoid(self, node, ins):
        self._unary("Sigmoid", node, ins)

    def o_Tanh(self, node, ins):
        self._unary("Tanh", node, ins)

    def o_Elu(self, node, ins):
        self._unary("Elu", node, ins)

    def o_LeakyRelu(self, node, ins):
        self._unary("LeakyRelu", node, ins, alpha=float(self.attr(node, "alpha", 0.2)))

    def o_Relu6(self, node, ins):
        layout = self.held(ins[0])
        y = self.b.tmp(node.name)
        self.b.node("Clip", [self.get(ins[0], layout), self.b.const(f"{node.name}_lo", np.float32(0)),
                             self.b.const(f"{node.name}_hi", np.float32(6))], [y], node.name)
        self.put(node, y, layout)

    def o_FusedBatchNorm(self, node, ins):
        self._nhwc_only(node)
        if self.attr(node, "is_training", False):
            raise UnsupportedOpError(f"'{node.name}' is a training-mode batch norm", where=self.at(node),
                                     fix="export the inference graph (training=False)")
        y = self.b.tmp(node.name)
        params = [self.b.const(f"{node.name}_{n}", self.const(i).astype(np.float32).reshape(-1))
                  for n, i in zip(("scale", "offset", "mean", "var"), ins[1:5])]
        self.b.node("BatchNormalization", [self.get(ins[0], "nchw"), *params], [y], node.name,
                    epsilon=float(self.attr(node, "epsilon", 1e-3)))
        self.put(node, y, "nchw")

    o_FusedBatchNormV2 = o_FusedBatchNormV3 = o_FusedBatchNorm

    def _pool(self, op, node, ins):
        self._nhwc_only(node)
        k, s = self.attr(node, "ksize")[1:3], self.attr(node, "strides")[1:3]
        x = self.get(ins[0], "nchw")
        pads = same_pads(self.b.shape(x)[2:4], k, s, [1, 1]) if self.attr(node, "padding") == "SAME" else [0] * 4
        y = self.b.tmp(node.name)
        extra = {"count_include_pad": 0} if op == "AveragePool" else {}
        self.b.node(op, [x], [y], node.name, kernel_shape=list(k), strides=list(s), pads=pads, **extra)
        self.put(node, y, "nchw")

    def o_MaxPool(self, node, ins):
        self._pool("MaxPool", node, ins)

    def o_AvgPool(self, node, ins):
        self._pool("AveragePool", node, ins)

    def o_MatMul(self, node, ins):
        y = self.b.tmp(node.name)
        if self.is_const(ins[1]):
            self.b.node("Gemm", [self.get(ins[0], "nhwc"), self.get(ins[1], "nhwc")], [y], node.name,
                        transA=int(self.attr(node, "transpose_a", False)),
                        transB=int(self.attr(node, "transpose_b", False)))
        else:
            if self.attr(node, "transpose_a", False) or self.attr(node, "transpose_b", False):
                raise UnsupportedOpError(f"MatMul '{node.name}' of two activations with transpose_a/b",
                                         where=self.at(node), fix="transpose explicitly before the MatMul")
            self.b.node("MatMul", [self.get(ins[0], "nhwc"), self.get(ins[1], "nhwc")], [y], node.name)
        self.put(node, y, "nhwc")

    def o_Reshape(self, node, ins):
        y = self.b.tmp(node.name)
        self.b.node("Reshape", [self.get(ins[0], "nhwc"), self.b.const(f"{node.name}_shape",
                                                                      self.const(ins[1]).astype(np.int64))],
                    [y], node.name)
        self.put(node, y, "nhwc")

    def o_Squeeze(self, node, ins):
        dims = self.attr(node, "squeeze_dims", []) or []
        y = self.b.tmp(node.name)
        x = self.get(ins[0], "nhwc")
        if dims:
            self.b.node("Squeeze", [x, self.b.const(f"{node.name}_axes", np.array(dims, np.int64))], [y], node.name)
        else:
            self.b.node("Squeeze", [x], [y], node.name)
        self.put(node, y, "nhwc")

    def o_Transpose(self, node, ins):
        y = self.b.tmp(node.name)
        self.b.node("Transpose", [self.get(ins[0], "nhwc")], [y], node.name,
                    perm=[int(p) for p in self.const(ins[1])])
        self.put(node, y, "nhwc")

    def o_Softmax(self, node, ins):
        layout = "nchw" if self.rank(ins[0]) == 4 and self.held(ins[0]) == "nchw" else "nhwc"
        y = self.b.tmp(node.name)
        self.b.node("Softmax", [self.get(ins[0], layout)], [y], node.name, axis=1 if layout == "nchw" else -1)
        self.put(node, y, layout)

    def o_ConcatV2(self, node, ins):
        *xs, axis_ref = ins
        rank = self.rank(xs[0])
        axis = int(self.const(axis_ref)) % rank
        layout = "nchw" if rank == 4 else "nhwc"
        y = self.b.tmp(node.name)
        self.b.node("Concat", [self.get(x, layout) for x in xs], [y], node.name,
                    axis=TO_NCHW.index(axis) if layout == "nchw" else axis)
        self.put(node, y, layout)

    def o_Mean(self, node, ins):
        rank = self.rank(ins[0])
        axes = [int(a) % rank for a in np.atleast_1d(self.const(ins[1]))]
        keep = bool(self.attr(node, "keep_dims", False))
        layout = "nchw" if keep and rank == 4 else "nhwc"
        if layout == "nchw":
            axes = [TO_NCHW.index(a) for a in axes]
        y = self.b.tmp(node.name)
        self.b.node("ReduceMean", [self.get(ins[0], layout)], [y], node.name, axes=sorted(axes), keepdims=int(keep))
        self.put(node, y, layout)

    def o_Pad(self, node, ins):
        pads = self.const(ins[1]).astype(np.int64).reshape(-1, 2)
        layout = "nchw" if len(pads) == 4 else "nhwc"
        if layout == "nchw":
            pads = pads[TO_NCHW]
        y = self.b.tmp(node.name)
        self.b.node("Pad", [self.get(ins[0], layout), self.b.const(f"{node.name}_pads", pads.T.reshape(-1))], [y],
                    node.name)
        self.put(node, y, layout)

    def _resize(self, node, ins, mode):
        x = self.get(ins[0], "nchw")
        n, c = self.b.shape(x)[:2]
        h, w = [int(v) for v in self.const(ins[1])]
        align, half = bool(self.attr(node, "align_corners", False)), bool(self.attr(node, "half_pixel_centers", False))
        if mode == "nearest":
            attrs = dict(coordinate_transformation_mode="align_corners" if align else
                         "tf_half_pixel_for_nn" if half else "asymmetric",
                         nearest_mode="round_prefer_ceil" if align else "floor")
        else:
            attrs = dict(coordinate_transformation_mode="align_corners" if align else
                         "half_pixel" if half else "asymmetric")
        y = self.b.tmp(node.name)
        self.b.node("Resize", [x, "", "", self.b.const(f"{node.name}_sizes", np.array([n, c, h, w], np.int64))],
                    [y], node.name, mode=mode, **attrs)
        self.put(node, y, "nchw")

    def o_ResizeBilinear(self, node, ins):
        self._resize(node, ins, "linear")

    def o_ResizeNearestNeighbor(self, node, ins):
        self._resize(node, ins, "nearest")


    # ---- quantization-aware-trained graphs (TF1 QAT: tf.quantization.fake_quant_with_min_max_*) ----
    def _fake_quant(self, node, ins, lo, hi):
        """FakeQuant: weights (a constant input) are folded to the trained grid's values; an
        activation becomes QuantizeLinear + DequantizeLinear (uint8, TF's nudged scale and zero
        point), so build(do_quantization=False) keeps the model's own scales (quant.qdq_import)."""
        bits, narrow = int(self.attr(node, "num_bits", 8)), bool(self.attr(node, "narrow_range", False))
        scale, zp, qmin, qmax = fake_quant_params(lo, hi, bits, narrow)
        if self.is_const(ins[0]):
            x = self.const(ins[0]).astype(np.float32)
            self.consts[f"{node.name}:0"] = ((np.clip(np.rint(x / scale) + zp, qmin, qmax) - zp) * scale
                                             ).astype(np.float32)
            return
        if bits != 8 or np.size(scale) != 1:
            raise UnsupportedOpError(f"'{node.name}': {bits}-bit or per-channel fake quantization of an activation "
                                     "is not supported", where=self.at(node),
                                     fix="quantize activations per tensor with 8 bits (the TF1 QAT default)")
        layout = self.held(ins[0])
        sc = self.b.const(f"{node.name}_scale", np.float32(scale))
        z = self.b.const(f"{node.name}_zero_point", np.uint8(zp))
        q, y = self.b.tmp(f"{node.name}_q"), self.b.tmp(node.name)
        self.b.node("QuantizeLinear", [self.get(ins[0], layout), sc, z], [q], f"{node.name}_q")
        self.b.node("DequantizeLinear", [q, sc, z], [y], node.name)
        self.put(node, y, layout)

    def o_FakeQuantWithMinMaxVars(self, node, ins):
        self._fake_quant(node, ins, self.const(ins[1]), self.const(ins[2]))

    o_FakeQuantWithMinMaxVarsPerChannel = o_FakeQuantWithMinMaxVars   # min/max per last axis: broadcast

    def o_FakeQuantWithMinMaxArgs(self, node, ins):
        self._fake_quant(node, ins, self.attr(node, "min", -6.0), self.attr(node, "max", 6.0))


def fake_quant_params(lo, hi, bits: int, narrow: bool):
    """TensorFlow's nudged quantization of [lo, hi] (fake_quant_ops_functor.h): scale, zero point
    (on the integer grid), and the grid's ends."""
    qmin, qmax = (1 if narrow else 0), 2 ** bits - 1
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    scale = (hi - lo) / (qmax - qmin)
    zp = np.clip(np.rint(qmin - lo / scale), qmin, qmax)
    return scale.astype(np.float32), zp, qmin, qmax


def supported_ops() -> list[str]:
    return sorted([n[2:] for n in dir(_Lower) if n.startswith("o_")] + sorted(PASS) + ["Const", "Placeholder"])


def _order(nodes: dict, inputs: set[str], outputs: list[str], where: str) -> list:
    """The nodes the outputs need, dependencies first, stopping at the inputs."""
    seen, order = set(), []
    for out in outputs:
        stack = [(out, False)]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(nodes[name])
                continue
            if name in seen:
                continue
            seen.add(name)
            if name in inputs:
                continue
            stack.append((name, True))
            for ref in nodes[name].input:
                dep = ref.lstrip("^").partition(":")[0]
                if dep not in nodes:
                    raise ModelLoadError(f"node '{name}' reads '{ref}', which is not in the graph", where=where,
                                         fix="the GraphDef is incomplete; freeze it again")
                if dep not in seen:
                    stack.append((dep, False))
    return order


def load(tf_pb: str | os.PathLike, inputs: list[str], outputs: list[str], input_size_list, warn=None) -> Graph:
    path = Path(tf_pb)
    if not path.is_file():
        raise ModelLoadError(f"TensorFlow model not found: {path}", fix="check the tf_pb= path passed to "
                                                                        "load_tensorflow()")
    where = str(path)
    gd = read_graph(path)
    nodes = {n.name: n for n in gd.node}
    if not nodes:
        raise ModelLoadError("the GraphDef has no nodes", where=where, ref="4",
                             fix="pass a frozen graph .pb (convert_variables_to_constants)")
    inputs = [i.partition(":")[0] for i in (inputs or [])]
    outputs = [o.partition(":")[0] for o in (outputs or [])]
    missing = [n for n in [*inputs, *outputs] if n not in nodes]
    if not inputs or not outputs or missing:
        raise ModelLoadError(f"input/output node(s) {missing or '(none given)'} not in the graph "
                             "(\"'NoneType' object has no attribute 'op'\")", where=where, ref="4.1",
                             fix="name the nodes the graph really has (look in Netron or TensorBoard), e.g. "
                                 "inputs=['FeatureExtractor/MobilenetV2/MobilenetV2/input'] for the SSD models")
    sizes = list(input_size_list or [])
    if len(sizes) != len(inputs):
        raise ModelLoadError(f"input_size_list has {len(sizes)} entries for {len(inputs)} inputs {inputs}",
                             where=where, fix="give one shape per input, e.g. [[224, 224, 3]]")
    b = OnnxBuilder(path.stem, where)
    low = _Lower(nodes, b, where, warn)
    for name, size in zip(inputs, sizes):
        size = [int(d) for d in size]
        declared = shape_of(nodes[name].attr["shape"].shape) if "shape" in nodes[name].attr else None
        if declared is not None and len(size) == len(declared) - 1:
            size = [1] + size     # the guide's examples give sizes without the batch dimension
        elif declared is None and len(size) == 3:
            size = [1] + size
        if len(size) == 4:
            low.lay.put(f"{name}:0", b.input(name, [size[d] for d in TO_NCHW]), "nchw", 4)
        else:
            low.lay.put(f"{name}:0", b.input(name, size), "nhwc", len(size))
    b.reserve(outputs)
    for node in _order(nodes, set(inputs), outputs, where):
        low.run(node)
    for name in outputs:
        if f"{name}:0" in low.consts:
            raise ModelLoadError(f"output '{name}' is a constant", where=where, fix="name a computed node")
        b.node("Identity", [low.get(f"{name}:0", "nhwc")], [name], name)
    return b.finish(outputs)
