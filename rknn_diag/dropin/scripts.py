"""A vendor-shaped script run twice: unchanged on rknn-toolkit2, and on ours with only its
`rknn.` imports renamed to `rknn_diag.` (the drop-in claim). Each run is its own process with a
timeout (the vendor's native code can crash or hang its process), in its own copy of the example
folder; a script leaves its outputs as `out_<k>.npy` and, where it computes one, the float32
reference as `ref_<k>.npy`. `judge` decides what a difference means, by `rknn_diag.outcome`'s
categories."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import outcome
from ..compare import metrics

# `import rknn`, `from rknn.api import RKNN`, `from rknn.utils import onnx_edit` — not rknnlite.
_IMPORT = re.compile(r"^(\s*)(from|import)(\s+)rknn(?=[.\s]|$)", re.M)
# What the vendor says when it declines something on purpose (toolkit2.classify's refusals).
_REFUSAL = re.compile(r"not support|unsupport|invalid|please (set|use)", re.I)


def rename_imports(text: str) -> str:
    return _IMPORT.sub(r"\1\2\3rknn_diag", text)


@dataclass
class ScriptRun:
    who: str                                     # "ours" | "vendor"
    returncode: int | None                       # None: killed at the timeout
    log: str
    outputs: list[np.ndarray] = field(default_factory=list)
    refs: list[np.ndarray] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, n: int = 8) -> str:
        return "\n".join([ln for ln in self.log.splitlines() if ln.strip()][-n:])


def run_script(script: Path, folder: Path, python: list[str], *, ours: bool, timeout: float = 300) -> ScriptRun:
    """Copy `folder` next to itself, put the script in (imports renamed for ours) and run it there."""
    who = "ours" if ours else "vendor"
    work = folder.with_name(f"{folder.name}-{who}")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work)
    text = Path(script).read_text(encoding="utf-8")
    (work / Path(script).name).write_text(rename_imports(text) if ours else text, encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([*python, Path(script).name], cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        raw, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raw, _ = proc.communicate()
        rc = None
    log = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw.decode("utf-8", "replace"))

    def numbered(prefix: str) -> list[np.ndarray]:
        files = sorted(work.glob(f"{prefix}_*.npy"), key=lambda p: int(p.stem.split("_")[1]))
        return [np.load(p, allow_pickle=False) for p in files]

    return ScriptRun(who, rc, log, numbered("out") if rc == 0 else [], numbered("ref") if rc == 0 else [])


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(metrics(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel())["cosine"])


def judge(ours: ScriptRun, vendor: ScriptRun, agree: float) -> tuple[str | None, str, dict]:
    """(category or None when they agree, message, per-output metrics).

    Ours failing is a product failure; the vendor failing is a vendor refusal when its log says
    it declines the input on purpose, else a vendor finding (a crash or a timeout included).
    Where both ran, every output pair must reach cosine `agree`; where one does not, the side
    further from the float32 reference (`ref_<k>.npy`) is to blame — ours no further than the
    vendor makes it a vendor finding."""
    if not ours.ok:
        what = "timed out" if ours.returncode is None else f"exited with {ours.returncode}"
        return outcome.PRODUCT, f"the script with rknn_diag {what}:\n{ours.tail()}", {}
    if not vendor.ok:
        if vendor.returncode is None or vendor.returncode < 0:
            how = "hung (killed at the timeout)" if vendor.returncode is None else f"died (signal {-vendor.returncode})"
            return outcome.VENDOR, f"rknn-toolkit2 {how}:\n{vendor.tail()}", {}
        errors = "\n".join(ln for ln in vendor.log.splitlines() if ln.startswith("E ")) or vendor.tail()
        category = outcome.UNSUPPORTED if _REFUSAL.search(errors) else outcome.VENDOR
        return category, f"rknn-toolkit2 failed the script (exit {vendor.returncode}):\n{errors[-1500:]}", {}
    if len(ours.outputs) != len(vendor.outputs):
        return outcome.PRODUCT, (f"ours wrote {len(ours.outputs)} outputs, the vendor {len(vendor.outputs)}"), {}
    found: dict[str, float] = {}
    for k, (a, b) in enumerate(zip(ours.outputs, vendor.outputs)):
        if a.size != b.size:
            return outcome.PRODUCT, f"output {k}: ours has shape {a.shape}, the vendor {b.shape}", found
        found[f"cosine_{k}"] = cos = _cos(a, b)
        if cos >= agree:
            continue
        ref = ours.refs[k] if k < len(ours.refs) else None
        if ref is None:
            return outcome.PRODUCT, f"output {k}: cosine {cos:.6f} to the vendor < {agree} and no reference to judge", found
        found[f"ours_vs_ref_{k}"], found[f"vendor_vs_ref_{k}"] = d_ours, d_vendor = _cos(a, ref), _cos(b, ref)
        blame = outcome.VENDOR if d_ours >= d_vendor else outcome.PRODUCT
        return blame, (f"output {k}: cosine {cos:.6f} between ours and the vendor < {agree}; against float32 "
                       f"ours {d_ours:.6f}, the vendor {d_vendor:.6f}"), found
    return None, "agree", found
