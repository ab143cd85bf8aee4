"""A pytest plugin that plants one known fault in the toolkit before a suite runs, so
`tests/test_oracle_catches.py` can prove the suite's checks turn red on it.

    RKNN_DIAG_PLANT=<fault> python -m pytest -p tests.faults.plant conformance/...

Faults (each is a bug the suite must catch as a product failure):
    coarse_weight_scales  every weight scale 16x coarser than the mode's rule
    round_half_up         requantization rounds ties up instead of to even
    bias_scale            int32 biases quantized at twice the right scale
    int_conv_off          the integer Conv kernel's accumulator 1 % too large
    float_conv_off        the float Conv kernel's output 1 % too large
    float_softmax_off     the float Softmax kernel's output 1 % too large (small values: the
                          elementwise absolute term alone would let it pass)
    kernel_refuses        the Elu kernel refuses its input (our typed refusal)
    kernel_crashes        the Selu kernel raises IndexError (our crash)
"""

from __future__ import annotations

import os

import numpy as np

FAULTS = ("coarse_weight_scales", "round_half_up", "bias_scale", "int_conv_off", "float_conv_off",
          "float_softmax_off", "kernel_refuses", "kernel_crashes")


def _replace_kernel(op: str, wrap) -> None:
    from dataclasses import replace

    from rknn_diag.ops import registry
    spec = registry.get(op)   # loads the registry
    registry._REGISTRY[op] = replace(spec, kernel=wrap(spec.kernel))


def plant(fault: str) -> None:
    from rknn_diag.qrules import roles, schemes
    from rknn_diag.quant import quantizer
    from rknn_diag.sim import int_sim

    if fault == "coarse_weight_scales":
        orig = quantizer.weight_params

        def coarse(*a, **k):
            qp = orig(*a, **k)
            qp.scale = (np.asarray(qp.scale) * 16).astype(np.float32)
            return qp
        quantizer.weight_params = coarse
    elif fault == "round_half_up":
        def half_up(acc, m0, n, out, clamp=None, acc_bound=None):
            lo, hi = clamp if clamp is not None else out.qrange
            zp = np.int64(out.zero_point) if out.per_tensor else out.broadcast(np.ndim(acc))[1]
            y = np.floor(np.asarray(acc, np.float64) * (np.asarray(m0, np.float64) * np.exp2(-np.asarray(n, np.float64)))
                         + 0.5) + zp
            return np.clip(y, lo, hi).astype(schemes.NUMPY[out.dtype])
        int_sim.apply_fixed_point = half_up
    elif fault == "bias_scale":
        orig_b = roles.bias_params

        def wrong(in_scale, w_qp, alpha=1.0):
            return orig_b(in_scale, w_qp, alpha * 2.0)
        roles.bias_params = wrong
    elif fault == "int_conv_off":
        orig_c = int_sim._conv_acc

        def off(*a, **k):
            return np.rint(orig_c(*a, **k) * 1.01)
        int_sim._conv_acc = off
    elif fault == "float_conv_off":
        _replace_kernel("Conv", lambda f: (lambda *a, **k: f(*a, **k) * np.float32(1.01)))
    elif fault == "float_softmax_off":
        _replace_kernel("Softmax", lambda f: (lambda *a, **k: f(*a, **k) * np.float32(1.01)))
    elif fault == "kernel_refuses":
        from rknn_diag.errors import UnsupportedOpError

        def refuse(f):
            def k(*a, **kw):
                raise UnsupportedOpError("Elu: planted refusal", where="Elu")
            return k
        _replace_kernel("Elu", refuse)
    elif fault == "kernel_crashes":
        def crash(f):
            def k(*a, **kw):
                return [][1]
            return k
        _replace_kernel("Selu", crash)
    else:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def pytest_configure(config) -> None:
    fault = os.environ.get("RKNN_DIAG_PLANT")
    if fault:
        plant(fault)
