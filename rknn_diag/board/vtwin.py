"""How a virtual board runs a vendor-built `.rknn` (`--target board --converter toolkit2`).

No x86 runtime executes a vendor `.rknn`: rknn-toolkit2 2.5.0 refuses to simulate a loaded
file ("RKNN model that loaded by 'load_rknn' not support inference on the simulator"). So when
RKNN_DIAG_VENDOR_TWINS names a folder, the host's toolkit2 converter records there what each
vendor file was built from (keyed by the file's sha256: the source model copied in and the build
spec), and a virtual board runs that *twin* through rknn-toolkit2's simulator — the same vendor
build, computed on the host. The vendor file itself still crosses adb and is checked here to be a
vendor file whose bytes the host recorded; one without a twin fails like a runtime that cannot
load it. Real boards never look at any of this (rknn-toolkit-lite2 runs the file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

ENV = "RKNN_DIAG_VENDOR_TWINS"
VENDOR_MAGIC = b"RKNN\x00"      # the first bytes of every rknn-toolkit2 2.5.0 .rknn seen here


def _sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_vendor_file(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(len(VENDOR_MAGIC)) == VENDOR_MAGIC


def record(rknn_path: str, model_path: str, spec, chip: str | None) -> None:
    """Host side: remember what `rknn_path` was built from (only when ENV is set)."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    digest = _sha256(rknn_path)
    twin = Path(folder) / digest
    twin.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, twin / "model.onnx")
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    if fields.get("dataset"):
        fields["dataset"] = os.path.abspath(fields["dataset"])
    (twin / "spec.json").write_text(json.dumps({"chip": chip, "spec": fields}, default=str))


def run_twin(rknn_path: str, inputs: list, data_format: str) -> list:
    """Board side: the outputs of the vendor build recorded for this file's bytes."""
    from rknn_diag.targets.base import BuildSpec
    from rknn_diag.targets.toolkit2 import DEFAULT_PLATFORM, shared_target

    folder = os.environ.get(ENV)
    twin = Path(folder) / _sha256(rknn_path) if folder else None
    if twin is None or not (twin / "spec.json").is_file():
        raise RuntimeError("this virtual board cannot execute a vendor .rknn without its twin "
                           f"(set {ENV} for the host converter and the board to one folder)")
    saved = json.loads((twin / "spec.json").read_text())
    fields = {**saved["spec"], "data_format": data_format}
    target = shared_target(saved.get("chip") or DEFAULT_PLATFORM)
    return target.run(str(twin / "model.onnx"), BuildSpec(**fields), list(inputs)).outputs
