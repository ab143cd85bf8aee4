"""Size caps on what a model may ask for: the one place for them, each with its reason.

A loaded file (ONNX or our model file) is data from anyone. Without caps a 150-byte
ConstantOfShape or Expand asks for gigabytes at build or inference; these numbers refuse
such a model at load with a typed error instead.
"""

from __future__ import annotations

# Largest single dimension. Real NPU models stay far below (a 4K RGB image flattened is
# 24.9 M); 2**24 keeps every dim and index inside float32's exact-integer range and int32.
MAX_DIM = 2 ** 24

# Largest single tensor, in elements: 2**26 float32 = 256 MiB. The RK3588 NPU's whole
# addressable DDR budget for one model is a few GiB; no layer of a real model comes near.
MAX_TENSOR_ELEMENTS = 2 ** 26

# All tensors of a model whose sizes are known at load (constants plus every inferred
# activation): 1 GiB of float32. Keeps a build or run of any accepted file under ~1 GiB.
MAX_MODEL_BYTES = 2 ** 30

# Nodes in one graph: the largest exported zoo models have a few thousand.
MAX_NODES = 100_000
