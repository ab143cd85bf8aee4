"""Loading ONNX: every refusal names what was wrong, where, and the fix."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from fixtures import models
from rknn_diag.errors import ModelLoadError, UnsupportedOpError
from rknn_diag.frontends.onnx_loader import load


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load(tmp_path / "nope.onnx")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty") as e:
        load(p)
    assert str(p) in str(e.value)


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(b"\xff\x00garbage" * 50)
    with pytest.raises(ModelLoadError) as e:
        load(p)
    assert str(p) in str(e.value)


def test_unsupported_op_names_op_node_and_alternatives():
    with pytest.raises(UnsupportedOpError) as e:
        load(models.with_op("NonMaxSuppressionX", domain="com.example"))
    assert "my_nonmaxsuppressionx" in str(e.value) and "domain" in str(e.value)
    with pytest.raises(UnsupportedOpError) as e:
        load(models.with_op("Det"))   # an op without a kernel (Hardmax has one since issue 11)
    text = str(e.value)
    assert "'Det'" in text and "my_det" in text and "supported ops:" in text and "§1.3.5" in text


def test_unknown_attribute_is_named():
    with pytest.raises(UnsupportedOpError, match="attribute 'bogus' of Relu"):
        load(models.with_op("Relu", bogus=3))


def test_dynamic_input_needs_input_size_list():
    with pytest.raises(ModelLoadError, match="input_size_list"):
        load(models.dynamic_batch())
    g = load(models.dynamic_batch(), input_size_list=[[2, 3, 8, 8]])
    assert g.inputs[0].shape == (2, 3, 8, 8)
    g = load(models.dynamic_batch(), input_size_list=[[3, 8, 8]])   # vendor habit: no batch dim
    assert g.inputs[0].shape == (1, 3, 8, 8)


def test_input_size_list_cannot_contradict_fixed_dims():
    with pytest.raises(ModelLoadError, match="contradicts"):
        load(models.conv_bn_relu(), input_size_list=[[1, 3, 9, 9]])


@pytest.mark.parametrize("opset", [6, 99])
def test_opset_out_of_range(opset):
    m = models.conv_bn_relu()
    m.opset_import[0].version = opset
    with pytest.raises(ModelLoadError, match=f"opset {opset} is outside"):
        load(m)


def test_newest_opset_is_accepted():
    m = models.conv_bn_relu()
    m.opset_import[0].version = onnx.defs.onnx_opset_version()
    assert load(m).opset == onnx.defs.onnx_opset_version()


def test_cut_subgraph_by_inputs_and_outputs():
    g = load(models.conv_bn_relu(), inputs=["bn"], outputs=["r"])
    assert [v.name for v in g.inputs] == ["bn"] and [v.name for v in g.outputs] == ["r"]
    assert {n.op_type for n in g.nodes} == {"Mul", "Relu"}


def test_cut_with_unknown_tensor_name():
    with pytest.raises(ModelLoadError, match="not in the model"):
        load(models.conv_bn_relu(), outputs=["nope"])


def test_control_flow_refused():
    body = helper.make_graph([], "b", [], [])
    node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body, name="iff")
    g = helper.make_graph([node], "m", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedOpError):
        load(m)


def test_constants_become_arrays():
    g = load(models.conv_bn_relu())
    assert isinstance(g.constants["W"], np.ndarray) and g.constants["W"].shape == (8, 3, 3, 3)
