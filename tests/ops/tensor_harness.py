"""Run a one-node ONNX model through onnxruntime and through our kernel registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from rknn_diag.frontends.onnx_loader import attr_value
from rknn_diag.ops import registry


def decode_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """ONNX attributes as the IR holds them (the frontend's own decoding)."""
    return {a.name: attr_value(a) for a in node.attribute}


def run_ours(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    graph = model.graph
    (node,) = graph.node
    values = dict(feeds)
    values.update({t.name: numpy_helper.to_array(t) for t in graph.initializer})
    inputs = [values[n] if n else None for n in node.input]
    # Trailing omitted optionals are dropped, as a frontend would.
    while inputs and inputs[-1] is None:
        inputs.pop()
    attrs = decode_attrs(node)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    registry.check_node(node.op_type, attrs, node.name, len(inputs))
    outs = registry.run(node.op_type, inputs, attrs, opset, len(node.output))
    return outs[: len(node.output)]


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # No graph optimisation: the reference is the plain op, not a folded constant.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_agree(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol: float = 1e-5,
                 atol: float = 1e-5, reference: str = "onnxruntime") -> list[np.ndarray]:
    """Our outputs equal onnxruntime's (or the case's own reference): same dtype and shape; exact
    for int/bool, close for float."""
    from rknn_diag.compare import reference_onnx

    want = run_ort(model, feeds) if reference == "onnxruntime" else reference_onnx(model, feeds)
    got = run_ours(model, feeds)
    assert len(got) == len(want), f"{len(got)} outputs, onnxruntime gave {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.dtype == w.dtype, f"output {i}: dtype {g.dtype}, onnxruntime {w.dtype}"
        assert g.shape == w.shape, f"output {i}: shape {g.shape}, onnxruntime {w.shape}"
        if w.dtype.kind == "f":
            tol = max(rtol, 1e-3) if w.dtype == np.float16 else rtol
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol,
                                       atol=max(atol, 1e-3) if w.dtype == np.float16 else atol,
                                       err_msg=f"output {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
    return got
