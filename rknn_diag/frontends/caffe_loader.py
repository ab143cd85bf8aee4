"""Caffe frontend: deploy .prototxt + .caffemodel -> the IR, with no Caffe installed.

The prototxt is read with the doctor's protobuf-text reader (`doctor.prototxt`, which keeps
line numbers for messages); the binary weights with protobuf over the weights part of
caffe.proto (`caffe_proto`). Layers are lowered to ONNX nodes named after the Caffe layers
and loaded by the ONNX frontend. The conversion failures of the guide's chapter 3 are
refused here with the guide's fix: deprecated input syntax (§3.1), `round_mode` (§3.2),
names that are not valid scope names (§3.3), DetectionOutput (§3.4) and the Python proposal
layer (§3.6), V0/V1 layers (§3.7). PriorBox is folded to a constant (what §3.5 describes).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from ..doctor.prototxt import Message, parse
from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph
from ._onnx_build import OnnxBuilder
from .caffe_proto import message_class

PROTOS = ("caffe", "lstm_caffe")
# §3.3: the vendor turns layer names into TensorFlow scopes: [A-Za-z0-9.][A-Za-z0-9_.\-/]*
SCOPE = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/]*")
# §3.6: the fields the vendor's proposal layer carries in proposal_param.
PROPOSAL_FIELDS = ("ratio", "scale", "base_size", "feat_stride", "pre_nms_topn", "post_nms_topn", "nms_thresh",
                   "min_size")
# Layers that only matter in training; a deploy net may still carry them.
TRAINING_ONLY = {"Accuracy", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
                 "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss", "Silence"}
DATA_LAYERS = {"Data", "ImageData", "HDF5Data", "WindowData", "MemoryData", "DummyData", "AnnotatedData"}
RECURRENT = {"Lstm", "RNN", "Recurrent", "GRU"}


# ---- prototxt values (the text reader keeps them as strings) --------------------------------
def _s(msg: Message | None, key: str, default=None):
    if msg is None:
        return default
    v = msg.get(key)
    return default if v is None else v


def _i(msg, key, default=0) -> int:
    return int(_s(msg, key, default))


def _f(msg, key, default=0.0) -> float:
    return float(_s(msg, key, default))


def _b(msg, key, default=False) -> bool:
    v = _s(msg, key)
    return default if v is None else str(v).lower() in ("true", "1")


def _ints(msg, key) -> list[int]:
    return [int(v) for v in msg.all(key)] if msg is not None else []


def _floats(msg, key) -> list[float]:
    return [float(v) for v in msg.all(key)] if msg is not None else []


def _param(layer: Message, key: str) -> Message | None:
    ms = layer.messages(key)
    return ms[-1] if ms else None


def _enum(msg, key, names: list[str], default: str) -> str:
    v = str(_s(msg, key, default))
    return names[int(v)] if v.isdigit() else v.upper()


def _pair(p: Message | None, base: str, default: int) -> tuple[int, int]:
    """Caffe's `kernel_size: k` / `kernel_h`+`kernel_w` spelling for 2-D windows."""
    h, w = _s(p, f"{base}_h"), _s(p, f"{base}_w")
    if h is not None or w is not None:
        return int(h if h is not None else default), int(w if w is not None else default)
    vals = _ints(p, base if base != "kernel" else "kernel_size") if p is not None else []
    if not vals:
        return default, default
    return (vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1])


# ---- reading the files ---------------------------------------------------------------------
def _read_prototxt(model, where: str) -> Message:
    path = Path(model)
    if not path.is_file():
        raise ModelLoadError(f"Caffe prototxt not found: {path}", fix="check the model= path passed to load_caffe()")
    net = parse(path.read_text(errors="replace"), where)
    if not net.fields:
        raise ModelLoadError("the prototxt is empty", where=where, fix="pass the deploy .prototxt")
    return net


