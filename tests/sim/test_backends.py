"""The onnxruntime backend never drifts from the numpy reference (rknn_diag.sim.crosscheck):
every op case and every zoo model, built through the public API, on both backends —
float16 layer by layer within one float16 ULP (and on the float16 grid), quantized models
value by value bit-exact (0 LSB). Cases the float16 suite marks xfail (the build refuses
them) are left to that suite. A fault planted in each lowering turns the check red."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from conformance.test_quant import CORE_OPS, EMPTY_IDENTITY, MODES, _dataset, _empty_extremum
from fixtures import zoo
from fixtures.opcases import all_cases
from rknn_diag.api import RKNN
from rknn_diag.sim import crosscheck, ort_float, ort_int
from rknn_diag.sim.backend import simulator

CASES = [c for c in all_cases() if not c.xfail]
EIGHT_BIT = ("w8a8", "asymmetric_quantized-u8", "dynamic_fixed_point-i8")


def _build(tmp_path, model, feeds, mode=None, chip="rk3588"):
    """config -> load_onnx -> build through the API; (built model, feeds in graph input order)."""
    r = RKNN()
    cfg = {"target_platform": chip}
    ds = None
    if mode is not None:
        cfg["quantized_dtype"] = mode
        ds = str(_dataset(tmp_path / "ds", feeds, "rknpu1" if chip == "rk1808" else "rknpu2"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(**cfg) == 0, r.last_error
        assert r.load_onnx(model) == 0, r.last_error
        assert r.build(do_quantization=mode is not None, dataset=ds) == 0, r.last_error
    m = r.model
    return m, [feeds[v.name] for v in m.graph.inputs]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_float16_backends_agree(case, tmp_path):
    model, feeds = case.build()
    m, xs = _build(tmp_path, model, feeds)
    problems, values = crosscheck.float16_layers(m.graph, xs)
    assert not problems, problems
    # every layer's outputs were compared, or the model has no onnxruntime form and runs on numpy
    # (at construction, or when onnxruntime refuses it at run time: then the answer is numpy's)
    if values == crosscheck.REFUSED_AT_RUN:
        sim = simulator(m.graph, m.mode, backend="ort")
        np.testing.assert_array_equal(sim.run(xs)[0], sim.reference.run(xs)[0])
        return
    assert values >= len(m.graph.nodes) or simulator(m.graph, m.mode, backend="ort").backend == "numpy"


def _quant_rows():
    seen = set()
    for case in all_cases():
        first = case.op not in seen
        seen.add(case.op)
        for mode, chip in MODES.items():
            if mode in EIGHT_BIT or (first and case.op in CORE_OPS):
                # +-inf of an empty reduction has no integer code: the backends' codes mean nothing
                marks = [pytest.mark.xfail(reason=EMPTY_IDENTITY, strict=False)] if _empty_extremum(case) else []
                yield pytest.param(case, mode, chip, id=f"{case.id}-{mode}", marks=marks)


@pytest.mark.parametrize("case,mode,chip", list(_quant_rows()))
def test_op_quantized_backends_agree(case, mode, chip, tmp_path):
    model, feeds = case.build()
    try:
        m, xs = _build(tmp_path, model, feeds, mode, chip)
    except AssertionError:
        if case.xfail:
            pytest.xfail(f"the build refuses it (float16 suite: {case.xfail})")
        raise
    problems, _ = crosscheck.integer_values(m.graph, m.quant, xs)
    assert not problems, problems


ZOO_MODES = ("float16", *MODES)


@pytest.mark.parametrize("name,mode", [(n, m) for n in zoo.names() for m in ZOO_MODES])
def test_zoo_backends_agree(name, mode, tmp_path):
    model, feeds, _ = zoo.get(name)
    chip = MODES.get(mode, "rk3588")
    m, xs = _build(tmp_path, model, feeds, None if mode == "float16" else mode, chip)
    if mode == "float16":
        problems, compared = crosscheck.float16_layers(m.graph, xs)
    else:
        problems, compared = crosscheck.integer_values(m.graph, m.quant, xs)
    assert not problems, problems
    if mode in ("float16", *EIGHT_BIT):   # these run on onnxruntime: something was compared
        assert compared > len(m.graph.nodes) // 2


@pytest.mark.parametrize("mode", ["float16", "w8a8"])
def test_default_backend_is_ort_and_numpy_is_selectable(mode, tmp_path, monkeypatch):
    model, feeds, _ = zoo.get("mobilenetv2_like")
    m, xs = _build(tmp_path, model, feeds, None if mode == "float16" else mode)
    monkeypatch.delenv("RKNN_DIAG_BACKEND", raising=False)
    fast = simulator(m.graph, m.mode, m.quant)
    monkeypatch.setenv("RKNN_DIAG_BACKEND", "numpy")
    ref = simulator(m.graph, m.mode, m.quant)
    assert (fast.backend, ref.backend) == ("ort", "numpy")
    for a, b in zip(fast.run(xs), ref.run(xs)):
        assert a.shape == b.shape and a.dtype == b.dtype
        if mode != "float16":
            assert np.array_equal(a, b)


def test_unknown_backend_is_refused(monkeypatch, tmp_path):
    model, feeds, _ = zoo.get("mobilenetv2_like")
    monkeypatch.setenv("RKNN_DIAG_BACKEND", "tensorrt")
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform="rk3588") == 0 and r.load_onnx(model) == 0
        assert r.build(do_quantization=False) == 0
        assert r.init_runtime() != 0
    assert "RKNN_DIAG_BACKEND" in str(r.last_error) and "numpy" in str(r.last_error)


# ---- planted faults: the cross-check must see them -----------------------------------------------
def test_a_wrong_rounding_in_the_integer_lowering_is_caught(tmp_path, monkeypatch):
    model, feeds, _ = zoo.get("mobilenetv2_like")
    m, xs = _build(tmp_path, model, feeds, "w8a8")
    assert crosscheck.integer_values(m.graph, m.quant, xs)[0] == []
    orig = ort_int.OrtIntegerSimulator._requant

    def floor_instead_of_round(self, e, *args, **kwargs):
        one = e.one
        e.one = lambda op, ins, **kw: one("Floor" if op == "Round" else op, ins, **kw)
        try:
            return orig(self, e, *args, **kwargs)
        finally:
            e.one = one

    monkeypatch.setattr(ort_int.OrtIntegerSimulator, "_requant", floor_instead_of_round)
    problems, _ = crosscheck.integer_values(m.graph, m.quant, xs)
    assert problems and any("LSB" in p for p in problems)


def test_a_missing_float16_rounding_is_caught(tmp_path, monkeypatch):
    model, feeds, _ = zoo.get("mobilenetv2_like")
    m, xs = _build(tmp_path, model, feeds)
    assert crosscheck.float16_layers(m.graph, xs)[0] == []

    class NoHalf:   # the Cast pair casts to float32 instead of float16: no rounding at the boundary
        FLOAT16 = ort_float.TensorProto.FLOAT
        FLOAT = ort_float.TensorProto.FLOAT

    monkeypatch.setattr(ort_float, "TensorProto", NoHalf)
    problems, _ = crosscheck.float16_layers(m.graph, xs)
    assert problems and any("not rounded to float16" in p for p in problems)


@pytest.mark.parametrize("name,mode", [(n, m) for n in ("ppocr_cls", "ppocrv4_det", "ppocrv4_rec")
                                       for m in ("float16", "w8a8")]
                         + [("ppocrv4_det", "w8a16"), ("ppocrv4_rec", "dynamic_fixed_point-i16"),
                            ("ppocr_cls", "w16a16i_dfp")])
def test_real_models_backends_agree(name, mode, tmp_path):
    """The real-model corpus through the user's path: raw text images, mean/std in the config."""
    from fixtures import realmodels
    m = realmodels.get(name)
    r = RKNN()
    quant = mode != "float16"
    with contextlib.redirect_stdout(io.StringIO()):
        chip = MODES.get(mode, "rk3588")
        assert r.config(mean_values=[m.mean], std_values=[m.std], target_platform=chip,
                        **({"quantized_dtype": mode} if quant else {})) == 0
        assert r.load_onnx(str(m.onnx_path)) == 0, r.last_error
        gen = "rknpu1" if chip == "rk1808" else "rknpu2"
        ds = str(realmodels.write_dataset(m, tmp_path / "ds", 4, generation=gen)) if quant else None
        assert r.build(do_quantization=quant, dataset=ds) == 0, r.last_error
    img = m.images(1, 0)[0]
    x = ((img.astype(np.float32) - np.float32(m.mean)) / np.float32(m.std)).transpose(2, 0, 1)[None]
    g = r.model.graph
    if quant:
        problems, compared = crosscheck.integer_values(g, r.model.quant, [x])
    else:
        problems, compared = crosscheck.float16_layers(g, [x])
    assert not problems, problems
    assert compared > len(g.nodes) // 2


