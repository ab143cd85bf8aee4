"""Darknet frontend: .cfg + .weights -> the IR (no darknet needed).

The cfg is darknet's INI-like list of [sections] (repeated, ordered: no configparser); the
.weights file is a small header then raw float32 parameters in layer order. Layers are
lowered to ONNX nodes named `<kind>_<index>` after darknet's own layer numbering (what
darknet and OpenCV print), then loaded by the ONNX frontend.

[yolo] and [region] layers are decoding steps, not network layers: as in the vendor's
YOLO examples, the model outputs the raw head tensors (the inputs of those layers) and the
decoding runs on the CPU. Their index still names the output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph
from ._onnx_build import OnnxBuilder

# darknet's normalize_cpu divides by sqrt(var) + .000001f (not sqrt(var + eps))
BN_EPS = 1e-6
LEAKY_SLOPE = 0.1


@dataclass
class Section:
    kind: str
    line: int
    opts: dict[str, str] = field(default_factory=dict)

    def i(self, key: str, default: int) -> int:
        return int(self.opts.get(key, default))

    def f(self, key: str, default: float) -> float:
        return float(self.opts.get(key, default))

    def s(self, key: str, default: str) -> str:
        return self.opts.get(key, default).strip()


def parse_cfg(text: str, where: str) -> list[Section]:
    sections: list[Section] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ModelLoadError(f"malformed section header {line!r}", where=f"{where}:{n}",
                                     fix="write it as [convolutional], [maxpool], ...")
            sections.append(Section(line[1:-1].strip().lower(), n))
        elif "=" in line:
            if not sections:
                raise ModelLoadError("an option before the first [section]", where=f"{where}:{n}",
                                     fix="start the cfg with [net]")
            key, val = line.split("=", 1)
            sections[-1].opts[key.strip()] = val.strip()
        else:
            raise ModelLoadError(f"cannot read {line!r} (expected key=value)", where=f"{where}:{n}",
                                 fix="check the cfg file")
    if not sections or sections[0].kind not in ("net", "network"):
        raise ModelLoadError("the cfg does not start with a [net] section", where=where,
                             fix="pass the darknet .cfg (model=) and the .weights (weight=)")
    return sections


class _Weights:
    def __init__(self, path: Path):
        data = path.read_bytes()
        if len(data) < 16:
            raise ModelLoadError("the .weights file is too short to hold darknet's header", where=str(path),
                                 fix="copy the trained .weights file again")
        major, minor, _rev = np.frombuffer(data[:12], "<i4")
        header = 20 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 16
        self.values = np.frombuffer(data[header:], "<f4")
        self.pos, self.where = 0, str(path)

    def take(self, n: int, layer: str) -> np.ndarray:
        if self.pos + n > self.values.size:
            raise ModelLoadError(f"the .weights file ends inside layer {layer}: it holds {self.values.size} values, "
                                 f"the cfg needs at least {self.pos + n}", where=self.where,
                                 fix="use the .weights trained with this .cfg (same filters, classes and anchors)")
        out = self.values[self.pos:self.pos + n].astype(np.float32)
        self.pos += n
        return out


class _Lower:
    def __init__(self, b: OnnxBuilder, weights: _Weights, where: str):
        self.b, self.w, self.where = b, weights, where
        self.outs: list[str] = []       # value per darknet layer index
        self.chans: list[int] = []
        self.heads: list[str] = []

    def _act(self, x: str, act: str, name: str, sec: Section) -> str:
        if act == "linear":
            return x
        y = self.b.tmp(f"{name}_{act}")
        if act == "leaky":
            self.b.node("LeakyRelu", [x], [y], name, alpha=LEAKY_SLOPE)
        elif act in ("relu", "logistic", "tanh", "mish", "elu"):
            self.b.node({"relu": "Relu", "logistic": "Sigmoid", "tanh": "Tanh", "mish": "Mish", "elu": "Elu"}[act],
                        [x], [y], name)
        elif act == "swish":
            s = self.b.tmp(f"{name}_sigmoid")
            self.b.node("Sigmoid", [x], [s], name)
            self.b.node("Mul", [x, s], [y], name)
        else:
            raise UnsupportedOpError(f"activation '{act}' of layer {name} is not supported",
                                     where=f"{self.where}:{sec.line}",
                                     fix="use leaky, linear, relu, logistic, tanh, mish, swish or elu")
        return y

    def _index(self, ref: str, i: int, sec: Section) -> int:
        k = int(ref)
        k = i + k if k < 0 else k
        if not 0 <= k < i:
            raise ModelLoadError(f"layer {i} refers to layer {ref}, which is not before it",
                                 where=f"{self.where}:{sec.line}", fix="check layers=/from= in the cfg")
        return k

    def run(self, i: int, sec: Section, x: str, c: int) -> tuple[str, int]:
        fn = getattr(self, f"l_{sec.kind}", None)
        if fn is None:
            raise UnsupportedOpError(f"darknet layer [{sec.kind}] (layer {i}) is not supported",
                                     where=f"{self.where}:{sec.line}",
                                     fix=f"supported: {', '.join(supported_layers())}; or export the model to ONNX")
        return fn(i, sec, x, c)

    def l_convolutional(self, i, sec, x, c):
        name = f"conv_{i}"
        n, size, stride = sec.i("filters", 1), sec.i("size", 1), sec.i("stride", 1)
        groups = sec.i("groups", 1)
        pad = size // 2 if sec.i("pad", 0) else sec.i("padding", 0)
        bn = sec.i("batch_normalize", 0)
        if c % groups or n % groups:
            raise ModelLoadError(f"layer {i}: groups={groups} does not divide {c} input / {n} output channels",
                                 where=f"{self.where}:{sec.line}", fix="check filters= and groups=")
        bias = self.w.take(n, name)
        if bn:
            scales, mean, var = self.w.take(n, name), self.w.take(n, name), self.w.take(n, name)
        wts = self.w.take(n * (c // groups) * size * size, name).reshape(n, c // groups, size, size)
        ins = [x, self.b.const(f"{name}_W", wts)] + ([] if bn else [self.b.const(f"{name}_B", bias)])
        y = self.b.tmp(name)
        self.b.node("Conv", ins, [y], name, kernel_shape=[size, size], strides=[stride, stride],
                    pads=[pad] * 4, group=groups, dilations=[sec.i("dilation", 1)] * 2)
        if bn:
            z = self.b.tmp(f"{name}_bn")
            std = np.sqrt(var) + np.float32(BN_EPS)
            self.b.node("BatchNormalization", [y, self.b.const(f"{name}_scale", scales),
                                               self.b.const(f"{name}_bias", bias),
                                               self.b.const(f"{name}_mean", mean),
                                               self.b.const(f"{name}_var", (std * std).astype(np.float32))],
                        [z], name, epsilon=0.0)
            y = z
        return self._act(y, sec.s("activation", "logistic"), name, sec), n

    def l_connected(self, i, sec, x, c):
        name = f"fc_{i}"
        n = sec.i("output", 1)
        flat = self.b.tmp(f"{name}_flat")
        self.b.node("Flatten", [x], [flat], name, axis=1)
        k = int(np.prod(self.b.shape(flat)[1:]))
        bias = self.w.take(n, name)
        wts = self.w.take(n * k, name).reshape(n, k)
        if sec.i("batch_normalize", 0):
            raise UnsupportedOpError(f"batch_normalize on [connected] layer {i} is not supported",
                                     where=f"{self.where}:{sec.line}", fix="fold the BN into the weights")
        y = self.b.tmp(name)
        self.b.node("Gemm", [flat, self.b.const(f"{name}_W", wts), self.b.const(f"{name}_B", bias)], [y], name,
                    transB=1)
        # keep NCHW-shaped so a following layer sees (N, C, 1, 1) as darknet does
        z = self.b.tmp(f"{name}_4d")
        self.b.node("Reshape", [self._act(y, sec.s("activation", "logistic"), name, sec),
                                self.b.const(f"{name}_shape", np.array([0, n, 1, 1], np.int64))], [z], name)
        return z, n

    def l_maxpool(self, i, sec, x, c):
        name = f"pool_{i}"
        size = sec.i("size", 1)
        stride = sec.i("stride", size)
        padding = sec.i("padding", size - 1)
        y = self.b.tmp(name)
        lo, hi = padding // 2, padding - padding // 2
        self.b.node("MaxPool", [x], [y], name, kernel_shape=[size, size], strides=[stride, stride],
                    pads=[lo, lo, hi, hi])
        return y, c

    def l_avgpool(self, i, sec, x, c):
        y = self.b.tmp(f"avgpool_{i}")
        self.b.node("GlobalAveragePool", [x], [y], f"avgpool_{i}")
        return y, c

    def l_dropout(self, i, sec, x, c):
        return x, c

    def l_softmax(self, i, sec, x, c):
        y = self.b.tmp(f"softmax_{i}")
        self.b.node("Softmax", [x], [y], f"softmax_{i}", axis=1)
        return y, c

    def l_route(self, i, sec, x, c):
        name = f"route_{i}"
        idx = [self._index(r.strip(), i, sec) for r in sec.s("layers", "").split(",") if r.strip()]
        if not idx:
            raise ModelLoadError(f"[route] layer {i} has no layers=", where=f"{self.where}:{sec.line}",
                                 fix="give layers=-1,8 style indices")
        ins, ch = [self.outs[k] for k in idx], sum(self.chans[k] for k in idx)
        y = ins[0]
        if len(ins) > 1:
            y = self.b.tmp(name)
            self.b.node("Concat", ins, [y], name, axis=1)
        groups, gid = sec.i("groups", 1), sec.i("group_id", 0)
        if groups > 1:      # yolov4-tiny: keep channel slice group_id of `groups`
            part = ch // groups
            z = self.b.tmp(f"{name}_group")
            self.b.node("Slice", [y, self.b.const(f"{name}_start", np.array([gid * part], np.int64)),
                                  self.b.const(f"{name}_end", np.array([(gid + 1) * part], np.int64)),
                                  self.b.const(f"{name}_axis", np.array([1], np.int64))], [z], name)
            return z, part
        if len(ins) == 1:
            z = self.b.tmp(name)
            self.b.node("Identity", [y], [z], name)
            y = z
        return y, ch

    def l_shortcut(self, i, sec, x, c):
        name = f"shortcut_{i}"
        k = self._index(sec.s("from", "-1").split(",")[0], i, sec)
        if self.chans[k] != c:
            raise UnsupportedOpError(f"[shortcut] layer {i} adds {self.chans[k]} channels to {c}",
                                     where=f"{self.where}:{sec.line}", fix="only same-shape shortcuts are supported")
        y = self.b.tmp(name)
        self.b.node("Add", [x, self.outs[k]], [y], name)
        return self._act(y, sec.s("activation", "linear"), name, sec), c

    def l_upsample(self, i, sec, x, c):
        name = f"upsample_{i}"
        s = float(sec.i("stride", 2))
        y = self.b.tmp(name)
        self.b.node("Resize", [x, "", self.b.const(f"{name}_scales", np.array([1, 1, s, s], np.float32))], [y], name,
                    mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        return y, c

    def l_yolo(self, i, sec, x, c):
        kind = "yolo" if sec.kind == "yolo" else "region"
        y = self.b.tmp(f"{kind}_{i}")
        self.b.node("Identity", [x], [y], f"{kind}_{i}")
        self.heads.append(y)
        return y, c

    l_region = l_yolo


def supported_layers() -> list[str]:
    return sorted(n[2:] for n in dir(_Lower) if n.startswith("l_"))


def load(model: str | os.PathLike, weight: str | os.PathLike) -> Graph:
    cfg, wpath = Path(model), Path(weight) if weight is not None else None
    if not cfg.is_file():
        raise ModelLoadError(f"darknet cfg not found: {cfg}", fix="check the model= path passed to load_darknet()")
    if wpath is None or not wpath.is_file():
        raise ModelLoadError(f"darknet weights not found: {wpath}",
                             fix="check the weight= path passed to load_darknet()")
    where = str(cfg)
    sections = parse_cfg(cfg.read_text(errors="replace"), where)
    net = sections[0]
    h, w, c = net.i("height", 416), net.i("width", 416), net.i("channels", 3)
    b = OnnxBuilder(cfg.stem, where)
    weights = _Weights(wpath)
    lower = _Lower(b, weights, where)
    x = b.input("data", [1, c, h, w])
    for i, sec in enumerate(sections[1:]):
        x, c = lower.run(i, sec, x, c)
        lower.outs.append(x)
        lower.chans.append(c)
    if weights.pos != weights.values.size:
        raise ModelLoadError(f"the .weights file holds {weights.values.size} values, the cfg uses {weights.pos}",
                             where=str(wpath),
                             fix="use the .weights trained with this .cfg (same filters, classes and anchors)")
    return b.finish(lower.heads or [x])
