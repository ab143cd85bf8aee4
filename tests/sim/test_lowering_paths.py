"""Integer layers that now run on onnxruntime instead of numpy take that path, and a fault planted
in each lowering turns the value-by-value cross-check red (the paths are bit-exact by argument;
these tests show the check would see it if the argument were wrong)."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures import zoo
from rknn_diag.sim import crosscheck, ort_int
from rknn_diag.sim.backend import simulator
from tests.sim.test_backends import CASES, _build


def _ort(m):
    sim = simulator(m.graph, m.mode, m.quant, backend="ort")
    assert sim.backend == "ort"
    return sim


@pytest.mark.parametrize("case", [c for c in CASES if c.op == "AveragePool"], ids=lambda c: c.id)
def test_average_pool_runs_on_onnxruntime(case, tmp_path):
    model, feeds = case.build()
    m, xs = _build(tmp_path, model, feeds, "w8a8")
    assert crosscheck.integer_values(m.graph, m.quant, xs)[0] == []
    pools = [n.name for n in m.graph.nodes if n.op_type == "AveragePool"]
    assert pools and not set(pools) & set(_ort(m).numpy_nodes)


def test_a_wrong_average_pool_lowering_is_caught(tmp_path, monkeypatch):
    case = next(c for c in CASES if c.op == "AveragePool")
    model, feeds = case.build()
    m, xs = _build(tmp_path, model, feeds, "w8a8")
    orig = ort_int.avgpool_constants

    def one_more_step(*args):   # the per-position multiplier of the next code up
        *head, mult, bound = orig(*args)
        return (*head, mult * 1.01, bound)

    monkeypatch.setattr(ort_int, "avgpool_constants", one_more_step)
    problems, _ = crosscheck.integer_values(m.graph, m.quant, xs)
    assert problems and any("LSB" in p for p in problems)


def test_moves_on_the_centred_form_are_taken_and_a_slip_is_caught(tmp_path, monkeypatch):
    """resnet18_like's MaxPool after its stem conv runs on the conv's centred float32 output; the
    same path with the zero point slipped by one code must be seen."""
    model, feeds, _ = zoo.get("resnet18_like")
    m, xs = _build(tmp_path, model, feeds, "w8a8")
    taken = []
    orig = ort_int.OrtIntegerSimulator._direct_centred

    def recording(self, node, seg, ins, out_kinds, qp):
        done = orig(self, node, seg, ins, out_kinds, qp)
        taken.append(done)
        return done

    monkeypatch.setattr(ort_int.OrtIntegerSimulator, "_direct_centred", recording)
    assert crosscheck.integer_values(m.graph, m.quant, xs)[0] == []
    assert any(taken)

    def slipped(self, node, seg, ins, out_kinds, qp):
        e = seg.e
        c = e.centered.get(node.inputs[0]) or e.outer.get(node.inputs[0])
        if c is None:
            return False
        e.centered[node.inputs[0]] = e.one("Add", [c, e.const(np.float32(1), "fault")])
        return orig(self, node, seg, ins, out_kinds, qp)

    monkeypatch.setattr(ort_int.OrtIntegerSimulator, "_direct_centred", slipped)
    problems, _ = crosscheck.integer_values(m.graph, m.quant, xs)
    assert problems and any("LSB" in p for p in problems)