def test_a_table_the_float_arithmetic_misses_stays_a_table(tmp_path, monkeypatch):
    """A piecewise-linear activation runs as float arithmetic only where that arithmetic gives
    int_sim's table on every input code; a planted error (half an output step added) makes the
    check refuse it, and the model still agrees bit for bit (it looks the table up instead)."""
    case = next(c for c in CASES if c.op == "HardSwish")
    model, feeds = case.build()
    m, xs = _build(tmp_path, model, feeds, "w8a8")
    seen = []
    chain = ort_int.OrtIntegerSimulator._lut_chain

    def recording(self, node, *args):
        out = chain(self, node, *args)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(ort_int.OrtIntegerSimulator, "_lut_chain", recording)
    assert crosscheck.integer_values(m.graph, m.quant, xs)[0] == []
    assert seen and all(seen)          # the honest arithmetic is taken
    piecewise = ort_int.OrtIntegerSimulator._piecewise

    def off_by_half_a_step(self, e, node, f):
        y = piecewise(self, e, node, f)
        half = np.float32(0.5 * float(self.reference.tensors[node.outputs[0]].scale))
        return e.one("Add", [y, e.const(half, "fault")])

    monkeypatch.setattr(ort_int.OrtIntegerSimulator, "_piecewise", off_by_half_a_step)
    seen.clear()
    assert crosscheck.integer_values(m.graph, m.quant, xs)[0] == []
    assert seen and not any(seen)      # refused: the table is looked up
