"""The numbers that decide pass/fail, with where each comes from. Nothing else
in the project hard-codes a tolerance or a floor."""

from __future__ import annotations

# Float16 path: |got - ref| <= ATOL + RTOL * |ref| elementwise, per output.
# Source: Android NNAPI CTS (TestGenerated / generated_test_harness.cpp): relaxed
# float32-as-float16 results pass within 5 ULP of fp16 at 1.0 (2^-10), relative plus absolute.
FP16_ULP = 2.0 ** -10
FLOAT16_ATOL = 5 * FP16_ULP
FLOAT16_RTOL = 5 * FP16_ULP

# Model-level (zoo) float16 floor: whole networks accumulate half-precision rounding
# over tens of layers, so besides the elementwise rule (reported) a zoo model passes
# when its cosine against onnxruntime float32 is at least this. Same order as the vendor's
# "cosine ≥ 0.999" rule of thumb for float builds (rknn-toolkit2 accuracy_analysis docs).
FLOAT16_MODEL_COSINE = 0.9999

# Quantized modes: outputs within this many LSBs of the output scale of the QDQ twin.
# Source: NNAPI CTS quant8 rule (results within 1 of the expected quantized value).
QUANT_LSB = 1
