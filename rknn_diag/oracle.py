"""The independent oracle for quantized models: what an exported model file SHOULD compute,
written without any of the code that computes it.

It reads the exported `.rknn` file — the graph with its float weights and the stored
per-tensor / per-weight scales and zero points — and builds an ONNX model that onnxruntime
runs in float32 with fake quantization written out as plain ONNX ops at every stored tensor:
    y = (Clip(Round(x / scale) + zero_point, qmin, qmax) - zero_point) * scale
with NaN taken to qmin (Round is half-to-even, the toolkit's documented tie rule, guide §1.4.1). Weights, data
constants and int32 biases are fake-quantized here with the same formula in numpy; the bias
scale is input scale × weight scale, computed here. Layers stored as float16 (hybrid
quantization, non-finite tests) get their float values rounded to half precision.

Nothing here imports `rknn_diag.quant` or `rknn_diag.sim`: a wrong rounding rule, a wrong
bias scale or a kernel off by 1 % there shows up as a difference from this model. What this
model takes on trust from the file — the scales themselves — is checked separately against
the modes' documented parameter rules (`check_weight_scales`), so a wrong choice of scales
is caught too. The graph's passes (BN folding, fusion) are shared with the simulator; the
suite's float comparison against onnxruntime on the user's original model covers those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .ir import Graph
from .onnx_emit import GraphEmitter

# Integer ranges, from the dtype names stored in the file. Symmetric tensors drop the most
# negative code (±(2^(b-1) - 1)); guide §1.4.1.
_BITS = {"uint8": 8, "int8": 8, "int16": 16, "int4": 4, "int32": 32}

# Ops whose input 2 is a bias quantized to int32 at input scale × weight scale (when the
# weight has one scale per output channel or per layer and the input one per tensor).
_BIAS_OPS = ("Conv", "ConvTranspose", "Gemm")


def qrange(dtype: str, symmetric: bool) -> tuple[int, int]:
    bits = _BITS[dtype]
    if dtype == "uint8":
        return 0, 255
    hi = 2 ** (bits - 1) - 1
    return (-hi, hi) if symmetric else (-hi - 1, hi)


def _shaped(p: dict, ndim: int, axis_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scale and zero point of a stored parameter dict, broadcastable against rank `ndim`."""
    s = np.asarray(p["scale"], np.float32)
    z = np.asarray(p["zero_point"], np.float64)
    if p.get("axis") is None:
        return s.reshape(()), z.reshape(())
    if p.get("group") is not None:   # (out channels, groups) -> one scale per input channel on axis 1
        g = int(p["group"])
        s, z = np.repeat(s, g, axis=1), np.repeat(z, g, axis=1)
        if axis_len is not None:
            s, z = s[:, :axis_len], z[:, :axis_len]
        shape = (s.shape[0], s.shape[1]) + (1,) * (ndim - 2)
        return s.reshape(shape), z.reshape(shape)
    shape = [1] * ndim
    shape[int(p["axis"]) % ndim] = -1
    return s.reshape(shape), z.reshape(shape)


def fake_quant(x: np.ndarray, p: dict) -> np.ndarray:
    """The stored parameters applied to float values: quantize (half to even, saturate) and
    dequantize, in float64 then float32 like onnxruntime's float32 graph."""
    x = np.asarray(x, np.float32)
    s, z = _shaped(p, x.ndim, x.shape[1] if x.ndim > 1 else None)
    lo, hi = qrange(p["dtype"], bool(p.get("symmetric")))
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.clip(np.nan_to_num(np.rint(x / s) + z, nan=lo, posinf=hi, neginf=lo), lo, hi)
    return ((q - z) * s).astype(np.float32)


