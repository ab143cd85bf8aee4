"""Quantization rules both the quantizer (`quant/`) and the integer simulator (`sim/`) need:
the number formats and fixed-point arithmetic (`schemes`) and what each tensor is to the
quantizer (`roles`). They sit below both, beside `ops/`, so the simulator never imports the
quantizer (tests/test_layers.py)."""
