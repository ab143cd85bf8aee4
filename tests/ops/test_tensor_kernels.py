"""The elementwise/activation/shape/tensor/logic/reduce kernels against onnxruntime,
with hypothesis-drawn shapes, axes and attributes; plus their contract and errors."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from fixtures.opcases import node_model
from rknn_diag.errors import InputError, UnsupportedOpError
from rknn_diag.ops import registry

from .tensor_harness import assert_agree

MY_MODULES = {f"rknn_diag.ops.{m}" for m in ("elementwise", "activation", "shape", "tensor", "logic", "reduce",
                                                   "indexing")}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def my_specs() -> dict[str, registry.OpSpec]:
    registry.get("Add")  # loads every kernel module
    return {n: s for n, s in registry._REGISTRY.items() if s.kernel.__module__ in MY_MODULES}


def data(rng, shape, dtype=np.float32, lo=-3.0, hi=3.0):
    if np.dtype(dtype).kind == "f":
        return np.asarray(rng.uniform(lo, hi, shape), dtype)
    if np.dtype(dtype) == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    return np.asarray(rng.integers(int(lo), int(hi) + 1, shape), dtype)


# --- the contract ------------------------------------------------------------------

# Attributes we leave out on purpose: string/sparse constants have no numeric tensor
# to return; consumed_inputs/is_test/broadcast/axis(Equal-1)/paddings exist only before opset 7.
NOT_COVERED = {("Constant", "sparse_value"), ("Constant", "value_string"), ("Constant", "value_strings")}
FIRST_OPSET = 7


def test_registered_ops_cover_every_onnx_attribute_since_opset7():
    missing = []
    for name, spec in my_specs().items():
        for schema in onnx.defs.get_all_schemas_with_history():
            if schema.name != name or schema.domain not in ("", "ai.onnx"):
                continue
            # A schema version counts if it is still in force at FIRST_OPSET or later.
            later = [s.since_version for s in onnx.defs.get_all_schemas_with_history()
                     if s.name == name and s.domain == schema.domain and s.since_version > schema.since_version]
            if later and min(later) <= FIRST_OPSET:
                continue
            for attr in schema.attributes:
                if attr not in spec.attrs and (name, attr) not in NOT_COVERED:
                    missing.append(f"{name}-{schema.since_version}.{attr}")
    assert not missing, missing


def test_required_ops_are_registered():
    wanted = """Add Sub Mul Div Pow Min Max Sum Mean Relu Clip LeakyRelu PRelu Elu Selu Sigmoid HardSigmoid
    HardSwish Tanh Softplus Exp Log Sqrt Neg Abs Reciprocal Floor Ceil Round Erf Gelu Concat Split Slice Reshape
    Flatten Transpose Squeeze Unsqueeze Pad Gather Tile Expand Cast Where Equal Greater Less GreaterOrEqual
    LessOrEqual Not And Or ArgMax ArgMin ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL2 Identity
    Dropout Shape Size Constant ConstantOfShape Range NonZero""".split()
    assert sorted(set(wanted) - set(my_specs())) == []


def test_attribute_defaults_are_the_onnx_defaults():
    # Where ONNX states a default, ours must equal it (latest schema of each op).
    wrong = []
    for name, spec in my_specs().items():
        schema = onnx.defs.get_schema(name)
        for attr, a in schema.attributes.items():
            if attr not in spec.attrs or not a.default_value.name:
                continue
            want = onnx.helper.get_attribute_value(a.default_value)
            want = want.decode() if isinstance(want, bytes) else want
            have = spec.attrs[attr]
            if isinstance(want, float):
                ok = isinstance(have, float) and math.isclose(have, want, rel_tol=1e-6)
            elif isinstance(want, onnx.TensorProto):
                ok = have is None  # tensor defaults are applied inside the kernel
            else:
                ok = have == want
            if not ok:
                wrong.append(f"{name}.{attr}: ours {have!r}, ONNX {want!r}")
    assert not wrong, wrong


def test_describe_is_json_able():
    import json
    json.dumps({n: s.describe() for n, s in my_specs().items()})


# --- hypothesis: broadcasting binary ops ----------------------------------------------

BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod",
          "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "PRelu"]


@pytest.mark.parametrize("op", BINARY)
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       seed=st.integers(0, 2**16))
def test_binary_broadcasting_matches_onnxruntime(op, shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    if op == "PRelu" and shapes.result_shape != a_shape:
        b_shape = b_shape[-len(a_shape):] if a_shape else ()  # slope broadcasts one way only
        if np.broadcast_shapes(a_shape, b_shape) != a_shape:
            return
    rng = np.random.default_rng(seed)
    a = data(rng, a_shape, lo=0.1 if op == "Pow" else -3)
    b = data(rng, b_shape, lo=0.5, hi=2) * np.where(rng.random(b_shape) < 0.5, -1, 1).astype(np.float32) \
        if op in ("Div", "Mod") else data(rng, b_shape)
    attrs = {"fmod": 1} if op == "Mod" else None
    opset = 12 if op in ("GreaterOrEqual", "LessOrEqual") else 13
    model, feeds = node_model(op, {"A": a, "B": np.asarray(b, np.float32)}, attrs, opset=opset)
    assert_agree(model, feeds)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Mod"])
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=4),
       seed=st.integers(0, 2**16))
def test_integer_binary_ops_are_exact(op, dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = data(rng, a_shape, dtype, -50, 50)
    b = data(rng, b_shape, dtype, 1, 9) * np.where(rng.random(b_shape) < 0.5, -1, 1).astype(dtype)
    model, feeds = node_model(op, {"A": a, "B": b})
    assert_agree(model, feeds)


# --- hypothesis: axes ---------------------------------------------------------------

shapes_1_4 = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)
REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceSumSquare", "ReduceLogSumExp"]


@pytest.mark.parametrize("op", REDUCE)
@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), keepdims=st.sampled_from([0, 1]), as_input=st.booleans(),
       seed=st.integers(0, 2**16))
def test_reduce_drawn_axes(op, shape, data_, keepdims, as_input, seed):
    rank = len(shape)
    axes = data_.draw(st.lists(st.integers(-rank, rank - 1), max_size=rank,
                               unique_by=lambda a: a % rank), label="axes")
    rng = np.random.default_rng(seed)
    x = data(rng, shape, lo=0.2 if op == "ReduceProd" else -3, hi=2 if op == "ReduceProd" else 3)
    since = 13 if op == "ReduceSum" else 18
    if as_input:
        cons = {"axes": np.array(axes, np.int64)} if axes else {}
        model, feeds = node_model(op, {"data": x}, {"keepdims": keepdims}, constants=cons, opset=since)
    else:
        attrs = {"keepdims": keepdims, **({"axes": axes} if axes else {})}
        model, feeds = node_model(op, {"data": x}, attrs, opset=since - 2 if since == 13 else 13)
    assert_agree(model, feeds, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), keepdims=st.sampled_from([0, 1]), last=st.sampled_from([0, 1]),
       seed=st.integers(0, 2**16))
def test_arg_drawn_axis_with_ties(op, shape, data_, keepdims, last, seed):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float32)  # many ties
    model, feeds = node_model(op, {"data": x}, {"axis": axis, "keepdims": keepdims, "select_last_index": last})
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16))
def test_transpose_drawn_perm(shape, data_, seed):
    perm = data_.draw(st.permutations(range(len(shape))), label="perm")
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("Transpose", {"data": x}, {"perm": list(perm)})
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16), with_steps=st.booleans())
def test_slice_drawn_bounds(shape, data_, seed, with_steps):
    rank = len(shape)
    axes = data_.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank,
                               unique_by=lambda a: a % rank), label="axes")
    bound = st.one_of(st.integers(-6, 6), st.sampled_from([np.iinfo(np.int64).max, -np.iinfo(np.int64).max]))
    starts = data_.draw(st.lists(bound, min_size=len(axes), max_size=len(axes)), label="starts")
    ends = data_.draw(st.lists(bound, min_size=len(axes), max_size=len(axes)), label="ends")
    steps = data_.draw(st.lists(st.sampled_from([-3, -2, -1, 1, 2, 3]), min_size=len(axes), max_size=len(axes)),
                       label="steps") if with_steps else None
    x = data(np.random.default_rng(seed), shape)
    cons = {"starts": np.array(starts, np.int64), "ends": np.array(ends, np.int64), "axes": np.array(axes, np.int64)}
    if steps is not None:
        cons["steps"] = np.array(steps, np.int64)
    model, feeds = node_model("Slice", {"data": x}, constants=cons)
    assert_agree(model, feeds)


@SETTINGS
@given(shape=st.lists(st.integers(2, 4), min_size=1, max_size=4).map(tuple), data_=st.data(),
       mode=st.sampled_from(["constant", "reflect", "edge", "wrap"]), seed=st.integers(0, 2**16))
def test_pad_drawn_pads(shape, data_, mode, seed):
    # reflect needs pads < size; edge/wrap/constant take any non-negative pads, constant also crops.
    lo = -1 if mode == "constant" else 0
    pads = [data_.draw(st.integers(lo, (shape[i % len(shape)] - 1) if mode == "reflect" else 3), label="pad")
            for i in range(2 * len(shape))]
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("Pad", {"data": x}, {"mode": mode},
                              constants={"pads": np.array(pads, np.int64), "constant_value": np.float32(1.25)},
                              opset=19)
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16))
def test_gather_drawn_axis_and_indices(shape, data_, seed):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    n = shape[axis]
    idx_shape = data_.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple), label="idx_shape")
    idx = np.random.default_rng(seed).integers(-n, n, idx_shape).astype(np.int64)
    x = data(np.random.default_rng(seed + 1), shape)
    model, feeds = node_model("Gather", {"data": x}, {"axis": axis}, constants={"indices": idx})
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16))
def test_split_and_concat_drawn_axis(shape, data_, seed):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    n = shape[axis]
    cut = data_.draw(st.integers(0, n), label="cut")
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("Split", {"input": x}, {"axis": axis},
                              constants={"split": np.array([cut, n - cut], np.int64)}, n_outputs=2)
    parts = assert_agree(model, feeds)
    model, feeds = node_model("Concat", {"a": parts[0], "b": parts[1]}, {"axis": axis})
    np.testing.assert_array_equal(assert_agree(model, feeds)[0], x)


@SETTINGS
@given(shape=shapes_1_4, seed=st.integers(0, 2**16), opset=st.sampled_from([11, 13]))
def test_squeeze_unsqueeze_roundtrip(shape, seed, opset):
    x = data(np.random.default_rng(seed), shape)
    ones = [i for i, d in enumerate(shape) if d == 1]
    axes = {"axes": ones} if opset < 13 else {}
    cons = {} if opset < 13 else {"axes": np.array(ones, np.int64)}
    if not ones:
        return
    model, feeds = node_model("Squeeze", {"data": x}, axes, constants=cons, opset=opset)
    squeezed = assert_agree(model, feeds)[0]
    model, feeds = node_model("Unsqueeze", {"data": squeezed}, axes, constants=cons, opset=opset)
    np.testing.assert_array_equal(assert_agree(model, feeds)[0], x)


# --- dtypes and numerics ------------------------------------------------------------

FLOAT_UNARY = ["Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "HardSigmoid",
               "HardSwish", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Erf",
               "Gelu", "Celu", "Mish", "ThresholdedRelu", "Sign", "Sin", "Cos"]


@pytest.mark.parametrize("op", FLOAT_UNARY)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_unary_keeps_dtype(op, dtype):
    x = np.linspace(0.1, 4, 12, dtype=dtype).reshape(3, 4)
    (y,) = registry.run(op, [x], {}, 20)
    assert y.dtype == dtype and y.shape == x.shape


def test_erf_is_accurate_over_the_whole_line():
    from rknn_diag.ops.elementwise import erf64
    x = np.concatenate([np.linspace(-10, 10, 40001), [0.0, -0.0, 1e-300, 2.4999999, 2.5, 2.5000001, 26.0]])
    want = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf64(x) - want)) < 1e-13
    assert np.isnan(erf64(np.array([np.nan])))[0]


def test_round_is_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], np.float32)
    (y,) = registry.run("Round", [x], {}, 13)
    np.testing.assert_array_equal(y, [-2, -2, -0, 0, 2, 2, 4])


def test_integer_div_truncates_toward_zero():
    a = np.arange(-20, 21, dtype=np.int64)
    b = np.array([-7, -3, 3, 7], np.int64)[:, None]
    (q,) = registry.run("Div", [a, b], {}, 13)
    want = np.array([[math.trunc(int(i) / int(j)) for i in a] for j in b[:, 0]])
    np.testing.assert_array_equal(q, want)


def test_sigmoid_and_softplus_do_not_overflow():
    x = np.array([-1e4, -100, 0, 100, 1e4], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        (s,) = registry.run("Sigmoid", [x], {}, 13)
        (p,) = registry.run("Softplus", [x], {}, 13)
    np.testing.assert_allclose(s, [0, 0, 0.5, 1, 1], atol=1e-30)
    np.testing.assert_allclose(p, [0, math.exp(-100), math.log(2), 100, 1e4], rtol=1e-6, atol=1e-30)


# --- errors say what and where ------------------------------------------------------

def test_gather_out_of_range_index_is_an_input_error():
    with pytest.raises(InputError, match="out of range") as e:
        registry.run("Gather", [np.zeros((2, 3), np.float32), np.array([3])], {"axis": 1}, 13)
    assert "indices" in e.value.where


def test_reshape_size_mismatch_names_both_shapes():
    with pytest.raises(InputError, match=r"\(2, 3\).*\[4, 2\]"):
        registry.run("Reshape", [np.zeros((2, 3), np.float32), np.array([4, 2])], {}, 13)


def test_unsupported_cast_target_is_refused_at_load():
    with pytest.raises(UnsupportedOpError, match="to="):
        registry.check_node("Cast", {"to": onnx.TensorProto.STRING}, "cast_7", 1)


def test_unsupported_pad_mode_is_refused_at_load():
    with pytest.raises(UnsupportedOpError, match="mode='symmetric'"):
        registry.check_node("Pad", {"mode": "symmetric"}, "pad_1", 2)


def test_split_without_sizes_takes_the_node_output_count():
    parts = registry.run("Split", [np.arange(8, dtype=np.float32).reshape(4, 2)], {}, 13, n_outputs=2)
    assert [p.tolist() for p in parts] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    with pytest.raises(UnsupportedOpError, match="output count"):
        registry.get("Split").kernel(np.zeros((4, 2), np.float32))


def test_training_mode_dropout_is_refused():
    with pytest.raises(UnsupportedOpError, match="training_mode"):
        registry.run("Dropout", [np.zeros(3, np.float32), np.float32(0.5), np.bool_(True)], {}, 13)


def test_reflect_pad_wider_than_axis_is_refused():
    with pytest.raises(InputError, match="reflect"):
        registry.run("Pad", [np.zeros((1, 3), np.float32), np.array([0, 3, 0, 0])], {"mode": "reflect"}, 13)


def test_constant_needs_exactly_one_value():
    with pytest.raises(UnsupportedOpError, match="exactly one"):
        registry.run("Constant", [], {"value_int": 1, "value_float": 2.0}, 13)


def test_inputs_are_not_modified():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = x.copy()
    for op, inputs, attrs in [("Relu", [x], {}), ("Identity", [x], {}), ("Reshape", [x, np.array([4, 3])], {}),
                              ("Transpose", [x], {}), ("Dropout", [x], {}), ("Clip", [x], {}),
                              ("Expand", [x, np.array([3, 4])], {}), ("Squeeze", [x], {}),
                              ("Flatten", [x], {}), ("Unsqueeze", [x, np.array([0])], {}),
                              ("Slice", [x, np.array([0]), np.array([9])], {}), ("Pad", [x, np.zeros(4, np.int64)], {}),
                              ("Split", [x, np.array([3])], {}), ("Concat", [x], {"axis": 0}),
                              ("Tile", [x, np.array([1, 1])], {}), ("Cast", [x], {"to": 1}),
                              ("Where", [np.ones((3, 4), bool), x, x], {}), ("Max", [x], {}), ("Sum", [x], {}),
                              ("ReduceSum", [x], {"noop_with_empty_axes": 1}), ("Mean", [x], {}),
                              ("Gather", [x, np.arange(3)], {}), ("CastLike", [x, x], {})]:
        outs = registry.run(op, inputs, attrs, 13)
        outs[0][...] = -1  # writing an output must not reach the input
        np.testing.assert_array_equal(x, before, err_msg=op)


# --- every declared dtype works ---------------------------------------------------

def _call_for(op: str, dtype: str):
    """(inputs, attrs, opset) for a minimal call of `op` with a first input of `dtype`."""
    rng = np.random.default_rng(0)
    x = data(rng, (2, 3), dtype, 1, 4) if dtype != "bool" else data(rng, (2, 3), np.bool_)
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    special = {
        "Reshape": ([x, i64(3, 2)], {}), "Tile": ([x, i64(1, 2)], {}), "Expand": ([x, i64(2, 2, 3)], {}),
        "Gather": ([x, i64(1, 0)], {"axis": 1}), "GatherElements": ([x, i64(0, 1)[None, :]], {}),
        "Slice": ([x, i64(0), i64(2), i64(1)], {}), "Squeeze": ([x[None], i64(0)], {}),
        "Unsqueeze": ([x, i64(0)], {}), "Pad": ([x, i64(0, 1, 1, 0)], {}), "Split": ([x, i64(1, 2)], {"axis": 1}),
        "Concat": ([x, x], {"axis": 0}), "Cast": ([x], {"to": onnx.TensorProto.FLOAT}),
        "CastLike": ([x, np.zeros(1, np.float32)], {}),
        "Where": ([x.astype(bool), data(rng, (2, 3)), data(rng, (3,))], {}),
        "ConstantOfShape": ([i64(2, 3)], {}), "Constant": ([], {"value": x}), "Clip": ([x], {}),
        "Range": ([np.array(1, dtype), np.array(4, dtype), np.array(1, dtype)], {}),
        "Dropout": ([x], {}), "PRelu": ([x, x[:1]], {}),
        "GatherND": ([x, i64(1, 0)[None, :]], {}), "ScatterND": ([x, i64(1)[None, :], x[:1]], {}),
        "ScatterElements": ([x, i64(0, 1, 0)[None, :], x[:1]], {}), "TopK": ([x, i64(2)], {}),
        "CumSum": ([x, np.array(1)], {}),
        "BitShift": ([x, np.ones_like(x)], {"direction": "LEFT"}), "CenterCropPad": ([x, i64(3, 2)], {}),
        "ReverseSequence": ([x, i64(2, 1, 2)], {}),
        "OneHot": ([x, i64(5), np.array([0, 1], np.float32)], {}),
        # A float floor-mod (fmod=0) exists only from opset 28.
        "Mod": ([x, x], {"fmod": 1 if x.dtype.kind == "f" else 0}),
    }
    if op in special:
        return special[op]
    spec = registry.get(op)
    n = max(spec.required_inputs, 1)
    return [x] * n, {}


@pytest.mark.parametrize("op", sorted(my_specs()))
def test_every_declared_dtype_runs_and_keeps_or_declares_its_type(op):
    spec = registry.get(op)
    for dtype in spec.dtypes:
        inputs, attrs = _call_for(op, dtype)
        outs = registry.run(op, inputs, attrs, 20)
        assert outs, (op, dtype)
        y = np.asarray(outs[0])
        kind = {"Cast": np.float32, "CastLike": np.float32}.get(op)
        if op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor", "IsNaN",
                  "IsInf"):
            assert y.dtype == np.bool_, (op, dtype)
        elif op in ("Shape", "Size", "NonZero", "ArgMax", "ArgMin", "ConstantOfShape", "OneHot"):
            assert y.dtype in (np.int64, np.float32), (op, dtype)
        elif op != "Where":
            assert y.dtype == (kind or np.dtype(dtype)), (op, dtype, y.dtype)


def _ort_can_run(model) -> bool:
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidGraph, NotImplemented as OrtNotImplemented
    from .tensor_harness import run_ort
    try:
        run_ort(model, {})
    except (InvalidGraph, OrtNotImplemented):
        return False
    except Exception:  # noqa: BLE001 - feeds are missing on purpose: the session was built
        return True
    return True


def _opset_with(op: str) -> int:
    """Opset 20, or the op's first opset where it is newer (Swish: 24)."""
    import onnx.defs
    return 20 if onnx.defs.has(op, 20) else onnx.defs.get_schema(op).since_version