class _OracleBuilder(GraphEmitter):
    def __init__(self, graph: Graph, quant: dict):
        super().__init__(graph, producer="rknn_diag.oracle")
        self.tensors: dict[str, dict] = quant.get("tensors", {})
        self.weights: dict[str, dict] = quant.get("weights", {})
        self.layers: dict[str, str] = quant.get("layers", {})
        self.cur: dict[str, str] = {}

    def fq(self, tensor: str, src: str) -> str:
        """Fake quantization of float value `src` at `tensor`'s stored parameters."""
        out = f"{tensor}__o"
        if out in self.cur.values():
            return out
        p = self.tensors[tensor]
        lo, hi = qrange(p["dtype"], bool(p.get("symmetric")))
        s = self.init(f"{tensor}__os", np.asarray(p["scale"], np.float32).reshape(()))
        z = self.init(f"{tensor}__oz", np.asarray(p["zero_point"], np.float32).reshape(()))
        self.node("Div", [src, s], [f"{tensor}__od"])
        self._round(f"{tensor}__od", f"{tensor}__or")
        self.node("Add", [f"{tensor}__or", z], [f"{tensor}__oa"])
        if self.opset >= 9:
            self._clip(f"{tensor}__oa", f"{tensor}__ocl", float(lo), float(hi))
            # NaN quantizes to the lowest code (the documented NaN rule), whatever Clip makes of it
            self.node("IsNaN", [f"{tensor}__od"], [f"{tensor}__onan"])
            self.node("Where", [f"{tensor}__onan", self.init(f"__qmin{lo}", np.float32(lo)), f"{tensor}__ocl"],
                      [f"{tensor}__oc"])
        else:   # no IsNaN/Where before opset 9: such graphs get no NaN inputs in the suite
            self._clip(f"{tensor}__oa", f"{tensor}__oc", float(lo), float(hi))
        self.node("Sub", [f"{tensor}__oc", z], [f"{tensor}__ou"])
        self.node("Mul", [f"{tensor}__ou", s], [out])
        return out

    def _bias(self, n, i: int) -> np.ndarray | None:
        """Input i of n as an int32-quantized bias, or None when it is not one."""
        if i != 2 or n.op_type not in _BIAS_OPS or len(n.inputs) < 3:
            return None
        w, b, x = n.inputs[1], n.inputs[2], n.inputs[0]
        if w not in self.weights or not b or b not in self.g.constants or x not in self.tensors:
            return None
        wp, xp = self.weights[w], self.tensors[x]
        if wp.get("group") is not None or xp.get("axis") is not None or np.ndim(self.g.constants[b]) != 1:
            return None
        if n.op_type == "Gemm" and (n.attrs.get("alpha", 1.0) != 1.0 or n.attrs.get("beta", 1.0) != 1.0):
            return None
        scale = np.float64(np.asarray(xp["scale"]).reshape(())) * np.asarray(wp["scale"], np.float64)
        bp = {"scale": scale.astype(np.float32), "zero_point": np.zeros(np.shape(scale), np.int32),
              "dtype": "int32", "axis": None if np.ndim(scale) == 0 else 0, "symmetric": True}
        return fake_quant(self.g.constants[b], bp)

    def build(self):
        g = self.g
        for v in g.inputs:
            self.cur[v.name] = self.fq(v.name, v.name) if v.name in self.tensors else v.name
        for n in g.nodes:
            fp16 = self.layers.get(n.name) == "float16"
            ins = []
            for i, name in enumerate(n.inputs):
                if not name:
                    ins.append("")
                elif name in g.constants:
                    c = np.asarray(g.constants[name])
                    bias = None if fp16 else self._bias(n, i)
                    if fp16 and c.dtype.kind == "f":
                        ins.append(self.init(f"{name}__h", c.astype(np.float16).astype(np.float32)))
                    elif bias is not None:
                        ins.append(self.init(f"{name}__{n.name}__b", bias))
                    elif name in self.weights and i == 1:
                        ins.append(self.init(f"{name}__w", fake_quant(c, self.weights[name])))
                    elif name in self.tensors and c.dtype.kind == "f":
                        ins.append(self.init(f"{name}__c", fake_quant(c, self.tensors[name])))
                    else:
                        ins.append(self.init(name, c))
                elif fp16 and name in self.tensors:
                    ins.append(self.fp16(self.cur[name]))
                else:
                    ins.append(self.cur[name])
            outs = [f"{o}__f" if o else "" for o in n.outputs]
            self.emit(n, ins, outs, f"{n.outputs[0]}__e")
            for o in n.outputs:
                if not o:
                    continue
                src = f"{o}__f"
                if fp16 and o in self.tensors:
                    src = self.fp16(src)
                self.cur[o] = self.fq(o, src) if o in self.tensors and not fp16 else src
        return self.finish(f"{g.name}_oracle", self.cur, self.tensors)


