"""TensorFlow Lite frontend: a .tflite flatbuffer -> the IR, read with the schema-generated
`tflite` package (no TensorFlow, no hand parser).

Layout: TFLite is NHWC, the IR (and the preprocessing in front of it) NCHW. 4-D activations
are carried in NCHW between layout-aware ops (conv, pools, elementwise, concat, pad,
resize, mean with keep_dims, activations) and turned back to NHWC only where an op works
on the raw layout (reshape, transpose, fully-connected) and at the outputs, which keep the
model's own NHWC shapes (guide §4.3).

Quantization: int8/uint8 tensors are imported with their own parameters as QDQ pairs —
weights as integer constants behind DequantizeLinear (per-channel where the model is), each
quantized activation behind QuantizeLinear/DequantizeLinear — the form the QDQ import
(`quant/qdq_import.py`) reads, so build(do_quantization=False) keeps the model's own
quantization (guide §1.4.1). IR nodes are named after their output tensors.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph
from ._nhwc import TO_NCHW, Layouts, nchw_constant, same_pads as _same_pads
from ._onnx_build import OnnxBuilder

DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
QUANT_TYPES = (np.int8, np.uint8, np.int16)


def _tflite():
    try:
        import tflite
    except ImportError:
        raise ModelLoadError("load_tflite needs the `tflite` package (the schema-generated reader)",
                             fix="pip install 'rknn_diag[frontends]'") from None
    return tflite


def _names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


class _Lower:
    def __init__(self, tfl, model, sg, b: OnnxBuilder, where: str):
        self.tfl, self.model, self.sg, self.b, self.where = tfl, model, sg, b, where
        self.lay = Layouts(b)
        self.ops = _names(tfl.BuiltinOperator)
        self.opts = _names(tfl.BuiltinOptions)

    # ---- tensors -----------------------------------------------------------------------
    def t(self, i):
        return self.sg.Tensors(int(i))

    def name(self, i) -> str:
        return self.t(i).Name().decode("utf-8", "replace") or f"tensor_{i}"

    def shape(self, i) -> list[int]:
        s = self.t(i).ShapeAsNumpy()
        return [] if isinstance(s, int) else [int(d) for d in s]

    def dtype(self, i):
        code = self.t(i).Type()
        if code not in DTYPES:
            raise UnsupportedOpError(f"tensor '{self.name(i)}' has TFLite type {code}, not supported",
                                     where=self.where, fix="convert with float32, int8 or uint8 tensors")
        return DTYPES[code]

    def quant(self, i):
        q = self.t(i).Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        return q.ScaleAsNumpy().astype(np.float32), q.ZeroPointAsNumpy().astype(np.int64), q.QuantizedDimension()

    def data(self, i) -> np.ndarray | None:
        buf = self.model.Buffers(self.t(i).Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        raw = buf.DataAsNumpy().tobytes()
        return np.frombuffer(raw, self.dtype(i)).reshape(self.shape(i))

    def is_const(self, i) -> bool:
        return int(i) not in self.lay and self.data(i) is not None

    def const_float(self, i) -> np.ndarray:
        """A constant in float (dequantized); for shapes, axes, paddings and non-weight operands."""
        arr, q = self.data(i), self.quant(i)
        if q is not None and arr.dtype in (np.int8, np.uint8, np.int16, np.int32):
            scale, zp, axis = q
            shape = [1] * arr.ndim
            if arr.ndim and scale.size > 1:
                shape[axis] = -1
            return ((arr.astype(np.float32) - zp.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
        return arr

    def weight(self, i, perm=None) -> str:
        """A weight constant, transposed by `perm`: integer + DequantizeLinear if quantized, else float."""
        arr, q = self.data(i), self.quant(i)
        if arr is None:
            raise UnsupportedOpError(f"weights '{self.name(i)}' are computed at run time, not constants",
                                     where=self.where, fix="convert with constant weights")
        if perm is not None:
            arr = np.ascontiguousarray(arr.transpose(perm))
        if q is None or arr.dtype.kind == "f":
            return self.b.const(self.name(i), arr.astype(np.float32))
        scale, zp, axis = q
        if perm is not None and arr.ndim > 1:
            axis = perm.index(axis)
        zp_dtype = np.int32 if arr.dtype == np.int32 else arr.dtype
        ins = [self.b.const(self.name(i), arr), self.b.const(f"{self.name(i)}_scale", scale if scale.size > 1
                                                             else scale.reshape(())),
               self.b.const(f"{self.name(i)}_zp", zp.astype(zp_dtype) if zp.size > 1 else zp.astype(zp_dtype)
                            .reshape(()))]
        out = self.b.tmp(f"{self.name(i)}_dq")
        attrs = {"axis": axis} if scale.size > 1 else {}
        self.b.node("DequantizeLinear", ins, [out], self.name(i), **attrs)   # op nodes keep the layer's name
        return out

    def get(self, i, layout: str) -> str:
        """Tensor i as a value in `layout` ('nchw' for 4-D, or 'tfl': the model's own)."""
        i = int(i)
        if i not in self.lay:
            if self.data(i) is None:
                raise ModelLoadError(f"tensor '{self.name(i)}' is read before any op writes it", where=self.where,
                                     fix="the model is damaged or uses an unsupported subgraph")
            arr = self.const_float(i).astype(np.float32) if self.dtype(i) != np.int32 else self.data(i)
            if layout == "nchw" and arr.ndim == 4:
                arr = arr.transpose(TO_NCHW)
            return self.b.const(self.name(i), arr)
        return self.lay.get(i, "nhwc" if layout == "tfl" else layout, self.name(i))

    def held(self, i) -> str:
        """The layout tensor i is held in: 'nchw' or 'tfl'."""
        return "nchw" if int(i) in self.lay and self.lay.layout(int(i)) == "nchw" else "tfl"

    def put(self, i, value: str, layout: str, layer: str) -> None:
        """Record op output i; a quantized output gets its QuantizeLinear/DequantizeLinear pair."""
        i = int(i)
        q = self.quant(i)
        if q is not None and self.dtype(i) in QUANT_TYPES:
            scale, zp, _ = q
            qv, dq = self.b.tmp(f"{self.name(i)}_q"), self.b.tmp(f"{self.name(i)}_dq")
            s = self.b.const(f"{self.name(i)}_scale", scale.reshape(()))
            z = self.b.const(f"{self.name(i)}_zp", zp.astype(self.dtype(i)).reshape(()))
            self.b.node("QuantizeLinear", [value, s, z], [qv], layer)
            self.b.node("DequantizeLinear", [qv, s, z], [dq], layer)
            value = dq
        self.lay.put(i, value, "nhwc" if layout == "tfl" else layout, len(self.shape(i)))

    def act(self, value: str, fused: int, layer: str) -> str:
        if fused == 0:
            return value
        out = self.b.tmp(f"{value}_act")
        if fused == 1:
            self.b.node("Relu", [value], [out], layer)
        elif fused in (2, 3):
            lo, hi = (-1.0, 1.0) if fused == 2 else (0.0, 6.0)
            self.b.node("Clip", [value, self.b.const(f"{layer}_lo", np.float32(lo)),
                                 self.b.const(f"{layer}_hi", np.float32(hi))], [out], layer)
        else:   # TANH/SIGN_BIT: the schema allows them, TFLite's kernels clamp by a range and skip them
            raise UnsupportedOpError(f"fused activation {fused} (TANH or SIGN_BIT) of '{layer}' is not supported: "
                                     "the TFLite interpreter ignores it, so its meaning is ambiguous",
                                     where=self.where, fix="convert again with a separate TANH op; fused "
                                                           "activations may be NONE, RELU, RELU_N1_TO_1 or RELU6")
        return out

    # ---- ops ---------------------------------------------------------------------------
    def run(self, op) -> None:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        num = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        opname = self.ops.get(num, str(num))
        ins = [int(i) for i in (op.InputsAsNumpy() if op.InputsLength() else [])]
        outs = [int(i) for i in op.OutputsAsNumpy()]
        layer = self.name(outs[0])
        fn = getattr(self, f"o_{opname}", None)
        if fn is None:
            custom = f" (custom op '{code.CustomCode().decode()}')" if code.CustomCode() else ""
            raise UnsupportedOpError(f"TFLite op {opname}{custom} (output '{layer}') is not supported",
                                     where=self.where,
                                     fix=f"convert without it, or export the model to ONNX; supported: "
                                         f"{', '.join(supported_ops())}")
        options = None
        table = op.BuiltinOptions()
        if table is not None and op.BuiltinOptionsType():
            cls = getattr(self.tfl, self.opts[op.BuiltinOptionsType()])
            options = cls()
            options.Init(table.Bytes, table.Pos)
        fn(ins, outs, options, layer)

    def _conv(self, ins, outs, o, layer, depthwise: bool):
        x = self.get(ins[0], "nchw")
        wshape = self.shape(ins[1])
        kh, kw = wshape[1], wshape[2]
        cin = self.shape(ins[0])[3]
        s, d = [o.StrideH(), o.StrideW()], [o.DilationHFactor() or 1, o.DilationWFactor() or 1]
        pads = _same_pads(self.shape(ins[0])[1:3], [kh, kw], s, d) if o.Padding() == 0 else [0, 0, 0, 0]
        perm = [3, 0, 1, 2] if depthwise else [0, 3, 1, 2]
        args = [x, self.weight(ins[1], perm)]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.weight(ins[2], None))
        y = self.b.tmp(layer)
        self.b.node("Conv", args, [y], layer, kernel_shape=[kh, kw], strides=s, dilations=d, pads=pads,
                    group=cin if depthwise else cin // wshape[3])
        self.put(outs[0], self.act(y, o.FusedActivationFunction(), layer), "nchw", layer)

    def o_CONV_2D(self, ins, outs, o, layer):
        self._conv(ins, outs, o, layer, False)

    def o_DEPTHWISE_CONV_2D(self, ins, outs, o, layer):
        self._conv(ins, outs, o, layer, True)

    def _pool(self, op, ins, outs, o, layer):
        k, s = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
        pads = _same_pads(self.shape(ins[0])[1:3], k, s, [1, 1]) if o.Padding() == 0 else [0, 0, 0, 0]
        y = self.b.tmp(layer)
        extra = {"count_include_pad": 0} if op == "AveragePool" else {}
        self.b.node(op, [self.get(ins[0], "nchw")], [y], layer, kernel_shape=k, strides=s, pads=pads, **extra)
        self.put(outs[0], self.act(y, o.FusedActivationFunction(), layer), "nchw", layer)

    def o_AVERAGE_POOL_2D(self, ins, outs, o, layer):
        self._pool("AveragePool", ins, outs, o, layer)

    def o_MAX_POOL_2D(self, ins, outs, o, layer):
        self._pool("MaxPool", ins, outs, o, layer)

    def o_FULLY_CONNECTED(self, ins, outs, o, layer):
        k = self.shape(ins[1])[1]
        flat = self.b.tmp(f"{layer}_2d")
        shape = self.b.const(f"{layer}_2d_shape", np.array([-1, k], np.int64))
        self.b.node("Reshape", [self.get(ins[0], "tfl"), shape], [flat], layer)
        args = [flat, self.weight(ins[1], None)]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.weight(ins[2], None))
        y = self.b.tmp(layer)
        self.b.node("Gemm", args, [y], layer, transB=1)
        y = self.act(y, o.FusedActivationFunction() if o else 0, layer)
        if len(self.shape(outs[0])) != 2:
            z = self.b.tmp(f"{layer}_shape")
            self.b.node("Reshape", [y, self.b.const(f"{layer}_out_shape", np.array(self.shape(outs[0]), np.int64))],
                        [z], layer)
            y = z
        self.put(outs[0], y, "tfl", layer)

    def _binary(self, op, ins, outs, o, layer):
        four = [i for i in ins if len(self.shape(i)) == 4 and not self.is_const(i)]
        layout = "nchw" if four and all(len(self.shape(i)) == 4 or self.is_const(i) for i in ins) else "tfl"
        args = []
        for i in ins:
            if layout == "nchw" and self.is_const(i) and len(self.shape(i)) < 4:
                args.append(self.b.const(self.name(i), nchw_constant(self.const_float(i).astype(np.float32))))
            else:
                args.append(self.get(i, layout))
        y = self.b.tmp(layer)
        self.b.node(op, args, [y], layer)
        fused = o.FusedActivationFunction() if hasattr(o, "FusedActivationFunction") else 0   # not MAXIMUM/MINIMUM
        self.put(outs[0], self.act(y, fused, layer), layout, layer)

    def o_ADD(self, *a):
        self._binary("Add", *a)

    def o_SUB(self, *a):
        self._binary("Sub", *a)

    def o_MUL(self, *a):
        self._binary("Mul", *a)

    def o_DIV(self, *a):
        self._binary("Div", *a)

    def o_MAXIMUM(self, *a):
        self._binary("Max", *a)

    def o_MINIMUM(self, *a):
        self._binary("Min", *a)

    def _unary(self, op, ins, outs, layer, **attrs):
        layout = self.held(ins[0])
        y = self.b.tmp(layer)
        self.b.node(op, [self.get(ins[0], layout)], [y], layer, **attrs)
        self.put(outs[0], y, layout, layer)

    def o_RELU(self, ins, outs, o, layer):
        self._unary("Relu", ins, outs, layer)

    def o_LOGISTIC(self, ins, outs, o, layer):
        self._unary("Sigmoid", ins, outs, layer)

    def o_TANH(self, ins, outs, o, layer):
        self._unary("Tanh", ins, outs, layer)

    def o_HARD_SWISH(self, ins, outs, o, layer):
        self._unary("HardSwish", ins, outs, layer)

    def o_LEAKY_RELU(self, ins, outs, o, layer):
        self._unary("LeakyRelu", ins, outs, layer, alpha=o.Alpha())

    def o_RELU6(self, ins, outs, o, layer):
        layout = self.held(ins[0])
        self.put(outs[0], self.act(self.get(ins[0], layout), 3, layer), layout, layer)

    def o_DEQUANTIZE(self, ins, outs, o, layer):
        """Values are already dequantized in the IR: the tensor passes through (float16 weights: a float constant)."""
        layout = self.held(ins[0])
        y = self.b.tmp(layer)
        self.b.node("Identity", [self.get(ins[0], layout)], [y], layer)
        self.put(outs[0], y, layout, layer)

    def o_QUANTIZE(self, ins, outs, o, layer):
        self.o_DEQUANTIZE(ins, outs, o, layer)   # put() adds the output's own Q/DQ pair

    def o_CONCATENATION(self, ins, outs, o, layer):
        rank = len(self.shape(outs[0]))
        axis = o.Axis() % rank
        layout = "nchw" if rank == 4 else "tfl"
        if layout == "nchw":
            axis = TO_NCHW.index(axis)
        y = self.b.tmp(layer)
        self.b.node("Concat", [self.get(i, layout) for i in ins], [y], layer, axis=axis)
        self.put(outs[0], self.act(y, o.FusedActivationFunction(), layer), layout, layer)

    def o_RESHAPE(self, ins, outs, o, layer):
        shape = np.array(self.shape(outs[0]), np.int64)
        y = self.b.tmp(layer)
        self.b.node("Reshape", [self.get(ins[0], "tfl"), self.b.const(f"{layer}_shape", shape)], [y], layer)
        self.put(outs[0], y, "tfl", layer)

    o_SQUEEZE = o_RESHAPE

    def o_TRANSPOSE(self, ins, outs, o, layer):
        perm = [int(p) for p in self.data(ins[1])]
        y = self.b.tmp(layer)
        self.b.node("Transpose", [self.get(ins[0], "tfl")], [y], layer, perm=perm)
        self.put(outs[0], y, "tfl", layer)

    def o_SOFTMAX(self, ins, outs, o, layer):
        rank = len(self.shape(ins[0]))
        layout = "nchw" if rank == 4 and self.held(ins[0]) == "nchw" else "tfl"
        x = self.get(ins[0], layout)
        if o is not None and o.Beta() != 1.0:
            xb = self.b.tmp(f"{layer}_beta")
            self.b.node("Mul", [x, self.b.const(f"{layer}_beta_c", np.float32(o.Beta()))], [xb], layer)
            x = xb
        y = self.b.tmp(layer)
        self.b.node("Softmax", [x], [y], layer, axis=1 if layout == "nchw" else -1)
        self.put(outs[0], y, layout, layer)

    def o_MEAN(self, ins, outs, o, layer):
        axes = [int(a) % len(self.shape(ins[0])) for a in np.atleast_1d(self.data(ins[1]))]
        keep = bool(o.KeepDims()) if o is not None else False
        layout = "nchw" if keep and len(self.shape(ins[0])) == 4 else "tfl"
        if layout == "nchw":
            axes = [TO_NCHW.index(a) for a in axes]
        y = self.b.tmp(layer)
        self.b.node("ReduceMean", [self.get(ins[0], layout)], [y], layer, axes=sorted(axes), keepdims=int(keep))
        self.put(outs[0], y, layout, layer)

    def o_PAD(self, ins, outs, o, layer):
        pads = np.asarray(self.data(ins[1]), np.int64).reshape(-1, 2)
        layout = "nchw" if len(pads) == 4 else "tfl"
        if layout == "nchw":
            pads = pads[TO_NCHW]
        y = self.b.tmp(layer)
        self.b.node("Pad", [self.get(ins[0], layout), self.b.const(f"{layer}_pads", pads.T.reshape(-1))], [y], layer)
        self.put(outs[0], y, layout, layer)

    def _axis_layout(self, i, axis: int) -> tuple[str, int]:
        """Where an op along `axis` of tensor i runs: in NCHW (axis moved) if i is held there, else as is."""
        rank = len(self.shape(i))
        axis %= rank
        return ("nchw", TO_NCHW.index(axis)) if rank == 4 and self.held(i) == "nchw" else ("tfl", axis)

    def _const_ints(self, i, what: str, layer: str) -> np.ndarray:
        arr = self.data(i)
        if arr is None or int(i) in self.lay:
            raise UnsupportedOpError(f"the {what} of '{layer}' are computed at run time", where=self.where,
                                     fix=f"convert with constant {what} (a fixed input shape lets the converter "
                                         "fold them)")
        return np.asarray(arr, np.int64)

    def o_STRIDED_SLICE(self, ins, outs, o, layer):
        begin, end, strides = (self._const_ints(i, "slice bounds", layer) for i in ins[1:4])
        if o is not None and (o.EllipsisMask() or o.NewAxisMask() or o.Offset()):
            raise UnsupportedOpError(f"STRIDED_SLICE '{layer}' with an ellipsis or new-axis mask or offset is not "
                                     "supported", where=self.where,
                                     fix="slice with explicit begin/end per axis (begin_mask, end_mask and "
                                         "shrink_axis_mask are supported), or reshape before the slice")
        bm, em, sm = (o.BeginMask(), o.EndMask(), o.ShrinkAxisMask()) if o is not None else (0, 0, 0)
        shape = self.shape(ins[0])
        if len(begin) != len(shape) or len(end) != len(shape) or len(strides) != len(shape) or not strides.all():
            raise ModelLoadError(f"STRIDED_SLICE '{layer}': begin/end/strides {begin.tolist()}/{end.tolist()}/"
                                 f"{strides.tolist()} do not fit a rank-{len(shape)} input with non-zero strides",
                                 where=self.where, fix="the model is damaged; convert it again")
        starts, ends, steps = [], [], []
        for d, dim in enumerate(shape):   # TensorFlow's rules are Python's slice rules, shrink = one index
            if sm >> d & 1:
                b = int(begin[d]) % dim
                start, stop, step = b, b + 1, 1
            else:
                start, stop, step = slice(None if bm >> d & 1 else int(begin[d]),
                                          None if em >> d & 1 else int(end[d]), int(strides[d])).indices(dim)
            starts.append(start)
            ends.append(stop if stop >= 0 else -dim - 1)   # -1 = before index 0 (negative steps)
            steps.append(step)
        layout = "nchw" if len(shape) == 4 and self.held(ins[0]) == "nchw" and not sm else "tfl"
        axes = list(range(len(shape)))
        if layout == "nchw":
            starts, ends, steps = ([v[a] for a in TO_NCHW] for v in (starts, ends, steps))
        y = self.b.tmp(layer)
        self.b.node("Slice", [self.get(ins[0], layout), *(self.b.const(f"{layer}_{k}", np.array(v, np.int64))
                                                          for k, v in (("starts", starts), ("ends", ends),
                                                                       ("axes", axes), ("steps", steps)))],
                    [y], layer)
        if sm:
            z = self.b.tmp(f"{layer}_shrink")
            self.b.node("Reshape", [y, self.b.const(f"{layer}_shape", np.array(self.shape(outs[0]), np.int64))],
                        [z], layer)
            y = z
        self.put(outs[0], y, layout, layer)

    def o_GATHER(self, ins, outs, o, layer):
        if o is not None and o.BatchDims():
            raise UnsupportedOpError(f"GATHER '{layer}' with batch_dims={o.BatchDims()} is not supported",
                                     where=self.where, fix="gather with batch_dims=0")
        idx = self._const_ints(ins[1], "indices", layer)
        axis = (o.Axis() if o is not None else 0) % len(self.shape(ins[0]))
        dim = self.shape(ins[0])[axis]
        if idx.size and (idx.min() < 0 or idx.max() >= dim):
            raise ModelLoadError(f"GATHER '{layer}': indices {idx.min()}..{idx.max()} outside 0..{dim - 1} "
                                 f"of axis {axis}", where=self.where, fix="the model is damaged; convert it again")
        layout, ax = self._axis_layout(ins[0], axis) if idx.ndim == 1 else ("tfl", axis)
        y = self.b.tmp(layer)
        self.b.node("Gather", [self.get(ins[0], layout), self.b.const(f"{layer}_indices", idx)], [y], layer, axis=ax)
        self.put(outs[0], y, layout, layer)

    def _split(self, x, sizes, axis, outs, layer):
        dim = self.shape(x)[axis % len(self.shape(x))]
        sizes = [int(v) for v in sizes]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
        if sum(sizes) != dim or min(sizes) < 0:
            raise ModelLoadError(f"split '{layer}': sizes {sizes} do not add up to {dim}", where=self.where,
                                 fix="the model is damaged; convert it again")
        layout, ax = self._axis_layout(x, axis)
        ys = [self.b.tmp(self.name(i)) for i in outs]
        self.b.node("Split", [self.get(x, layout), self.b.const(f"{layer}_split", np.array(sizes, np.int64))], ys,
                    layer, axis=ax)
        for i, y in zip(outs, ys):
            self.put(i, y, layout, layer)

    def o_SPLIT(self, ins, outs, o, layer):   # inputs: axis, tensor
        axis = int(self._const_ints(ins[0], "split axis", layer).reshape(-1)[0])
        dim = self.shape(ins[1])[axis % len(self.shape(ins[1]))]
        if dim % len(outs):
            raise ModelLoadError(f"SPLIT '{layer}': axis of {dim} into {len(outs)} equal parts", where=self.where,
                                 fix="the model is damaged; convert it again")
        self._split(ins[1], [dim // len(outs)] * len(outs), axis, outs, layer)

    def o_SPLIT_V(self, ins, outs, o, layer):   # inputs: tensor, size_splits, axis
        axis = int(self._const_ints(ins[2], "split axis", layer).reshape(-1)[0])
        self._split(ins[0], self._const_ints(ins[1], "split sizes", layer).reshape(-1), axis, outs, layer)

    def _resize(self, ins, outs, o, layer, mode):
        n, h, w, c = self.shape(outs[0])
        align, half = bool(o.AlignCorners()), bool(o.HalfPixelCenters())
        attrs = {"mode": mode}
        if mode == "nearest":
            attrs.update(coordinate_transformation_mode="align_corners" if align else
                         "tf_half_pixel_for_nn" if half else "asymmetric",
                         nearest_mode="round_prefer_ceil" if align else "floor")
        else:
            attrs["coordinate_transformation_mode"] = "align_corners" if align else \
                "half_pixel" if half else "asymmetric"
        y = self.b.tmp(layer)
        self.b.node("Resize", [self.get(ins[0], "nchw"), "", "", self.b.const(f"{layer}_sizes",
                                                                              np.array([n, c, h, w], np.int64))],
                    [y], layer, **attrs)
        self.put(outs[0], y, "nchw", layer)

    def o_RESIZE_NEAREST_NEIGHBOR(self, ins, outs, o, layer):
        self._resize(ins, outs, o, layer, "nearest")

    def o_RESIZE_BILINEAR(self, ins, outs, o, layer):
        self._resize(ins, outs, o, layer, "linear")


def supported_ops() -> list[str]:
    return sorted(n[2:] for n in dir(_Lower) if n.startswith("o_"))


def load(model: str | os.PathLike) -> Graph:
    path = Path(model)
    if not path.is_file():
        raise ModelLoadError(f"TFLite model not found: {path}", fix="check the model= path passed to load_tflite()")
    data = path.read_bytes()
    where = str(path)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError("not a TensorFlow Lite flatbuffer (no 'TFL3' identifier)", where=where,
                             fix="pass the .tflite file written by tf.lite.TFLiteConverter")
    tfl = _tflite()
    try:
        fb = tfl.Model.GetRootAs(data, 0)
        if fb.SubgraphsLength() < 1:
            raise ValueError("no subgraph")
        sg = fb.Subgraphs(0)
        sg.TensorsLength()
    except Exception as e:
        raise ModelLoadError(f"the flatbuffer cannot be read ({type(e).__name__}: {e})", where=where,
                             fix="the file is damaged or truncated; convert the model again") from None
    if fb.SubgraphsLength() > 1:
        raise UnsupportedOpError(f"{fb.SubgraphsLength()} subgraphs (control flow) are not supported", where=where,
                                 fix="convert a model without While/If control flow")
    b = OnnxBuilder(Path(where).stem, where)
    low = _Lower(tfl, fb, sg, b, where)
    for i in sg.InputsAsNumpy():
        shape, dtype = low.shape(i), low.dtype(i)
        quantized = dtype in QUANT_TYPES and low.quant(i) is not None
        if dtype != np.float32 and not quantized:
            raise UnsupportedOpError(f"input '{low.name(i)}' is {np.dtype(dtype).name}; only float32 model inputs "
                                     "and quantized uint8/int8 ones are supported", where=where,
                                     fix="convert with inference_input_type=tf.float32 (the default); the int8 "
                                         "layers inside are kept")
        nchw = len(shape) == 4
        value = b.input(low.name(i), [shape[d] for d in TO_NCHW] if nchw else shape)
        if quantized:
            # a uint8/int8 input (the vendor's quantized MobileNet files): the model's input is the
            # value it stands for, (q - zero point) * scale, which config()'s mean/std produce
            # from pixels; its own quantization follows as a Q/DQ pair
            low.put(i, value, "nchw" if nchw else "tfl", low.name(i))
        else:
            low.lay.put(int(i), value, "nchw" if nchw else "nhwc", len(shape))
    out_names = [low.name(i) for i in sg.OutputsAsNumpy()]
    b.reserve(out_names)          # the outputs keep the model's tensor names
    for k in range(sg.OperatorsLength()):
        low.run(sg.Operators(k))
    quantized = [low.dtype(i) in QUANT_TYPES and low.quant(i) is not None for i in sg.OutputsAsNumpy()]
    for i, name, q in zip(sg.OutputsAsNumpy(), out_names, quantized):
        if not q:
            b.node("Identity", [low.get(i, "tfl")], [name], name)
            continue
        # a quantized output ends in its own Q/DQ pair, so the output tensor itself is quantized
        scale, zp, _ = low.quant(i)
        y, qv = b.tmp(f"{name}_out"), b.tmp(f"{name}_q")
        s_, z = b.const(f"{name}_scale", scale.reshape(())), b.const(f"{name}_zp", zp.astype(low.dtype(i)).reshape(()))
        b.node("Identity", [low.get(i, "tfl")], [y], name)
        b.node("QuantizeLinear", [y, s_, z], [qv], name)
        b.node("DequantizeLinear", [qv, s_, z], [name], name)
    graph = b.finish(out_names)
    if all(quantized):
        # uint8/int8 outputs (the vendor's quantized .tflite files): the vendor returns their
        # integers, which its scripts dequantize themselves (dropin.io_nodes)
        graph.meta["integer_outputs"] = True
    return graph