@pytest.mark.parametrize("op", sorted(set(my_specs()) - {"Constant", "Range"}))
def test_declared_dtypes_agree_with_onnxruntime_where_it_has_a_kernel(op):
    compared = 0
    for dtype in registry.get(op).dtypes:
        inputs, attrs = _call_for(op, dtype)
        names = [f"in{i}" for i in range(len(inputs))]
        n_out = 2 if op in ("Split", "TopK") else 1
        model, feeds = node_model(op, dict(zip(names, inputs)), attrs, opset=_opset_with(op), n_outputs=n_out)
        if _ort_can_run(model):
            assert_agree(model, feeds)
            compared += 1
    # onnxruntime lacks some integer kernels, but it has the first declared dtype of every op.
    assert compared >= 1


# --- hypothesis: more drawn axes and shapes -------------------------------------------

@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), largest=st.sampled_from([0, 1]), seed=st.integers(0, 2**16),
       ties=st.booleans())
def test_topk_drawn_axis_and_k(shape, data_, largest, seed, ties):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    k = data_.draw(st.integers(0, shape[axis]), label="k")
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float32) if ties else data(rng, shape)
    model, feeds = node_model("TopK", {"X": x}, {"axis": axis, "largest": largest},
                              constants={"K": np.array([k], np.int64)}, n_outputs=2)
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), exclusive=st.sampled_from([0, 1]), reverse=st.sampled_from([0, 1]),
       seed=st.integers(0, 2**16))
