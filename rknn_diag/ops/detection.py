"""Detection heads: RoiAlign (opset 10/16) and NonMaxSuppression (opset 10/11).

Both follow onnxruntime, the reference the suite compares with (and the spec's evaluator
agrees): RoiAlign's max mode takes, per sample, the largest of the four weighted corner
values (w * v), then the largest over samples; NonMaxSuppression keeps boxes with a score
strictly above score_threshold and suppresses overlaps with IoU strictly above iou_threshold,
highest score first (ties: lower box index first).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import as_str, float32, out_dtype
from .registry import register

F = np.float32


def _roi_corners(img_h: int, img_w: int, y: np.ndarray, x: np.ndarray):
    """For sample positions y, x: the four (index, weight) corner pairs and a validity mask,
    with onnxruntime's clamping at the image edges."""
    valid = ~((y < -1.0) | (y > img_h) | (x < -1.0) | (x > img_w))
    y = np.maximum(y, F(0))
    x = np.maximum(x, F(0))
    y_low = np.floor(y).astype(np.int64)
    x_low = np.floor(x).astype(np.int64)
    y_edge, x_edge = y_low >= img_h - 1, x_low >= img_w - 1
    y_low = np.where(y_edge, img_h - 1, y_low)
    x_low = np.where(x_edge, img_w - 1, x_low)
    y_high = np.where(y_edge, img_h - 1, y_low + 1)
    x_high = np.where(x_edge, img_w - 1, x_low + 1)
    y = np.where(y_edge, y_low.astype(F), y)
    x = np.where(x_edge, x_low.astype(F), x)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return [(y_low, x_low, hy * hx), (y_low, x_high, hy * lx), (y_high, x_low, ly * hx), (y_high, x_high, ly * lx)], valid


@register("RoiAlign", values={"mode": ("avg", "max"),
                              "coordinate_transformation_mode": ("half_pixel", "output_half_pixel")})
def roi_align(X, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
              output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0, opset=16):
    """Average (or max) of bilinear samples on a regular grid in each output bin of each box."""
    x = float32(X)
    r = float32(rois)
    bi = np.asarray(batch_indices, np.int64).reshape(-1)
    # Before opset 16 the only behaviour was output_half_pixel (no half-pixel shift).
    half = as_str(coordinate_transformation_mode) == "half_pixel" and opset >= 16
    is_max = as_str(mode) == "max"
    C, H, W = x.shape[1:]
    ph, pw = int(output_height), int(output_width)
    out = np.zeros((r.shape[0], C, ph, pw), F)
    off = F(0.5) if half else F(0)
    for n in range(r.shape[0]):
        x1, y1, x2, y2 = (r[n] * F(spatial_scale) - off)
        rw, rh = x2 - x1, y2 - y1
        if not half:
            rw, rh = max(rw, F(1)), max(rh, F(1))
        bh, bw = F(rh / ph), F(rw / pw)
        gh = int(sampling_ratio) if sampling_ratio > 0 else int(np.ceil(rh / ph))
        gw = int(sampling_ratio) if sampling_ratio > 0 else int(np.ceil(rw / pw))
        count = max(gh * gw, 1)
        iy = (np.arange(gh, dtype=F) + F(0.5)) * bh / F(max(gh, 1))
        ix = (np.arange(gw, dtype=F) + F(0.5)) * bw / F(max(gw, 1))
        ys = (y1 + np.arange(ph, dtype=F)[:, None] * bh + iy[None, :]).astype(F)    # [ph, gh]
        xs = (x1 + np.arange(pw, dtype=F)[:, None] * bw + ix[None, :]).astype(F)    # [pw, gw]
        Y = np.broadcast_to(ys[:, None, :, None], (ph, pw, gh, gw))
        Xs = np.broadcast_to(xs[None, :, None, :], (ph, pw, gh, gw))
        corners, valid = _roi_corners(H, W, Y, Xs)
        img = x[bi[n]]
        if is_max:
            best = None
            for yy, xx, w in corners:
                v = img[:, yy, xx] * w
                best = v if best is None else np.maximum(best, v)
            best = np.where(valid, best, F(0))
            out[n] = best.max(axis=(-2, -1)) if gh * gw else 0
        else:
            acc = np.zeros((C, ph, pw, gh, gw), F)
            for yy, xx, w in corners:
                acc += img[:, yy, xx] * w
            out[n] = np.where(valid, acc, F(0)).sum(axis=(-2, -1)) / F(count)
    return out.astype(out_dtype(X), copy=False)


def _corners(boxes: np.ndarray, center: int) -> np.ndarray:
    """[N, 4] boxes -> [N, 4] as (y_min, x_min, y_max, x_max)."""
    if center:
        xc, yc, w, h = boxes.T
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    y1, x1, y2, x2 = boxes.T
    return np.stack([np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)], axis=1)


def _suppresses(a: np.ndarray, b: np.ndarray, thr: float) -> bool:
    ih = min(a[2], b[2]) - max(a[0], b[0])
    iw = min(a[3], b[3]) - max(a[1], b[1])
    if ih <= 0 or iw <= 0:
        return False
    inter = ih * iw
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = area_a + area_b - inter
    if area_a <= 0 or area_b <= 0 or union <= 0:
        return False
    return inter / union > thr


@register("NonMaxSuppression", values={"center_point_box": (0, 1)})
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None, score_threshold=None,
                        *, center_point_box=0):
    """Greedy per-class NMS; [K, 3] int64 (batch, class, box) in selection order."""
    b = float32(boxes)
    s = float32(scores)
    max_out = 0 if max_output_boxes_per_class is None else int(np.asarray(max_output_boxes_per_class).reshape(-1)[0])
    iou = 0.0 if iou_threshold is None else float(np.asarray(iou_threshold, F).reshape(-1)[0])
    thr = None if score_threshold is None else F(np.asarray(score_threshold, F).reshape(-1)[0])
    if not 0.0 <= iou <= 1.0:
        raise UnsupportedOpError(f"NonMaxSuppression iou_threshold {iou} is outside [0, 1]",
                                 fix="give an IoU threshold between 0 and 1")
    out: list[tuple[int, int, int]] = []
    if max_out <= 0:
        return np.zeros((0, 3), np.int64)
    for n in range(b.shape[0]):
        corners = _corners(b[n], center_point_box)
        for c in range(s.shape[1]):
            sc = s[n, c]
            cand = np.arange(sc.size) if thr is None else np.flatnonzero(sc > thr)
            order = cand[np.argsort(-sc[cand], kind="stable")]
            kept: list[int] = []
            for i in order:
                if len(kept) >= max_out:
                    break
                if all(not _suppresses(corners[i], corners[k], iou) for k in kept):
                    kept.append(int(i))
            out.extend((n, c, k) for k in kept)
    return np.array(out, np.int64).reshape(-1, 3)
