"""Run a one-node ONNX model through the kernel registry and through onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from rknn_diag.ops import registry


def node_attrs(node: onnx.NodeProto) -> dict:
    """ONNX attributes as the Python values the IR holds (str, not bytes; arrays for tensors)."""
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list):
            v = [s.decode() if isinstance(s, bytes) else s for s in v]
        out[a.name] = v
    return out


def run_kernel(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    node = model.graph.node[0]
    values = dict(feeds)
    values.update({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    inputs = [values[n] if n else None for n in node.input]
    while inputs and inputs[-1] is None:  # trailing omitted optionals are dropped, as the frontend does
        inputs.pop()
    attrs = node_attrs(node)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    registry.check_node(node.op_type, attrs, node.name, len(inputs))
    return registry.run(node.op_type, inputs, attrs, opset)[:len(node.output)]


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # run the op as written
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_matches_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol=1e-4, atol=1e-4) -> None:
    """Same outputs as onnxruntime (shape, dtype, values); the kernel neither changes nor aliases its inputs."""
    want = run_ort(model, feeds)
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