def _read_blobs(blobs) -> dict[str, list[np.ndarray]]:
    if blobs is None:
        return {}
    path = Path(blobs)
    if not path.is_file():
        raise ModelLoadError(f"Caffe weights file not found: {path}",
                             fix="check the blobs= path passed to load_caffe()")
    data = path.read_bytes()
    if not data:
        raise ModelLoadError("the caffemodel is empty", where=str(path), fix="copy the trained .caffemodel again")
    try:
        net = message_class("NetParameter").FromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise ModelLoadError(f"not a binary caffemodel ({type(e).__name__}: {e})", where=str(path),
                             fix="pass the trained .caffemodel (binary), not a prototxt; check it is not truncated") \
            from None
    if len(net.layers) and not len(net.layer):
        raise ModelLoadError("Not supported caffe net model version(v0 layer or v1 layer): the caffemodel uses "
                             "the deprecated 'layers' field", where=str(path), ref="3.7",
                             fix="upgrade it with Caffe's tools: upgrade_net_proto_binary old.caffemodel "
                                 "new.caffemodel (and upgrade_net_proto_text for the prototxt)")
    out: dict[str, list[np.ndarray]] = {}
    for layer in net.layer:
        arrays = []
        for b in layer.blobs:
            vals = np.asarray(b.data if len(b.data) else b.double_data, dtype=np.float32)
            shape = list(b.shape.dim) if b.HasField("shape") else \
                [d for d in (b.num, b.channels, b.height, b.width)]
            if int(np.prod(shape)) != vals.size:
                raise ModelLoadError(f"layer '{layer.name}': blob of shape {shape} holds {vals.size} values",
                                     where=str(path), fix="the caffemodel is damaged; copy it again")
            arrays.append(vals.reshape(shape))
        if arrays:
            out[layer.name] = arrays
    return out


# ---- the guide's refusals (chapter 3) --------------------------------------------------------
def _check_net(net: Message, where: str, legacy_input: bool) -> None:
    old = [f for f in net.fields if f.name in ("input", "input_dim", "input_shape")]
    if old and not legacy_input:
        raise ModelLoadError(f"Deprecated caffe input usage: top-level '{old[0].name}:'",
                             where=f"{where}:{old[0].line}",
                             ref="3.1", fix='declare the input as a layer: layer { name: "data" type: "Input" '
                                            'top: "data" input_param { shape { dim: 1 dim: 3 dim: 224 dim: 224 } } }')
    v1 = net.messages("layers")
    if v1:
        version = "V0" if any(m.has("layer") for m in v1) else "V1"
        raise ModelLoadError(f"Not supported caffe net model version(v0 layer or v1 layer): {version} "
                             "'layers {...}' format", where=f"{where}:{v1[0].line}", ref="3.7",
                             fix="upgrade with Caffe's tools: upgrade_net_proto_text old.prototxt new.prototxt and "
                                 "upgrade_net_proto_binary old.caffemodel new.caffemodel")
    for layer in net.messages("layer"):
        name, at = str(layer.get("name", "")), f"{where}:{layer.line}"
        if not SCOPE.fullmatch(name):
            raise ModelLoadError(f"'{name}' is not a valid scope name", where=at, ref="3.3",
                                 fix="rename the layer to start with a letter, digit or '.', using only letters, "
                                     "digits and _ . - / (TensorFlow's scope naming rule)")
        for pp in layer.messages("pooling_param"):
            if pp.has("round_mode"):
                raise ModelLoadError('Message type "caffe.PoolingParameter" has no field named "round_mode"',
                                     where=f"{where}:{pp.line} (layer '{name}')", ref="3.2",
                                     fix="delete round_mode (ceil_mode is true by default), or write ceil_mode: true")
        t = str(layer.get("type", ""))
        if t.lower() == "detectionoutput":
            raise UnsupportedOpError(f"DetectionOutput layer '{name}' is not supported (\"Invalid tensor id\")",
                                     where=at, ref="3.4",
                                     fix="delete the DetectionOutput layer from the prototxt and run that step on "
                                         "the CPU; the mbox_loc/mbox_conf outputs and the prior boxes stay (§3.5)")
        py = layer.messages("python_param")
        if t == "Python" and py and "proposal" in str(py[0].get("layer", "")).lower():
            raise UnsupportedOpError(f"the proposal layer '{name}' is a Python layer (\"Invalid tensor id\" on "
                                     "rpn_bbox_pred)", where=at, ref="3.6",
                                     fix="write it as type: 'proposal' with proposal_param { " +
                                         " ".join(PROPOSAL_FIELDS) + " }")


