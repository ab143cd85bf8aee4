"""The tiny known model a board health check runs: y = relu(2x - 1)."""

from __future__ import annotations

import numpy as np

INPUT_SHAPE = (1, 3, 4, 4)
TOLERANCE = 1e-2  # float16 on the board's NPU: |y| <= 3 here, so half-precision error stays far below this


def write_model(path: str) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["t0"]),
         helper.make_node("Sub", ["t0", "one"], ["t1"]),
         helper.make_node("Relu", ["t1"], ["y"])],
        "rknn_diag_health",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(INPUT_SHAPE))],
        initializer=[numpy_helper.from_array(np.array(2.0, np.float32), "two"),
                     numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def make_input() -> np.ndarray:
    return np.random.default_rng(20261125).uniform(-1, 1, INPUT_SHAPE).astype(np.float32)


def expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(2 * x - 1, 0)
