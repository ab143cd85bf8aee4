"""Small models for the advisor's tests, made in code, with a dataset of raw pixel images.

`outlier_net`: Conv(3→8) + Relu whose channel 0 is 400× larger than the others, then a 1×1
Conv that scales channel 0 back down, then a 3×3 Conv and a 5×5 Conv. In w8a8 the first
activation's one scale is set by channel 0, so the other seven channels lose their detail and
the output's cosine drops well below 0.99; that activation in 16 bits (hybrid, one layer)
brings it back. The 5×5 conv gives the speed advice a finding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def outlier_net(path: Path, size: int = 24, factor: float = 400.0) -> Path:
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.02, (8, 3, 3, 3)).astype(np.float32)
    w1[0] *= factor
    b1 = np.zeros(8, np.float32)
    w2 = rng.normal(0, 0.5, (8, 8, 1, 1)).astype(np.float32)
    w2[:, 0] /= factor
    w3 = rng.normal(0, 0.2, (8, 8, 3, 3)).astype(np.float32)
    w4 = rng.normal(0, 0.1, (4, 8, 5, 5)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (w3, "w3"), (w4, "w4"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], "conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], "relu2"),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], "conv3", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c3"], ["r3"], "relu3"),
             helper.make_node("Conv", ["r3", "w4"], ["y"], "conv5x5", pads=[2, 2, 2, 2])]
    g = helper.make_graph(nodes, "outlier_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, size, size])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def image_dataset(folder: Path, count: int = 10, size: int = 24, seed: int = 0) -> Path:
    """dataset.txt of raw RGB png images (smooth gradients and blobs, 0..255)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    names = []
    for i in range(count):
        chans = [np.sin(xx * rng.uniform(1, 6) + yy * rng.uniform(1, 6) + rng.uniform(0, 6)) for _ in range(3)]
        img = ((np.stack(chans, -1) * 0.5 + 0.5) * 255 + rng.normal(0, 8, (size, size, 3))).clip(0, 255)
        name = f"img{i}.png"
        Image.fromarray(img.astype(np.uint8)).save(folder / name)
        names.append(name)
    (folder / "dataset.txt").write_text("\n".join(names) + "\n")
    return folder / "dataset.txt"
