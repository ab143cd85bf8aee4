"""Every registered op is classified for quantization in its registry entry (`OpSpec.quant`),
and what reads that classification agrees with it: the roles the quantizer and the QDQ twin
use, the integer simulator's dispatch (numpy reference and the onnxruntime lowering), and the
ops the quantized suite keeps in float16."""

from __future__ import annotations

import pytest

from rknn_diag.ir import Node
from rknn_diag.ops import registry
from rknn_diag.ops.registry import PATHS, Quant
from rknn_diag.qrules import roles
from rknn_diag.sim import int_sim, ort_int

SPECS = registry.specs()


@pytest.mark.parametrize("op", sorted(SPECS))
def test_every_op_is_classified(op):
    spec = SPECS[op]
    q = spec.quant
    assert isinstance(q, Quant) and q.path in PATHS
    if q.data is not None:   # data inputs name real inputs (any position of a variadic op)
        assert all(0 <= i < len(spec.inputs) or spec.variadic for i in q.data)
        assert not set(q.data) & set(spec.params), "a parameter input is never quantized"
    if q.weights:
        assert len(spec.inputs) >= 2
    if q.direct_if is not None:
        assert q.path == "direct"


@pytest.mark.parametrize("op", sorted(SPECS))
def test_the_integer_simulator_dispatches_each_op_by_its_class(op):
    q = SPECS[op].quant
    node = Node(op, "n", ["x"], ["y"], {})
    assert (op in int_sim._KERNELS) == (q.path == "kernel")
    assert (op in int_sim.LUT_OPS) == (q.path == "table")
    assert roles.is_direct(node) == (q.path == "direct" and (q.direct_if is None or q.direct_if({})))
    assert (op in roles.NONFINITE_OPS) == (q.path == "float16")
    assert (op in roles.SHARE_SCALE) == q.shares_scale
    assert (op in roles.WEIGHT_OPS) == q.weights


def test_a_conditionally_direct_op_is_direct_only_when_its_condition_holds():
    nearest = Node("Resize", "r", ["x", "", "s"], ["y"], {"mode": b"nearest"})
    linear = Node("Resize", "r", ["x", "", "s"], ["y"], {"mode": b"linear"})
    assert roles.is_direct(nearest) and not roles.is_direct(linear)


def test_the_onnxruntime_lowering_only_moves_direct_ops_and_tabulates_float_ones():
    """ort_int's own lists are facts about onnxruntime (which integer types its kernels take);
    they may only name ops the registry runs directly, or (tabulated) on the float path."""
    moved = set(ort_int.MOVE_ANY) | set(ort_int.MOVE_8BIT)
    assert all(SPECS[op].quant.path == "direct" for op in moved)
    assert all(SPECS[op].quant.path == "float" for op in ort_int.TABULATED)


def test_data_slots_follow_the_registry():
    add = Node("Add", "a", ["x", "y"], ["z"], {})
    where = Node("Where", "w", ["c", "x", "y"], ["z"], {})
    relu = Node("Relu", "r", ["x"], ["y"], {})
    assert roles.data_slots(add) == {0, 1} and roles.data_slots(where) == {1, 2} and roles.data_slots(relu) == {0}


def test_a_kernel_op_without_an_integer_kernel_is_refused(monkeypatch):
    """Declaring an op `kernel` without giving the integer simulator one fails loudly."""
    from dataclasses import replace

    monkeypatch.setitem(registry._REGISTRY, "Tanh", replace(SPECS["Tanh"], quant=Quant("kernel")))
    with pytest.raises(KeyError, match="Tanh"):
        int_sim.integer_kernels()