# ---- layers --------------------------------------------------------------------------------
class _Lower:
    def __init__(self, b: OnnxBuilder, weights: dict[str, list[np.ndarray]], where: str):
        self.b, self.w, self.where = b, weights, where
        self.cont: dict[str, np.ndarray] = {}   # ContinuationIndicator values, for the LSTMs that read them

    def blobs(self, layer: Message, name: str, n: int) -> list[np.ndarray]:
        got = self.w.get(name, [])
        if len(got) < n:
            raise ModelLoadError(f"layer '{name}' needs {n} weight blob(s), the caffemodel has {len(got)}",
                                 where=f"{self.where}:{layer.line}",
                                 fix="pass the .caffemodel trained with this prototxt: layer names must match")
        return got

    def run(self, layer: Message) -> None:
        t, name = str(layer.get("type", "")), str(layer.get("name", ""))
        bottoms = [str(v) for v in layer.all("bottom")]
        tops = [str(v) for v in layer.all("top")]
        fn = getattr(self, f"l_{t}", None)
        if fn is None:
            fix = "remove the layer from the deploy prototxt, or export the model to ONNX"
            if t in RECURRENT:
                fix = "of the recurrent layers only LSTM is supported; run this one on the CPU"
            elif t.lower() == "proposal":
                fix = "this toolkit has no proposal op: cut the net before it and run proposals on the CPU"
            raise UnsupportedOpError(f"Caffe layer type '{t}' (layer '{name}') is not supported",
                                     where=f"{self.where}:{layer.line}",
                                     fix=f"{fix}; supported types: {', '.join(supported_layers())}")
        for bt in bottoms:
            if not self.b.has(bt):
                raise ModelLoadError(f"layer '{name}' reads blob '{bt}' that no earlier layer produces",
                                     where=f"{self.where}:{layer.line}", fix="check the bottom: names")
        fn(layer, name, [self.b.cur(x) for x in bottoms], tops)

    # each l_<Type>(layer, name, bottom values, top blob names)
    def l_Input(self, layer, name, xs, tops):
        shapes = _param(layer, "input_param").messages("shape") if _param(layer, "input_param") else []
        if not shapes:
            raise ModelLoadError(f"Input layer '{name}' has no input_param {{ shape {{ dim ... }} }}",
                                 where=f"{self.where}:{layer.line}", fix="give the input's shape in the prototxt")
        for i, top in enumerate(tops):
            self.b.input(top, _ints(shapes[min(i, len(shapes) - 1)], "dim"))

    def _conv(self, layer, name, xs, tops, transpose: bool):
        p = _param(layer, "convolution_param")
        kh, kw = _pair(p, "kernel", 1)
        sh, sw = _pair(p, "stride", 1)
        ph, pw = _pair(p, "pad", 0)
        dil = _ints(p, "dilation") or [1]
        dh, dw = (dil[0], dil[0]) if len(dil) == 1 else dil[:2]
        group, bias = _i(p, "group", 1), _b(p, "bias_term", True)
        blobs = self.blobs(layer, name, 2 if bias else 1)
        ins = [xs[0], self.b.const(f"{name}_W", blobs[0])]
        if bias:
            ins.append(self.b.const(f"{name}_B", blobs[1].reshape(-1)))
        self.b.node("ConvTranspose" if transpose else "Conv", ins, [self.b.out(tops[0])], name,
                    kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw], group=group)

    def l_Convolution(self, layer, name, xs, tops):
        self._conv(layer, name, xs, tops, False)

    def l_Deconvolution(self, layer, name, xs, tops):
        self._conv(layer, name, xs, tops, True)

    def l_Pooling(self, layer, name, xs, tops):
        p = _param(layer, "pooling_param")
        pool = _enum(p, "pool", ["MAX", "AVE", "STOCHASTIC"], "MAX")
        if pool == "STOCHASTIC":
            raise UnsupportedOpError(f"stochastic pooling (layer '{name}') is training-only",
                                     where=f"{self.where}:{layer.line}", fix="use pool: MAX or AVE")
        op = "MaxPool" if pool == "MAX" else "AveragePool"
        if _b(p, "global_pooling"):
            self.b.node(f"Global{op}", xs[:1], [self.b.out(tops[0])], name)
            return
        kh, kw = _pair(p, "kernel", 1)
        sh, sw = _pair(p, "stride", 1)
        ph, pw = _pair(p, "pad", 0)
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                     ceil_mode=int(_b(p, "ceil_mode", True)))   # Caffe rounds output sizes up
        if op == "AveragePool":
            attrs["count_include_pad"] = 1     # Caffe divides by the window clipped to input+pad
        self.b.node(op, xs[:1], [self.b.out(tops[0])], name, **attrs)

    def l_InnerProduct(self, layer, name, xs, tops):
        p = _param(layer, "inner_product_param")
        bias, axis = _b(p, "bias_term", True), _i(p, "axis", 1)
        blobs = self.blobs(layer, name, 2 if bias else 1)
        n = _i(p, "num_output", 0)   # legacy blobs are 4-D (1, 1, N, K)
        w = blobs[0].reshape((-1, n) if _b(p, "transpose") else (n, -1))
        flat = self.b.tmp(f"{name}_flat")
        self.b.node("Flatten", xs[:1], [flat], name, axis=axis)
        ins = [flat, self.b.const(f"{name}_W", w)]
        if bias:
            ins.append(self.b.const(f"{name}_B", blobs[1].reshape(-1)))
        lead = self.b.shape(xs[0])[:axis]
        if len(lead) == 1:
            self.b.node("Gemm", ins, [self.b.out(tops[0])], name, transB=0 if _b(p, "transpose") else 1)
            return
        # axis > 1 (e.g. per time step after an LSTM): Caffe keeps the leading axes, Gemm is 2-D
        flat_out = self.b.tmp(f"{name}_gemm")
        self.b.node("Gemm", ins, [flat_out], name, transB=0 if _b(p, "transpose") else 1)
        self.b.node("Reshape", [flat_out, self.b.const(f"{name}_shape", np.array([*lead, n], np.int64))],
                    [self.b.out(tops[0])], name)

    def l_BatchNorm(self, layer, name, xs, tops):
        p = _param(layer, "batch_norm_param")
        mean, var, factor = self.blobs(layer, name, 3)[:3]
        f = float(factor.reshape(-1)[0])
        f = 0.0 if f == 0 else 1.0 / f          # Caffe stores running sums scaled by this factor
        c = mean.size
        self.b.node("BatchNormalization", [xs[0], self.b.const(f"{name}_scale", np.ones(c, np.float32)),
                                           self.b.const(f"{name}_bias", np.zeros(c, np.float32)),
                                           self.b.const(f"{name}_mean", mean.reshape(-1) * f),
                                           self.b.const(f"{name}_var", var.reshape(-1) * f)],
                    [self.b.out(tops[0])], name, epsilon=_f(p, "eps", 1e-5))

    def _channel(self, x: str, v: np.ndarray, axis: int) -> np.ndarray:
        rank = len(self.b.shape(x))
        return v.reshape(v.shape + (1,) * (rank - axis - v.ndim))

    def l_Scale(self, layer, name, xs, tops):
        p = _param(layer, "scale_param")
        if len(xs) > 1:
            raise UnsupportedOpError(f"Scale layer '{name}' with a second bottom is not supported",
                                     where=f"{self.where}:{layer.line}", fix="use learned Scale parameters")
        axis, bias = _i(p, "axis", 1), _b(p, "bias_term", False)
        blobs = self.blobs(layer, name, 2 if bias else 1)
        out = self.b.out(tops[0])
        scaled = self.b.tmp(f"{name}_mul") if bias else out
        self.b.node("Mul", [xs[0], self.b.const(f"{name}_scale", self._channel(xs[0], blobs[0], axis))], [scaled], name)
        if bias:
            self.b.node("Add", [scaled, self.b.const(f"{name}_bias", self._channel(xs[0], blobs[1], axis))], [out],
                        name)

    def l_Bias(self, layer, name, xs, tops):
        p = _param(layer, "bias_param")
        blob = self.blobs(layer, name, 1)[0]
        self.b.node("Add", [xs[0], self.b.const(f"{name}_bias", self._channel(xs[0], blob, _i(p, "axis", 1)))],
                    [self.b.out(tops[0])], name)

    def l_ReLU(self, layer, name, xs, tops):
        slope = _f(_param(layer, "relu_param"), "negative_slope", 0.0)
        if slope:
            self.b.node("LeakyRelu", xs[:1], [self.b.out(tops[0])], name, alpha=slope)
        else:
            self.b.node("Relu", xs[:1], [self.b.out(tops[0])], name)

    def l_PReLU(self, layer, name, xs, tops):
        slope = self.blobs(layer, name, 1)[0].reshape(-1)
        self.b.node("PRelu", [xs[0], self.b.const(f"{name}_slope", self._channel(xs[0], slope, 1))],
                    [self.b.out(tops[0])], name)

    def l_ELU(self, layer, name, xs, tops):
        self.b.node("Elu", xs[:1], [self.b.out(tops[0])], name, alpha=_f(_param(layer, "elu_param"), "alpha", 1.0))

    def _unary(op):
        def fn(self, layer, name, xs, tops):
            self.b.node(op, xs[:1], [self.b.out(tops[0])], name)
        return fn

    l_Sigmoid, l_TanH, l_AbsVal, l_BNLL = _unary("Sigmoid"), _unary("Tanh"), _unary("Abs"), _unary("Softplus")
    l_Dropout = _unary("Identity")

    def l_Split(self, layer, name, xs, tops):
        for top in tops:
            self.b.node("Identity", xs[:1], [self.b.out(top)], name)

    def l_Power(self, layer, name, xs, tops):
        p = _param(layer, "power_param")
        power, scale, shift = _f(p, "power", 1.0), _f(p, "scale", 1.0), _f(p, "shift", 0.0)
        x = xs[0]
        for op, val, skip in (("Mul", scale, 1.0), ("Add", shift, 0.0), ("Pow", power, 1.0)):
            if val != skip:
                y = self.b.tmp(f"{name}_{op.lower()}")
                self.b.node(op, [x, self.b.const(f"{name}_{op.lower()}_c", np.float32(val))], [y], name)
                x = y
        self.b.node("Identity", [x], [self.b.out(tops[0])], name)

    def l_Eltwise(self, layer, name, xs, tops):
        p = _param(layer, "eltwise_param")
        op = _enum(p, "operation", ["PROD", "SUM", "MAX"], "SUM")
        coeff = _floats(p, "coeff")
        if op == "SUM" and coeff and any(c != 1 for c in coeff):
            scaled = []
            for i, (x, c) in enumerate(zip(xs, coeff)):
                y = self.b.tmp(f"{name}_coeff{i}")
                self.b.node("Mul", [x, self.b.const(f"{name}_c{i}", np.float32(c))], [y], name)
                scaled.append(y)
            xs = scaled
        if op != "PROD":
            self.b.node("Sum" if op == "SUM" else "Max", xs, [self.b.out(tops[0])], name)
            return
        acc = xs[0]
        for i, x in enumerate(xs[1:], 2):      # Mul is binary
            y = self.b.out(tops[0]) if i == len(xs) else self.b.tmp(f"{name}_prod")
            self.b.node("Mul", [acc, x], [y], name)
            acc = y

    def l_Concat(self, layer, name, xs, tops):
        p = _param(layer, "concat_param")
        axis = _i(p, "axis", _i(p, "concat_dim", 1))
        self.b.node("Concat", xs, [self.b.out(tops[0])], name, axis=axis)

    def l_Slice(self, layer, name, xs, tops):
        p = _param(layer, "slice_param")
        axis = _i(p, "axis", _i(p, "slice_dim", 1))
        dim = self.b.shape(xs[0])[axis]
        points = _ints(p, "slice_point")
        bounds = [0, *points, dim] if points else [dim * i // len(tops) for i in range(len(tops) + 1)]
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
        self.b.node("Split", [xs[0], self.b.const(f"{name}_split", np.array(sizes, np.int64))],
                    [self.b.out(t) for t in tops], name, axis=axis)

    def l_Softmax(self, layer, name, xs, tops):
        self.b.node("Softmax", xs[:1], [self.b.out(tops[0])], name, axis=_i(_param(layer, "softmax_param"), "axis", 1))

    def l_Flatten(self, layer, name, xs, tops):
        p = _param(layer, "flatten_param")
        axis, end = _i(p, "axis", 1), _i(p, "end_axis", -1)
        shape = self.b.shape(xs[0])
        end = end % len(shape)
        if end == len(shape) - 1:
            self.b.node("Flatten", xs[:1], [self.b.out(tops[0])], name, axis=axis)
            return
        new = [*shape[:axis], int(np.prod(shape[axis:end + 1])), *shape[end + 1:]]
        self.b.node("Reshape", [xs[0], self.b.const(f"{name}_shape", np.array(new, np.int64))],
                    [self.b.out(tops[0])], name)

    def l_Reshape(self, layer, name, xs, tops):
        p = _param(layer, "reshape_param")
        dims = _ints(p.messages("shape")[0], "dim") if p is not None and p.messages("shape") else []
        axis, num_axes = _i(p, "axis", 0), _i(p, "num_axes", -1)
        shape = self.b.shape(xs[0])
        axis = axis % (len(shape) + 1)
        end = len(shape) if num_axes == -1 else axis + num_axes
        # Caffe's 0 copies the input dim at the same position of the replaced range
        dims = [shape[axis + i] if d == 0 else d for i, d in enumerate(dims)]
        new = [*shape[:axis], *dims, *shape[end:]]
        self.b.node("Reshape", [xs[0], self.b.const(f"{name}_shape", np.array(new, np.int64))],
                    [self.b.out(tops[0])], name)

    def l_Permute(self, layer, name, xs, tops):
        order = _ints(_param(layer, "permute_param"), "order")
        rank = len(self.b.shape(xs[0]))
        order += [i for i in range(rank) if i not in order]
        self.b.node("Transpose", xs[:1], [self.b.out(tops[0])], name, perm=order)

    def l_LRN(self, layer, name, xs, tops):
        p = _param(layer, "lrn_param")
        if _enum(p, "norm_region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"], "ACROSS_CHANNELS") != "ACROSS_CHANNELS":
            raise UnsupportedOpError(f"LRN WITHIN_CHANNEL (layer '{name}') is not supported",
                                     where=f"{self.where}:{layer.line}", fix="use norm_region: ACROSS_CHANNELS")
        self.b.node("LRN", xs[:1], [self.b.out(tops[0])], name, size=_i(p, "local_size", 5),
                    alpha=_f(p, "alpha", 1.0), beta=_f(p, "beta", 0.75), bias=_f(p, "k", 1.0))

    def l_Normalize(self, layer, name, xs, tops):   # SSD's L2 normalisation with a learned scale
        p = _param(layer, "norm_param")
        if _b(p, "across_spatial", True):
            raise UnsupportedOpError(f"Normalize with across_spatial: true (layer '{name}') is not supported",
                                     where=f"{self.where}:{layer.line}", fix="set across_spatial: false (as SSD does)")
        scale = self.blobs(layer, name, 1)[0].reshape(-1)
        x = xs[0]
        sq, s, d = self.b.tmp(f"{name}_sumsq"), self.b.tmp(f"{name}_norm"), self.b.tmp(f"{name}_div")
        self.b.node("ReduceSumSquare", [x], [sq], name, axes=[1], keepdims=1)
        eps = self.b.tmp(f"{name}_eps")
        self.b.node("Add", [sq, self.b.const(f"{name}_eps_c", np.float32(_f(p, "eps", 1e-10)))], [eps], name)
        self.b.node("Sqrt", [eps], [s], name)
        self.b.node("Div", [x, s], [d], name)
        self.b.node("Mul", [d, self.b.const(f"{name}_scale", self._channel(x, scale, 1))], [self.b.out(tops[0])], name)

    def l_ContinuationIndicator(self, layer, name, xs, tops):
        """The LSTM fork's sequence indicator (lstm_caffe, §1.3.1 note 3): a constant (T, N), 0 at t=0
        and 1 after (warpctc-caffe's continuation_indicator_layer)."""
        p = _param(layer, "continuation_indicator_param")
        t, n = _i(p, "time_step", 0), _i(p, "batch_size", 0)
        if t < 1 or n < 1:
            raise ModelLoadError(f"ContinuationIndicator '{name}' needs time_step and batch_size >= 1",
                                 where=f"{self.where}:{layer.line}",
                                 fix="give continuation_indicator_param { time_step: T batch_size: N }")
        cont = np.ones((t, n), np.float32)
        cont[0] = 0
        self.cont[self.b.const_blob(tops[0], f"{name}_cont", cont)] = cont

    def l_LSTM(self, layer, name, xs, tops):
        """Caffe's LSTM (BVLC RecurrentLayer, also in the LSTM fork): bottoms x (T, N, ...) and the
        sequence indicator cont (T, N); blobs W_xc (4H, I), b_c (4H), W_hc (4H, H), gates i, f, o, g
        (lstm_unit_layer). Lowered to one ONNX LSTM (gates i, o, f, c) when cont only marks each
        sequence's start, which a zero initial state already does."""
        at = f"{self.where}:{layer.line}"
        p = _param(layer, "recurrent_param")
        if len(xs) != 2 or _b(p, "expose_hidden"):
            raise UnsupportedOpError(f"LSTM '{name}' with {len(xs)} bottoms"
                                     f"{' and expose_hidden' if _b(p, 'expose_hidden') else ''} is not supported",
                                     where=at, fix="give the LSTM two bottoms, the sequence (T, N, ...) and its "
                                                   "indicator, with no static input and expose_hidden: false")
        cont = self.cont.get(xs[1])
        shape = self.b.shape(xs[0])
        steps, batch = shape[0], shape[1]
        if cont is None or cont.shape != (steps, batch) or cont[0].any() or not cont[1:].all():
            raise UnsupportedOpError(
                f"LSTM '{name}': its sequence indicator '{str(layer.all('bottom')[1])}' is not a constant "
                f"0-then-1 indicator of shape ({steps}, {batch})", where=at,
                fix="produce it with a ContinuationIndicator layer { continuation_indicator_param { time_step: "
                    f"{steps} batch_size: {batch} }} }} (one sequence per batch entry); resets inside a sequence "
                    "depend on the data and are not supported")
        hidden = _i(p, "num_output", 0)
        w_x, b_c, w_h = self.blobs(layer, name, 3)[:3]
        feat = int(np.prod(shape[2:]))
        if w_x.size != 4 * hidden * feat or w_h.size != 4 * hidden * hidden or b_c.size != 4 * hidden:
            raise ModelLoadError(f"LSTM '{name}': blobs {[list(b.shape) for b in (w_x, b_c, w_h)]} do not fit "
                                 f"num_output {hidden} on {feat} input features", where=at,
                                 fix="pass the .caffemodel trained with this prototxt")
        order = np.r_[0:hidden, 2 * hidden:3 * hidden, hidden:2 * hidden, 3 * hidden:4 * hidden]  # ifog -> iofc
        x = xs[0]
        if len(shape) != 3:
            x = self.b.tmp(f"{name}_x")
            self.b.node("Reshape", [xs[0], self.b.const(f"{name}_xshape", np.array([steps, batch, feat], np.int64))],
                        [x], name)
        y = self.b.tmp(f"{name}_y")
        bias = np.concatenate([b_c.reshape(-1)[order], np.zeros(4 * hidden, np.float32)])
        self.b.node("LSTM", [x, self.b.const(f"{name}_W", w_x.reshape(4 * hidden, feat)[order][None]),
                             self.b.const(f"{name}_R", w_h.reshape(4 * hidden, hidden)[order][None]),
                             self.b.const(f"{name}_B", bias[None])], [y], name, hidden_size=hidden)
        self.b.node("Reshape", [y, self.b.const(f"{name}_shape", np.array([steps, batch, hidden], np.int64))],
                    [self.b.out(tops[0])], name)

    def l_PriorBox(self, layer, name, xs, tops):
        """SSD prior boxes depend only on shapes: computed here, a constant in the model (§3.5)."""
        p = _param(layer, "prior_box_param")
        fh, fw = self.b.shape(xs[0])[2:4]
        ih, iw = self.b.shape(xs[1])[2:4]
        ih, iw = _i(p, "img_h", _i(p, "img_size", ih)), _i(p, "img_w", _i(p, "img_size", iw))
        step = _f(p, "step", 0.0)
        sh, sw = _f(p, "step_h", step) or ih / fh, _f(p, "step_w", step) or iw / fw
        offset = _f(p, "offset", 0.5)
        mins, maxs = _floats(p, "min_size"), _floats(p, "max_size")
        ratios = [1.0]
        for r in _floats(p, "aspect_ratio"):
            for q in ([r, 1.0 / r] if _b(p, "flip", True) else [r]):
                if all(abs(q - a) > 1e-6 for a in ratios):
                    ratios.append(q)
        boxes = []
        for h in range(fh):
            for w in range(fw):
                cx, cy = (w + offset) * sw, (h + offset) * sh
                for k, m in enumerate(mins):
                    sizes = [(m, m)]
                    if maxs:
                        sizes.append((math.sqrt(m * maxs[k]),) * 2)
                    sizes += [(m * math.sqrt(r), m / math.sqrt(r)) for r in ratios if abs(r - 1) > 1e-6]
                    for bw, bh in sizes:
                        boxes.append([(cx - bw / 2) / iw, (cy - bh / 2) / ih, (cx + bw / 2) / iw, (cy + bh / 2) / ih])
        boxes = np.asarray(boxes, np.float32)
        if _b(p, "clip"):
            boxes = np.clip(boxes, 0, 1)
        var = _floats(p, "variance") or [0.1]
        var = np.broadcast_to(np.asarray(var if len(var) == 4 else var[:1] * 4, np.float32), boxes.shape)
        value = np.stack([boxes.reshape(-1), var.reshape(-1)])[None]
        self.b.node("Identity", [self.b.const(f"{name}_priors", value)], [self.b.out(tops[0])], name)


