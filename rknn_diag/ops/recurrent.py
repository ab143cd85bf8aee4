"""RNN, GRU and LSTM (opset 7-22): every direction, activation (with activation_alpha/beta),
clip, sequence_lens, initial states, LSTM peepholes and input_forget, GRU linear_before_reset,
both layouts. One time loop (`_scan`) serves the three; each op supplies its cell.

Gate orders are ONNX's: LSTM i, o, f, c (peepholes i, o, f); GRU z, r, h. Batch entries whose
sequence is shorter than the tensor stop early: their Y rows are 0 past their length and
Y_h/Y_c hold their last valid state; the reverse direction runs each sequence from its own
last element. Computed in float32.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, float32, out_dtype
from .registry import register

F = np.float32

# name -> (f(x, alpha, beta), default alpha, default beta); None: the function takes no such value.
_ACTS: dict[str, tuple[Callable, float | None, float | None]] = {
    "relu": (lambda x, a, b: np.maximum(x, F(0)), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: F(1) / (F(1) + np.exp(-x)), None, None),
    "affine": (lambda x, a, b: F(a) * x + F(b), 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, F(a) * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x > F(a), x, F(0)), 1.0, None),
    "scaledtanh": (lambda x, a, b: F(a) * np.tanh(F(b) * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(F(a) * x + F(b), F(0), F(1)), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, F(a) * (np.exp(np.minimum(x, F(0))) - F(1))), 1.0, None),
    "softsign": (lambda x, a, b: x / (F(1) + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(F(0), x).astype(F), None, None),
}
DIRECTIONS = ("forward", "reverse", "bidirectional")


def _activations(names, alphas, betas, count: int, default: list[str], op: str) -> list[Callable]:
    """`count` activation callables; alphas/betas are consumed in order by the functions that
    take them (as onnxruntime does), the others use their defaults."""
    names = [as_str(n) for n in (names or default * (count // len(default)))]
    if len(names) != count:
        raise UnsupportedOpError(f"{op} has {len(names)} activations; it needs {count}",
                                 fix="give one set of activations per direction")
    alphas, betas = list(alphas or []), list(betas or [])
    out = []
    for n in names:
        key = n.lower()
        if key not in _ACTS:
            raise UnsupportedOpError(f"{op} activation {n!r} is not supported",
                                     fix=f"use one of {', '.join(sorted(_ACTS))}")
        fn, da, db = _ACTS[key]
        a = alphas.pop(0) if da is not None and alphas else da
        b = betas.pop(0) if db is not None and betas else db
        out.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b).astype(F, copy=False))
    return out


def _check(per_direction: int):
    """Load-time check of a recurrent node: known activation names, a count that fits the
    direction, an ONNX direction value."""

    def check(inputs, attrs) -> None:
        direction = as_str(attrs.get("direction", "forward"))
        if direction not in DIRECTIONS:
            raise UnsupportedOpError(f"direction {direction!r} is not an ONNX value",
                                     fix=f"use one of {', '.join(DIRECTIONS)}")
        names = [as_str(n) for n in attrs.get("activations") or []]
        for n in names:
            if n.lower() not in _ACTS:
                raise UnsupportedOpError(f"activation {n!r} is not supported",
                                         fix=f"use one of {', '.join(sorted(_ACTS))}")
        want = per_direction * (2 if direction == "bidirectional" else 1)
        if names and len(names) != want:
            raise UnsupportedOpError(f"{len(names)} activations given; {direction} needs {want}",
                                     fix="give one set of activations per direction")

    return check


def _scan(X, seq_lens, states: list[np.ndarray], cell, reverse: bool):
    """Run `cell(x_t, states) -> new states` over time for one direction.

    X [T, B, I]; states: list of [B, H] arrays (h first). Returns Y [T, B, H] and the final states."""
    T, B = X.shape[0], X.shape[1]
    lens = np.full(B, T, np.int64) if seq_lens is None else np.asarray(seq_lens, np.int64).reshape(B)
    H = states[0].shape[-1]
    Y = np.zeros((T, B, H), F)
    for step in range(T):
        active = step < lens                      # [B]: this batch entry still has input
        if not active.any():
            break
        # Forward reads t = step; reverse reads each sequence from its own end.
        t = np.where(active, lens - 1 - step, 0) if reverse else np.full(B, step)
        x_t = X[t, np.arange(B)]
        new = cell(x_t, states)
        m = active[:, None]
        states = [np.where(m, n, s) for n, s in zip(new, states)]
        Y[t[active], np.arange(B)[active]] = states[0][active]
    return Y, states


def _prepare(X, initial, layout: int, n_dir: int, H: int, n_states: int):
    """X as [T, B, I] float32 and the initial states per direction ([B, H] each)."""
    x = float32(X)
    if layout:
        x = x.transpose(1, 0, 2)
    B = x.shape[1]
    out = []
    for init in initial[:n_states]:
        if init is None:
            out.append(np.zeros((n_dir, B, H), F))
        else:
            s = float32(init)
            out.append(s.transpose(1, 0, 2) if layout else s)
    return x, out


def _finish(X, Ys, finals: list[list[np.ndarray]], layout: int):
    """Y [T, D, B, H] (layout 1: [B, T, D, H]) and each final state [D, B, H] (layout 1: [B, D, H])."""
    dt = out_dtype(X)
    Y = np.stack(Ys, axis=1)
    outs = [Y.transpose(2, 0, 1, 3) if layout else Y]
    for k in range(len(finals[0])):
        s = np.stack([f[k] for f in finals], axis=0)
        outs.append(s.transpose(1, 0, 2) if layout else s)
    return tuple(np.ascontiguousarray(o).astype(dt, copy=False) for o in outs)


def _directions(direction) -> list[bool]:
    d = as_str(direction)
    return {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[d]


def _gates(x_t, h, W, R, Wb, Rb, clip):
    g = x_t @ W.T + h @ R.T + Wb + Rb
    return np.clip(g, F(-clip), F(clip)) if clip is not None else g


def _bias(B, d: int, n: int, H: int):
    if B is None:
        return np.zeros(n * H, F), np.zeros(n * H, F)
    b = float32(B)[d]
    return b[:n * H], b[n * H:]


@register("RNN", values={"direction": DIRECTIONS, "layout": (0, 1)}, check=_check(1))
def rnn(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    """Elman RNN: H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)."""
    dirs = _directions(direction)
    Wf, Rf = float32(W), float32(R)
    H = Rf.shape[-1]
    acts = _activations(activations, activation_alpha, activation_beta, len(dirs), ["Tanh"], "RNN")
    x, (h0,) = _prepare(X, [initial_h], layout, len(dirs), H, 1)
    Ys, finals = [], []
    for d, rev in enumerate(dirs):
        Wb, Rb = _bias(B, d, 1, H)
        f = acts[d]

        def cell(x_t, st, d=d, Wb=Wb, Rb=Rb, f=f):
            return [f(_gates(x_t, st[0], Wf[d], Rf[d], Wb, Rb, clip))]

        Y, st = _scan(x, sequence_lens, [h0[d]], cell, rev)
        Ys.append(Y)
        finals.append(st)
    return _finish(X, Ys, finals, layout)


@register("GRU", values={"direction": DIRECTIONS, "layout": (0, 1), "linear_before_reset": (0, 1)},
          check=_check(2))
def gru(X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0):
    """GRU, gates z, r, h; linear_before_reset applies r after R_h (as cuDNN/PyTorch)."""
    dirs = _directions(direction)
    Wf, Rf = float32(W), float32(R)
    H = Rf.shape[-1]
    acts = _activations(activations, activation_alpha, activation_beta, 2 * len(dirs), ["Sigmoid", "Tanh"], "GRU")
    x, (h0,) = _prepare(X, [initial_h], layout, len(dirs), H, 1)
    Ys, finals = [], []
    for d, rev in enumerate(dirs):
        Wb, Rb = _bias(B, d, 3, H)
        f, g = acts[2 * d], acts[2 * d + 1]
        Wz, Wr, Wh = np.split(Wf[d], 3)
        Rz, Rr, Rh = np.split(Rf[d], 3)
        (wbz, wbr, wbh), (rbz, rbr, rbh) = np.split(Wb, 3), np.split(Rb, 3)

        def cell(x_t, st, f=f, g=g, Wz=Wz, Wr=Wr, Wh=Wh, Rz=Rz, Rr=Rr, Rh=Rh, wbz=wbz, wbr=wbr, wbh=wbh,
                 rbz=rbz, rbr=rbr, rbh=rbh):
            h = st[0]
            z = f(_gates(x_t, h, Wz, Rz, wbz, rbz, clip))
            r = f(_gates(x_t, h, Wr, Rr, wbr, rbr, clip))
            if linear_before_reset:
                pre = x_t @ Wh.T + r * (h @ Rh.T + rbh) + wbh
            else:
                pre = x_t @ Wh.T + (r * h) @ Rh.T + rbh + wbh
            if clip is not None:
                pre = np.clip(pre, F(-clip), F(clip))
            hh = g(pre)
            return [(F(1) - z) * hh + z * h]

        Y, st = _scan(x, sequence_lens, [h0[d]], cell, rev)
        Ys.append(Y)
        finals.append(st)
    return _finish(X, Ys, finals, layout)


@register("LSTM", values={"direction": DIRECTIONS, "layout": (0, 1), "input_forget": (0, 1)},
          check=_check(3))
def lstm(X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *, activation_alpha=None,
         activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None, input_forget=0,
         layout=0):
    """LSTM, gates i, o, f, c; peepholes P (i, o, f); input_forget couples f = 1 - i."""
    dirs = _directions(direction)
    Wf, Rf = float32(W), float32(R)
    H = Rf.shape[-1]
    acts = _activations(activations, activation_alpha, activation_beta, 3 * len(dirs),
                        ["Sigmoid", "Tanh", "Tanh"], "LSTM")
    x, (h0, c0) = _prepare(X, [initial_h, initial_c], layout, len(dirs), H, 2)
    Ys, finals = [], []
    for d, rev in enumerate(dirs):
        Wb, Rb = _bias(B, d, 4, H)
        f, g, hf = acts[3 * d: 3 * d + 3]
        p = np.zeros(3 * H, F) if P is None else float32(P)[d]
        pi, po, pf = np.split(p, 3)

        def cell(x_t, st, d=d, Wb=Wb, Rb=Rb, f=f, g=g, hf=hf, pi=pi, po=po, pf=pf):
            h, c = st
            gi, go, gf, gc = np.split(x_t @ Wf[d].T + h @ Rf[d].T + Wb + Rb, 4, axis=-1)
            cl = (lambda v: np.clip(v, F(-clip), F(clip))) if clip is not None else (lambda v: v)
            i = f(cl(gi + pi * c))
            fg = F(1) - i if input_forget else f(cl(gf + pf * c))
            cc = g(cl(gc))
            c_new = fg * c + i * cc
            o = f(cl(go + po * c_new))
            return [o * hf(c_new), c_new]

        Y, st = _scan(x, sequence_lens, [h0[d], c0[d]], cell, rev)
        Ys.append(Y)
        finals.append(st)
    return _finish(X, Ys, finals, layout)
