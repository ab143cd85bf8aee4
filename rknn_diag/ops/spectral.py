"""DFT (opset 17: axis attribute; 20: axis input) and STFT (opset 17). Signals carry a last
axis of size 1 (real) or 2 (real, imaginary); outputs always have 2. Computed with numpy's
FFT in float64 and returned in the input's float type."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from .registry import register


def _complex(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.shape[-1] == 1:
        return x[..., 0].astype(np.complex128)
    if x.shape[-1] == 2:
        return x[..., 0] + 1j * x[..., 1]
    raise UnsupportedOpError(f"DFT/STFT signal's last axis must be 1 (real) or 2 (complex), got {x.shape[-1]}",
                             fix="append a size-1 axis to a real signal")


def _pairs(z: np.ndarray, like: np.ndarray) -> np.ndarray:
    dt = like.dtype if like.dtype.kind == "f" else np.float32
    return np.stack([z.real, z.imag], axis=-1).astype(dt)


@register("DFT", dtypes=("float32", "float16", "float64"), values={"inverse": (0, 1), "onesided": (0, 1)})
def dft(input, dft_length=None, axis_=None, *, axis=1, inverse=0, onesided=0, opset=20):
    """Discrete Fourier transform along one signal axis; onesided keeps the n // 2 + 1 unique bins
    (with inverse: the real inverse of such a one-sided spectrum)."""
    x = np.asarray(input)
    a = axis if opset < 20 else (-2 if axis_ is None else int(np.asarray(axis_).reshape(-1)[0]))
    a = a % x.ndim
    if a == x.ndim - 1:
        raise UnsupportedOpError("DFT axis is the real/imaginary axis", fix="give the signal axis")
    z = _complex(x)
    if inverse and onesided:
        # Inverse of a one-sided spectrum: a real signal of dft_length (default 2 * (bins - 1)).
        n = 2 * (z.shape[a] - 1) if dft_length is None else int(np.asarray(dft_length).reshape(-1)[0])
        dt = x.dtype if x.dtype.kind == "f" else np.float32
        return np.fft.irfft(z, n=n, axis=a)[..., None].astype(dt)
    n = z.shape[a] if dft_length is None else int(np.asarray(dft_length).reshape(-1)[0])
    y = np.fft.ifft(z, n=n, axis=a) if inverse else np.fft.fft(z, n=n, axis=a)
    if onesided:
        y = np.take(y, np.arange(n // 2 + 1), axis=a)
    return _pairs(y, x)


@register("STFT", dtypes=("float32", "float16", "float64"), values={"onesided": (0, 1)})
def stft(signal, frame_step, window=None, frame_length=None, *, onesided=1):
    """Short-time Fourier transform: [batch, frames, bins, 2] of windowed frames every frame_step."""
    x = np.asarray(signal)
    z = _complex(x)                                            # [B, L]
    step = int(np.asarray(frame_step).reshape(-1)[0])
    if frame_length is not None:
        n = int(np.asarray(frame_length).reshape(-1)[0])
    elif window is not None:
        n = int(np.asarray(window).size)
    else:
        raise UnsupportedOpError("STFT needs a window or a frame_length", fix="give one of them")
    w = np.ones(n) if window is None else np.asarray(window, np.float64).reshape(-1)
    if w.size != n or step < 1 or n > z.shape[1]:
        raise UnsupportedOpError(f"STFT frame_length {n}, window {w.size}, step {step} do not fit a signal of "
                                 f"{z.shape[1]}", fix="window length = frame_length <= signal length, step >= 1")
    frames = 1 + (z.shape[1] - n) // step
    starts = np.arange(frames) * step
    seg = z[:, starts[:, None] + np.arange(n)[None, :]] * w    # [B, F, n]
    y = np.fft.fft(seg, axis=-1)
    if onesided:
        y = y[..., : n // 2 + 1]
    return _pairs(y, x)
