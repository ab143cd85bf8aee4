"""Reference runs (onnxruntime) and comparison metrics, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import tolerances


def reference(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run the original model (path, bytes or ModelProto) in onnxruntime on the CPU, 1 thread."""
    import onnxruntime as ort

    if not isinstance(model, (str, bytes)):
        model = model.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def reference_onnx(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run the model in onnx's ReferenceEvaluator: for ops or forms onnxruntime lacks or
    implements against the spec (each case that uses it says why)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    if isinstance(model, str):
        model = onnx.load(model)
    elif isinstance(model, bytes):
        model = onnx.load_from_string(model)
    return [np.asarray(o) for o in ReferenceEvaluator(model).run(None, feeds)]


REFERENCES = {"onnxruntime": reference, "onnx": reference_onnx}


def metrics(got: np.ndarray, ref: np.ndarray, topk: int = 5, classifier: bool = False) -> dict[str, float]:
    """cosine, Euclidean (raw and of the unit vectors), max/mean abs error, SQNR dB, and
    for classifier outputs ([N, classes]) top-1 / top-k agreement. Only for classifiers:
    on other 2-D tensors near-ties make top-k meaningless."""
    a = np.asarray(got, np.float64).reshape(-1)
    b = np.asarray(ref, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: got {np.shape(got)}, reference {np.shape(ref)}")
    finite = bool(np.isfinite(a).all())
    diff = a - b
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        cos = 1.0
    elif na == 0 or nb == 0:
        cos = 0.0
    else:
        cos = float(np.dot(a, b) / (na * nb))
    noise = float(np.sum(diff ** 2))
    out = {
        "cosine": cos,
        "euclidean": float(np.sqrt(noise)),
        "euclidean_norm": float(np.linalg.norm(a / na - b / nb)) if na and nb else float(na != nb),
        "max_abs": float(np.max(np.abs(diff))) if a.size else 0.0,
        "mean_abs": float(np.mean(np.abs(diff))) if a.size else 0.0,
        "sqnr_db": float(10 * np.log10(np.sum(b ** 2) / noise)) if noise > 0 and np.any(b) else float("inf"),
        "finite": float(finite),
    }
    if classifier and np.ndim(ref) == 2 and np.shape(ref)[1] > 1:
        g2, r2 = np.asarray(got).reshape(np.shape(ref)), np.asarray(ref)
        out["top1"] = float(np.mean(np.argmax(g2, 1) == np.argmax(r2, 1)))
        k = min(topk, r2.shape[1])
        gk, rk = np.argsort(-g2, 1)[:, :k], np.argsort(-r2, 1)[:, :k]
        out[f"top{k}"] = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(gk, rk)]))
    return out


@dataclass
class Verdict:
    ok: bool
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""


def check_float16(outputs: list[np.ndarray], refs: list[np.ndarray], names: list[str] | None = None,
                  classifier: bool = False) -> Verdict:
    """The float16 rule of `tolerances`, per output; worst metrics reported."""
    names = names or [f"output{i}" for i in range(len(refs))]
    if len(outputs) != len(refs):
        return Verdict(False, {}, f"{len(outputs)} outputs, reference has {len(refs)}")
    worst: dict[str, float] = {}
    problems = []
    for name, got, ref in zip(names, outputs, refs):
        got, ref = np.asarray(got), np.asarray(ref)
        if got.shape != ref.shape:
            problems.append(f"{name}: shape {list(got.shape)} != reference {list(ref.shape)}")
            continue
        if ref.dtype.kind not in "fc":
            if not np.array_equal(got.astype(ref.dtype), ref):
                bad = int(np.sum(got.astype(ref.dtype) != ref))
                problems.append(f"{name}: {bad} of {ref.size} {ref.dtype} elements differ")
            continue
        m = metrics(got, ref, classifier=classifier)
        for k, v in m.items():
            worst[k] = min(worst.get(k, v), v) if k in ("cosine", "sqnr_db", "finite") or k.startswith("top") \
                else max(worst.get(k, v), v)
        g64, r64 = got.astype(np.float64), ref.astype(np.float64)
        nan_ok = np.isnan(g64) == np.isnan(r64)
        with np.errstate(invalid="ignore"):
            close = np.isclose(g64, r64, rtol=tolerances.FLOAT16_RTOL, atol=tolerances.FLOAT16_ATOL,
                               equal_nan=True) & nan_ok
        finite = np.isfinite(r64) & np.isfinite(g64)
        if finite.any():   # the same rule on the output as a whole, scaled to its magnitude
            err = float(np.sqrt(np.mean((g64[finite] - r64[finite]) ** 2)))
            size = max(float(np.sqrt(np.mean(r64[finite] ** 2))), tolerances.FP16_MIN_NORMAL)
            worst["rel_rms"] = max(worst.get("rel_rms", 0.0), err / size)
            if err > tolerances.FLOAT16_REL_RMS * size:
                problems.append(f"{name}: RMS error {err:.3g} is {err / size:.2%} of the output's RMS "
                                f"{size:.3g} (at most {tolerances.FLOAT16_REL_RMS:.2%})")
        if not close.all():
            idx = np.unravel_index(int(np.argmin(close.reshape(-1))), close.shape) if close.ndim else ()
            problems.append(f"{name}: {int((~close).sum())} of {close.size} elements outside "
                            f"{tolerances.FLOAT16_ATOL:g}+{tolerances.FLOAT16_RTOL:g}*|ref|, e.g. at "
                            f"{list(map(int, idx))} got {g64[idx]!r} want {r64[idx]!r}")
    return Verdict(not problems, worst, "; ".join(problems))
