"""The numbers that decide pass/fail, with where each comes from. Nothing else
in the project hard-codes a tolerance or a floor."""

from __future__ import annotations

# Float16 path: |got - ref| <= ATOL + RTOL * |ref| elementwise, per output.
# Source: Android NNAPI CTS (TestGenerated / generated_test_harness.cpp): relaxed
# float32-as-float16 results pass within 5 ULP of fp16 at 1.0 (2^-10), relative plus absolute.
FP16_ULP = 2.0 ** -10
FLOAT16_ATOL = 5 * FP16_ULP
FLOAT16_RTOL = 5 * FP16_ULP

# The same 5-ULP allowance on an output as a whole, scaled to its magnitude: the RMS error is at
# most FLOAT16_REL_RMS of the output's RMS (floored at float16's smallest normal number, below
# which half precision has no relative precision to promise). The elementwise rule's absolute
# term alone lets small outputs be 10 % off; this does not.
FP16_MIN_NORMAL = 2.0 ** -14
FLOAT16_REL_RMS = 5 * FP16_ULP

# Model-level (zoo) float16 floor: whole networks accumulate half-precision rounding
# over tens of layers, so besides the elementwise rule (reported) a zoo model passes
# when its cosine against onnxruntime float32 is at least this. Same order as the vendor's
# "cosine ≥ 0.999" rule of thumb for float builds (rknn-toolkit2 accuracy_analysis docs).
FLOAT16_MODEL_COSINE = 0.9999

# Quantized modes: outputs within this many LSBs of the output scale of the QDQ twin.
# Source: NNAPI CTS quant8 rule (results within 1 of the expected quantized value).
# Applied per op (conformance) and per layer of whole models (each layer fed the
# simulator's own integers: rknn_diag.quant.qdq.layerwise_lsb).
QUANT_LSB = 1
# ... and only rarely: the simulator's fixed-point multiplier (31 bits) and the oracle's float
# arithmetic may round differently where a value lies within ~2^-31 of a rounding boundary,
# which is rare; a rounding rule that differs (ties up instead of to even) moves every tie,
# and ties are frequent with power-of-two scales. Our choice, from the measured fraction: over
# the full op x mode product the worst correct case was 5 % (linear Resize, float fallback);
# two elements are always allowed (tiny outputs).
QUANT_LSB_FRACTION = 0.06
# End to end through a whole model the 1-LSB differences compound; the simulator and the
# twin must still agree to this cosine (our choice: ten times tighter than the 8-bit floor
# against float; the strict check is the per-layer one).
QUANT_TWIN_MODEL_COSINE = 0.999

# Quantized modes against the float model (onnxruntime float32), cosine per output.
# Source: issue 3's zoo acceptance floors (cosine >= 0.99 for 8-bit modes, >= 0.999 for
# 16-bit), which match the vendor's accuracy_analysis rule of thumb (cosine >= 0.99 is a
# healthy 8-bit layer). Used for single ops and whole models alike. Modes with int8/int4
# weights and 16-bit activations are bounded by their weights: w8a16 takes the 8-bit floor;
# w4a16 (15 weight levels per group) 0.98, our own choice, reported beside the metrics.
QUANT_8BIT_COSINE = 0.99
QUANT_16BIT_COSINE = 0.999
# w4a16 on whole CNNs (int4 weights in every conv; the mode is meant for large matmuls):
# errors accumulate layer by layer, so whole zoo models get a sanity floor that catches
# breakage, not a quality bar — our choice; the bench prints the real numbers.
QUANT_W4_MODEL_COSINE = 0.85
# A quantized op whose float answer is all zero (no cosine): its answer must stay within this
# of zero. Our choice: a few 8-bit LSBs of a unit-range tensor.
QUANT_ZERO_ATOL = 0.05
QUANT_OP_COSINE = {
    "asymmetric_quantized-u8": QUANT_8BIT_COSINE, "dynamic_fixed_point-i8": QUANT_8BIT_COSINE,
    "w8a8": QUANT_8BIT_COSINE, "w8a16": QUANT_8BIT_COSINE, "w4a16": 0.98,
    "dynamic_fixed_point-i16": QUANT_16BIT_COSINE, "w16a16i_dfp": QUANT_16BIT_COSINE,
}
QUANT_MODEL_COSINE = {**QUANT_OP_COSINE, "w4a16": QUANT_W4_MODEL_COSINE}
