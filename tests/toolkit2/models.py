"""Small models and data for the toolkit2 target tests, generated with fixed seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPE = (1, 3, 16, 16)


def conv_relu(path: Path, *, opset: int = 13, seed: int = 0) -> Path:
    """Conv 3x3 (3->4 channels, pad 1) + Relu on a 1x3x16x16 input, saved to `path`."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(4) * 0.1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    # IR 8 for opset <= 17 (older readers), 10 for opset 21 (its own IR).
    model.ir_version = 8 if opset <= 17 else 10
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def image_input(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(SHAPE, dtype=np.float32)


def nhwc_dataset(folder: Path, n: int = 4, seed: int = 2) -> Path:
    """A calibration dataset in the project's (toolkit 1.x) layout: NHWC .npy files,
    relative paths in dataset.txt."""
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        name = f"sample_{i}.npy"
        np.save(folder / name, rng.random((1, SHAPE[2], SHAPE[3], SHAPE[1]), dtype=np.float32),
                allow_pickle=False)
        names.append(name)
    ds = folder / "dataset.txt"
    ds.write_text("\n".join(names) + "\n", encoding="utf-8")
    return ds


def onnxruntime_outputs(model_path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
