"""Run a one-node ONNX model through the kernel registry and through onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx

# One harness for running a one-node model through the registry and onnxruntime.
from .tensor_harness import decode_attrs as node_attrs, run_ort, run_ours as run_kernel  # noqa: F401


def assert_matches_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol=1e-4, atol=1e-4,
                       reference: str = "onnxruntime") -> None:
    """Same outputs as onnxruntime, or the case's own reference (shape, dtype, values); the kernel
    neither changes nor aliases its inputs."""
    from rknn_diag.compare import reference_onnx

    want = run_ort(model, feeds) if reference == "onnxruntime" else reference_onnx(model, feeds)
    before = {k: v.copy() for k, v in feeds.items()}
    got = run_kernel(model, feeds)
    for k, v in feeds.items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"the kernel modified its input {k}")
        assert not any(np.shares_memory(g, v) for g in got), f"an output aliases input {k}"
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.shape == w.shape, f"output {i}: shape {g.shape} != onnxruntime {w.shape}"
        assert g.dtype == w.dtype, f"output {i}: dtype {g.dtype} != onnxruntime {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")