def test_cumsum_drawn_axis(shape, data_, exclusive, reverse, seed):
    axis = data_.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("CumSum", {"x": x}, {"exclusive": exclusive, "reverse": reverse},
                              constants={"axis": np.array(axis, np.int64)})
    assert_agree(model, feeds)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**16))
def test_expand_drawn_shapes(shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    x = data(np.random.default_rng(seed), a_shape)
    model, feeds = node_model("Expand", {"input": x}, constants={"shape": np.array(b_shape, np.int64)})
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16))
def test_tile_and_flatten_drawn(shape, data_, seed):
    reps = data_.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)), label="repeats")
    axis = data_.draw(st.integers(-len(shape), len(shape)), label="axis")
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("Tile", {"input": x}, constants={"repeats": np.array(reps, np.int64)})
    assert_agree(model, feeds)
    model, feeds = node_model("Flatten", {"input": x}, {"axis": axis})
    assert_agree(model, feeds)


@SETTINGS
@given(shape=shapes_1_4, data_=st.data(), seed=st.integers(0, 2**16))
def test_reshape_drawn_with_zero_and_minus_one(shape, data_, seed):
    # Keep a prefix of the dims as 0 (copy), merge the rest into -1.
    keep = data_.draw(st.integers(0, len(shape)), label="keep")
    target = [0] * keep + [-1]
    x = data(np.random.default_rng(seed), shape)
    model, feeds = node_model("Reshape", {"data": x}, constants={"shape": np.array(target, np.int64)})
    assert_agree(model, feeds)


@pytest.mark.parametrize("to", [onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT32,
                                onnx.TensorProto.INT64, onnx.TensorProto.FLOAT16, onnx.TensorProto.BOOL])
@SETTINGS
@given(shape=shapes_1_4, seed=st.integers(0, 2**16))
def test_cast_float_in_range_drawn(to, shape, seed):
    lo, hi = {onnx.TensorProto.UINT8: (0, 255), onnx.TensorProto.INT8: (-128, 127)}.get(to, (-1000, 1000))
    x = data(np.random.default_rng(seed), shape, lo=lo, hi=hi)
    model, feeds = node_model("Cast", {"input": x}, {"to": to})
    assert_agree(model, feeds)