class Oracle:
    """The expected outputs of an exported quantized model file.

        o = Oracle.from_file("model.rknn")
        o.run(feeds)               # graph inputs after preprocessing (NCHW, mean/std applied)
        o.output_scale(name)       # the LSB of an output, for comparing in LSBs
        o.check_weight_scales()    # [] or one message per weight whose scale breaks its rule
    """

    def __init__(self, graph: Graph, quant: dict[str, Any], mode: str):
        self.graph, self.quant, self.mode = graph, quant, mode
        self.model = _OracleBuilder(graph, quant).build()
        self._sess = None

    @classmethod
    def from_file(cls, path: str | Path) -> "Oracle":
        from .modelfile import load

        m = load(path)
        if not m.quant:
            raise ValueError(f"{path} is not a quantized model (mode {m.mode})")
        return cls(m.graph, m.quant, m.mode)

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        import onnxruntime as ort

        if self._sess is None:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            # no fusion may change what is computed: every Div/Round/Clip runs as written
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            opts.log_severity_level = 3
            self._sess = ort.InferenceSession(self.model.SerializeToString(), opts,
                                              providers=["CPUExecutionProvider"])
        names = [v.name for v in self.graph.inputs]
        return self._sess.run(None, {k: np.asarray(x) for k, x in zip(names, feeds)})

    def output_scale(self, name: str) -> float | None:
        p = self.quant.get("tensors", {}).get(name)
        return None if p is None else float(np.asarray(p["scale"]).reshape(-1)[0])

    def check_weight_scales(self) -> list[str]:
        """Each stored weight scale against its mode's rule, recomputed from the float weights:
        symmetric (w8a16, w4a16): max|w| / scale = qmax per channel/group/layer;
        dynamic fixed point: scale = 2^-fl, the finest with max|w| · 2^fl <= qmax;
        asymmetric (u8, w8a8): (max(w, 0) - min(w, 0)) / scale = 255."""
        bad = []
        for name, p in self.quant.get("weights", {}).items():
            w = np.asarray(self.graph.constants[name], np.float64)
            s = np.asarray(p["scale"], np.float64)
            lo, hi = qrange(p["dtype"], bool(p.get("symmetric")))
            if p.get("group") is not None:
                g = int(p["group"])
                pad = (-w.shape[1]) % g
                wg = np.concatenate([w, np.zeros((w.shape[0], pad, *w.shape[2:]))], axis=1)
                wg = wg.reshape(w.shape[0], wg.shape[1] // g, -1)
                wmin, wmax = wg.min(axis=2), wg.max(axis=2)
            elif p.get("axis") is not None:
                moved = np.moveaxis(w, int(p["axis"]), 0).reshape(w.shape[int(p["axis"])], -1)
                wmin, wmax = moved.min(axis=1), moved.max(axis=1)
            else:
                wmin, wmax = w.min(initial=0.0), w.max(initial=0.0)
            wmin, wmax = np.minimum(wmin, 0.0), np.maximum(wmax, 0.0)
            live = (wmax - wmin) > 0
            if not np.any(live):
                continue
            if p.get("symmetric"):
                need = np.maximum(-wmin, wmax) / hi          # the finest scale that holds max|w|
                if self.mode.startswith("dynamic_fixed_point") or self.mode == "w16a16i_dfp":
                    need = np.exp2(np.ceil(np.log2(np.where(live, need, 1.0))))
            else:
                need = (wmax - wmin) / (hi - lo)
            ratio = np.where(live, s / np.where(live, need, 1.0), 1.0)
            worst = float(np.max(np.abs(ratio - 1.0)))
            if worst > 1e-3:
                bad.append(f"weight {name}: stored scale is {float(ratio.flat[np.argmax(np.abs(ratio - 1))]):.4g}x "
                           f"the {p['dtype']} rule's scale")
        return bad
