"""NHWC frameworks (TFLite, TensorFlow) into the NCHW IR: which layout each tensor is held in.

4-D activations live in NCHW between layout-aware ops (conv, pools, elementwise, concat, pad,
resize, activations) so convolution chains stay free of transposes; an op that works on the
raw layout (reshape, transpose, matmul) asks for 'nhwc' and gets one Transpose, reused by
later readers."""

from __future__ import annotations

import numpy as np

from ._onnx_build import OnnxBuilder

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class Layouts:
    def __init__(self, b: OnnxBuilder):
        self.b = b
        self.vals: dict = {}          # tensor key -> (value, 'nchw' | 'nhwc', rank)

    def __contains__(self, key) -> bool:
        return key in self.vals

    def put(self, key, value: str, layout: str, rank: int) -> None:
        self.vals[key] = (value, layout if rank == 4 else "nhwc", rank)

    def layout(self, key) -> str:
        return self.vals[key][1]

    def rank(self, key) -> int:
        return self.vals[key][2]

    def get(self, key, layout: str, label: str) -> str:
        value, have, rank = self.vals[key]
        if rank != 4 or have == layout:
            return value
        out = self.b.tmp(f"{value}_{layout}")
        self.b.node("Transpose", [value], [out], f"{label}/to_{layout}", perm=TO_NCHW if layout == "nchw" else TO_NHWC)
        self.vals[key] = (out, layout, rank)
        return out


def nchw_constant(arr: np.ndarray) -> np.ndarray:
    """An NHWC-broadcasting constant (e.g. per-channel (C,)) as the matching NCHW constant."""
    arr = np.asarray(arr)
    return arr.reshape((1,) * (4 - arr.ndim) + arr.shape).transpose(TO_NCHW)


def same_pads(in_hw, k_hw, s_hw, d_hw) -> list[int]:
    """TensorFlow's SAME padding as ONNX pads [top, left, bottom, right] (the extra pixel at the end)."""
    begin, end = [], []
    for i, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
        out = -(-i // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - i, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end
