"""One mode's accuracy on the held-back samples, from `rknn_diag.compare.metrics` (the one
place metrics are computed): per sample the worst output, then the mean over samples (cosine,
SQNR, top-k) or the max (max abs error)."""

from __future__ import annotations

import numpy as np

from ..compare import metrics


def classifier_like(refs: list[np.ndarray]) -> bool:
    """An output of shape [N, classes] (classes > 1): top-k agreement means something there."""
    return any(np.ndim(r) == 2 and np.shape(r)[1] > 1 for r in refs)


def summarise(outputs: list[list[np.ndarray]], refs: list[list[np.ndarray]]) -> dict[str, float]:
    per_sample = []
    for outs, ref in zip(outputs, refs):
        ms = [metrics(np.asarray(o, np.float32), r, classifier=classifier_like([r])) for o, r in zip(outs, ref)]
        worst = {"cosine": min(m["cosine"] for m in ms), "sqnr_db": min(m["sqnr_db"] for m in ms),
                 "max_abs": max(m["max_abs"] for m in ms)}
        for k in ("top1", "top5"):
            vals = [m[k] for m in ms if k in m]
            if vals:
                worst[k] = min(vals)
        per_sample.append(worst)
    out = {"cosine": float(np.mean([s["cosine"] for s in per_sample])),
           "sqnr_db": float(np.mean([s["sqnr_db"] for s in per_sample])),
           "max_abs": float(max(s["max_abs"] for s in per_sample)),
           "samples": len(per_sample)}
    for k in ("top1", "top5"):
        if all(k in s for s in per_sample):
            out[k] = float(np.mean([s[k] for s in per_sample]))
    return out


def cosine(outputs: list[list[np.ndarray]], refs: list[list[np.ndarray]]) -> float:
    return summarise(outputs, refs)["cosine"]
