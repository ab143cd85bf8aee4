"""Hostile and malformed ONNX files: each class is refused at load_onnx with
RKNN_ERR_MODEL_INVALID and a message naming the fault; nothing reaches build or inference,
nothing allocates gigabytes, nothing is an "internal error"."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fixtures import models
from rknn_diag import limits
from rknn_diag.api import RKNN
from rknn_diag.errors import RKNN_ERR_MODEL_INVALID, ModelLoadError


def _graph(nodes, inits=None, out="y", in_shape=(1, 3, 4, 4), out_shape=None):
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _relu(i, o, name):
    return helper.make_node("Relu", [i], [o], name=name)


def _bomb(op: str) -> onnx.ModelProto:
    big = np.array([1, 3, 40000, 40000], np.int64)        # 4.8 G elements from a few bytes
    if op == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="bomb"),
                 helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    else:
        nodes = [helper.make_node("Expand", ["one", "shape"], ["c"], name="bomb"),
                 helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    return _graph(nodes, {"shape": big, "one": np.ones((1, 1, 1, 1), np.float32)})


HOSTILE = {
    "missing-initializer": (_graph([helper.make_node("Conv", ["x", "W"], ["y"], name="conv")]),
                            "'W' of node 'conv' is produced by no node"),
    "dangling-input": (_graph([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]), "dangling"),
    "cycle": (_graph([helper.make_node("Add", ["x", "b"], ["a"], name="n1"), _relu("a", "b", "n2"),
                      _relu("a", "y", "n3")]), "cycle"),
    "reversed-order": (_graph([_relu("a", "y", "second"), _relu("x", "a", "first")]), "topological order"),
    "output-never-produced": (_graph([_relu("x", "a", "r")], out="y"), "output 'y' is produced by no node"),
    "no-outputs": (None, "no outputs"),
    "produced-twice": (_graph([_relu("x", "y", "r1"), _relu("x", "y", "r2")]), "produced twice"),
    "dim-2^31": (_graph([_relu("x", "y", "r")], in_shape=(1, 3, 2 ** 31, 4)), "dimension 2147483648"),
    "constantofshape-bomb": (_bomb("ConstantOfShape"), "over the cap"),
    "expand-bomb": (_bomb("Expand"), "over the cap"),
    "initializer-claims-huge-dims": (None, "over the cap"),
    "ill-typed-attribute": (_graph([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", group="two")],
                                   {"W": np.ones((2, 3, 1, 1), np.float32)}), "Mismatched attribute type"),
}


def _no_outputs():
    m = _graph([_relu("x", "y", "r")])
    del m.graph.output[:]
    return m


def _huge_initializer():
    m = _graph([helper.make_node("Add", ["x", "W"], ["y"], name="add")])
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1, 3, 65536, 65536])
    t.raw_data = b"\x00" * 16        # the header lies: 50 G elements declared
    m.graph.initializer.append(t)
    return m


def _model(case):
    if case == "no-outputs":
        return _no_outputs()
    if case == "initializer-claims-huge-dims":
        return _huge_initializer()
    return HOSTILE[case][0]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_onnx_refused_at_load_with_model_invalid(case, tmp_path, capsys):
    path = tmp_path / f"{case}.onnx"
    path.write_bytes(_model(case).SerializeToString())
    r = RKNN()
    r.config(mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]])
    capsys.readouterr()
    assert r.load_onnx(str(path)) == RKNN_ERR_MODEL_INVALID
    out = capsys.readouterr().out
    assert "internal error" not in out
    assert HOSTILE[case][1] in out, out
    assert str(path) in out
    assert isinstance(r.last_error, ModelLoadError)
    assert r.build(do_quantization=False) != 0      # nothing was loaded: nothing builds


def test_the_checks_pass_a_good_model():
    """The same checks on a sound model: the fault planted above is what trips them."""
    from rknn_diag.frontends.onnx_loader import load
    g = load(_graph([_relu("x", "a", "first"), _relu("a", "y", "second")]))
    assert [n.name for n in g.nodes] == ["first", "second"]
    load(models.conv_bn_relu())


def test_dim_cap_is_the_limit_not_a_guess():
    from rknn_diag.frontends.onnx_loader import load
    load(_graph([_relu("x", "y", "r")], in_shape=(1, 1, 1, limits.MAX_DIM // 2 ** 6)))
    with pytest.raises(ModelLoadError, match="dimension"):
        load(_graph([_relu("x", "y", "r")], in_shape=(1, 1, 1, limits.MAX_DIM + 1)))


def test_bomb_hidden_from_shape_inference_is_refused_at_build_before_it_allocates(tmp_path, capsys):
    """Max() hides the shape from onnx's data propagation; constant folding must still
    refuse a 4.8 G-element ConstantOfShape before running it."""
    big = np.array([1, 3, 40000, 40000], np.int64)
    m = _graph([helper.make_node("Max", ["a", "b"], ["s"], name="max"),
                helper.make_node("ConstantOfShape", ["s"], ["c"], name="bomb"),
                helper.make_node("Add", ["x", "c"], ["y"], name="add")], {"a": big, "b": big})
    path = tmp_path / "hidden.onnx"
    path.write_bytes(m.SerializeToString())
    r = RKNN()
    r.config(mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]])
    assert r.load_onnx(str(path)) == 0
    capsys.readouterr()
    assert r.build(do_quantization=False) == RKNN_ERR_MODEL_INVALID
    out = capsys.readouterr().out
    assert "node 'bomb' (ConstantOfShape)" in out and "over the cap" in out and "internal error" not in out