def supported_layers() -> list[str]:
    return sorted(n[2:] for n in dir(_Lower) if n.startswith("l_"))


def _included(layer: Message) -> bool:
    """Deploy semantics: layers restricted to the TRAIN phase are left out."""
    inc = [str(_s(r, "phase", "")) for r in layer.messages("include")]
    exc = [str(_s(r, "phase", "")) for r in layer.messages("exclude")]
    return not (inc and all(ph in ("TRAIN", "0") for ph in inc)) and not any(ph in ("TEST", "1") for ph in exc)


def _legacy_inputs(net: Message, b: OnnxBuilder, where: str) -> None:
    """Top-level `input:` with `input_dim:` (four per input) or `input_shape { dim }`: the old
    spelling toolkit2 still reads (its caffe/mobilenet_v2 example ships it)."""
    names = [str(v) for v in net.all("input")]
    dims = [int(v) for v in net.all("input_dim")]
    shapes = [_ints(m, "dim") for m in net.messages("input_shape")] or \
        [dims[4 * i:4 * i + 4] for i in range(len(dims) // 4)]
    if len(shapes) != len(names) or not all(shapes):
        raise ModelLoadError(f"top-level input(s) {names} with {len(shapes)} shape(s)", where=where, ref="3.1",
                             fix="give each input four input_dim: lines (or an input_shape), or use Input layers")
    for name, shape in zip(names, shapes):
        b.input(name, shape)


def load(model: str | os.PathLike, blobs: str | os.PathLike | None, proto: str = "caffe",
         legacy_input: bool = False, input_shapes: list[list[int]] | None = None) -> Graph:
    """`legacy_input`: accept top-level `input:`/`input_dim:` (toolkit2 does; toolkit 1.x refuses, §3.1).
    `input_shapes`: the inputs' shapes instead of the prototxt's (config(dynamic_input=...))."""
    b = to_onnx(model, blobs, proto, legacy_input)
    if input_shapes is not None:
        b.reshape_inputs(input_shapes)
    # the guide's §3.5: an output that is the same for every input (SSD's prior boxes once
    # DetectionOutput is deleted) is not returned; the vendor returns loc and conf only
    const = b.constant_values()
    outputs = [o for o in b.dangling() if o not in const] or b.dangling()
    return b.finish(outputs)


def to_onnx(model: str | os.PathLike, blobs: str | os.PathLike | None, proto: str = "caffe",
            legacy_input: bool = False) -> OnnxBuilder:
    """The net lowered to ONNX nodes (`.model(outputs)`; `.layer_of` maps nodes to Caffe layers)."""
    if proto not in PROTOS:
        raise ModelLoadError(f"unknown Caffe protocol proto='{proto}'",
                             fix=f"use one of {list(PROTOS)} (guide §1.3.1)")
    where = str(model)
    net = _read_prototxt(model, where)
    _check_net(net, where, legacy_input)
    weights = _read_blobs(blobs)
    b = OnnxBuilder(str(net.get("name", Path(where).stem)), where)
    if legacy_input and net.has("input"):
        _legacy_inputs(net, b, where)
    lower = _Lower(b, weights, where)
    for layer in net.messages("layer"):
        if not _included(layer):
            continue
        t = str(layer.get("type", ""))
        if t in TRAINING_ONLY:
            continue
        if t in DATA_LAYERS:
            raise ModelLoadError(f"'{t}' layer '{layer.get('name')}': this is a training prototxt",
                                 where=f"{where}:{layer.line}", ref="3.1",
                                 fix="pass the deploy prototxt, whose input is an Input layer")
        lower.run(layer)
    if not b.inputs:
        raise ModelLoadError("the prototxt declares no Input layer", where=where, ref="3.1",
                             fix='add layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 '
                                 'dim: 3 dim: 224 dim: 224 } } }')
    return b
