"""The registry's claims hold: every dtype an op declares (`register(dtypes=...)`) runs.

For each op, its first conformance case is re-typed to each declared dtype (the first input
and every tensor of the same type as it) and the kernel is compared with onnxruntime on it.
Where onnxruntime has no kernel for the type, onnx's ReferenceEvaluator (the spec) is the
reference; a type the ONNX checker rejects for the op at the case's opset cannot occur in a
valid model and is not checked. The attribute values an op
declares (`values=`) are covered by the conformance cases (test_every_declared_value_has_a_case).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from fixtures.opcases import all_cases
from rknn_diag.frontends.onnx_loader import attr_value
from rknn_diag.compare import reference_onnx
from rknn_diag.ops import registry, supported_ops

from .tensor_harness import run_ort, run_ours

CASES = all_cases()
FIRST: dict[str, object] = {}
for _c in CASES:
    FIRST.setdefault(_c.op, _c)


def _retype(model: onnx.ModelProto, feeds: dict[str, np.ndarray], dtype: np.dtype):
    """The model with its first input's type (and every tensor sharing it) changed to `dtype`."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    first = g.node[0].input[0]
    types = {i.name: i.type.tensor_type.elem_type for i in g.input}
    types.update({t.name: t.data_type for t in g.initializer})
    src = types[first]
    code = helper.np_dtype_to_tensor_dtype(dtype)
    new_feeds = dict(feeds)
    for i in g.input:
        if i.type.tensor_type.elem_type == src:
            i.type.tensor_type.elem_type = code
            new_feeds[i.name] = _convert(feeds[i.name], dtype)
    for k, t in enumerate(g.initializer):
        if t.data_type == src:
            g.initializer[k].CopyFrom(numpy_helper.from_array(_convert(numpy_helper.to_array(t), dtype), t.name))
    for o in g.output:
        o.type.tensor_type.elem_type = 0
    del g.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    inferred = {v.name: v for v in m.graph.value_info}
    for o in m.graph.output:
        if o.name in inferred:
            o.CopyFrom(inferred[o.name])
    return m, new_feeds


def _convert(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    x = np.asarray(x)
    if dtype.kind in "iu" and x.dtype.kind == "f":
        info = np.iinfo(dtype)
        # small integers: products over a whole case (ReduceProd) stay inside int32, whose
        # overflow runtimes handle differently (wrap or saturate)
        return np.clip(np.rint(x), max(info.min, -2), min(info.max, 2)).astype(dtype)
    if dtype.kind == "b":
        return x > 0
    return x.astype(dtype)


def _reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    """onnxruntime's outputs; where it has no kernel for the type, the spec's ReferenceEvaluator;
    None when the model is invalid ONNX (the checker rejects the type for the op at this opset)."""
    try:
        return run_ort(model, feeds)
    except Exception:  # noqa: BLE001 - onnxruntime lacks the type (NOT_IMPLEMENTED) or rejects the graph
        pass
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError:
        return None
    except onnx.shape_inference.InferenceError:
        return None
    try:
        return reference_onnx(model, feeds)
    except Exception as e:  # noqa: BLE001
        pytest.xfail(f"no reference runs this type: onnxruntime lacks the kernel and the "
                     f"ReferenceEvaluator fails ({type(e).__name__}: {str(e).splitlines()[0][:150]})")


def _rows():
    for op, spec in sorted(registry._REGISTRY.items()) if registry._load_all() is None else []:
        case = FIRST.get(op)
        if case is None or not spec.inputs:   # Constant: no input, its types are its value attribute
            continue
        for d in spec.dtypes:
            yield pytest.param(case, np.dtype(d), id=f"{op}-{d}")


@pytest.mark.parametrize("case,dtype", list(_rows()))
def test_declared_dtype_runs(case, dtype):
    model, feeds = case.build()
    first = model.graph.node[0].input[0]
    src = {**{i.name: helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type) for i in model.graph.input},
           **{t.name: numpy_helper.to_array(t).dtype for t in model.graph.initializer}}.get(first)
    if src is not None and np.dtype(src) != dtype:
        model, feeds = _retype(model, feeds, dtype)
    want = _reference(model, feeds)
    if want is None:   # not a valid ONNX model: the type is outside the op's schema at this opset
        return
    got = run_ours(model, feeds)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {i}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        if w.dtype.kind == "f":
            tol = 2e-3 if w.dtype == np.float16 else 1e-4
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(g, w)


def test_every_declared_value_has_a_case():
    """Each attribute value an op declares it handles appears in some conformance case (or is the default)."""
    seen: dict[str, set] = {}
    for c in CASES:
        model, _ = c.build()
        for a in model.graph.node[0].attribute:
            seen.setdefault(c.op, set()).add((a.name, repr(registry._jsonable(attr_value(a)))))
    missing = []
    for op, desc in supported_ops().items():
        spec = registry.get(op)
        for k, vals in spec.values.items():
            for v in vals:
                if spec.attrs.get(k) != v and (k, repr(registry._jsonable(v))) not in seen.get(op, set()):
                    missing.append(f"{op}.{k}={v!r}")
    assert not missing, f"declared attribute values without a conformance case: {missing}"
