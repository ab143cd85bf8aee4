"""Calibration observers: what range of each float tensor to quantize (`quantized_algorithm`).

* normal: the min/max seen.
* kl_divergence: the threshold T minimising the KL divergence between the |x| histogram
  and its quantized copy (the TensorRT entropy-calibration idea); range [max(min,-T), min(max,T)].
* mmse: the range shrink factor minimising the mean squared quantization error over the
  histogram, for the tensor's own scheme.

Observers stream: they hold running min/max and a fixed-size histogram whose range
doubles (merging bin pairs, exactly) when new data falls outside, so memory does not
grow with the dataset.
"""

from __future__ import annotations

import numpy as np

from ..qrules.schemes import Scheme, dequantize, params_from_range, quantize

BINS = 2048


class Observer:
    def __init__(self, algorithm: str = "normal"):
        self.algorithm = algorithm
        self.lo = np.inf
        self.hi = -np.inf
        self.radius = 0.0
        self.hist = np.zeros(BINS, np.float64)   # over [-radius, radius]

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).reshape(-1)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))
        if self.algorithm == "normal":
            return
        amax = max(-self.lo, self.hi)
        if amax <= 0:
            return
        if self.radius == 0.0:
            self.radius = amax
        while amax > self.radius:            # double the range, merging bin pairs
            merged = self.hist.reshape(-1, 2).sum(axis=1)
            self.hist = np.zeros(BINS, np.float64)
            self.hist[BINS // 4: BINS // 4 + BINS // 2] = merged
            self.radius *= 2
        h, _ = np.histogram(x, bins=BINS, range=(-self.radius, self.radius))
        self.hist += h

    def range(self, scheme: Scheme) -> tuple[float, float]:
        if not np.isfinite(self.lo):
            return 0.0, 0.0
        if self.algorithm == "normal" or self.radius == 0.0:
            return self.lo, self.hi
        if self.algorithm == "kl_divergence":
            t = _kl_threshold(self.hist, self.radius, scheme)
            return max(self.lo, -t), min(self.hi, t)
        return _mmse_range(self.hist, self.radius, self.lo, self.hi, scheme)


def _kl_threshold(hist: np.ndarray, radius: float, scheme: Scheme) -> float:
    """Entropy calibration over |x|: fold the symmetric histogram, try thresholds."""
    half = BINS // 2
    absh = hist[half:] + hist[:half][::-1]      # bins of |x| over [0, radius]
    levels = (scheme.qrange[1] - scheme.qrange[0] + 1) // (2 if scheme.symmetric else 1)
    levels = min(levels, 128)
    width = radius / half
    nz = np.nonzero(absh)[0]
    if nz.size == 0:
        return radius
    last = int(nz[-1]) + 1
    if last <= levels:
        return last * width
    best, best_t = np.inf, last
    for t in range(levels, last + 1, max(1, (last - levels) // 64)):
        p = absh[:t].copy()
        p[t - 1] += absh[t:].sum()           # outliers clipped into the last bin
        # quantize p into `levels` buckets, expand back over the non-empty bins
        idx = (np.arange(t) * levels) // t
        sums = np.bincount(idx, weights=absh[:t], minlength=levels)
        nonzero = np.bincount(idx, weights=(absh[:t] > 0).astype(np.float64), minlength=levels)
        q = np.where(absh[:t] > 0, sums[idx] / np.maximum(nonzero[idx], 1), 0.0)
        ps, qs = p.sum(), q.sum()
        if ps == 0 or qs == 0:
            continue
        pn, qn = p / ps, q / qs
        mask = pn > 0
        kl = float(np.sum(pn[mask] * np.log(pn[mask] / np.maximum(qn[mask], 1e-12))))
        if kl < best:
            best, best_t = kl, t
    return best_t * width


def _mmse_range(hist: np.ndarray, radius: float, lo: float, hi: float, scheme: Scheme) -> tuple[float, float]:
    centers = (np.arange(BINS) + 0.5) * (2 * radius / BINS) - radius
    keep = hist > 0
    c, w = centers[keep].astype(np.float32), hist[keep]
    best, best_r = np.inf, (lo, hi)
    for a in np.linspace(0.3, 1.0, 36):
        qp = params_from_range(lo * a, hi * a, scheme)
        err = float(np.sum(w * (dequantize(quantize(c, qp), qp) - c).astype(np.float64) ** 2))
        if err < best:
            best, best_r = err, (lo * a, hi * a)
    return best_r
