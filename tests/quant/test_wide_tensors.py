"""Tensors inside a layer the NPU fuses (`qrules.roles.wide_tensors`): the conv operand an Add
adds in the accumulator (`residual_operands`) and an attention's scores and probabilities
(`attention_internals`). Which tensors are chosen, and that a w8a8 build keeps them at 16 bits
while every other tensor stays 8-bit (and a model file claiming 16 bits elsewhere is refused)."""

from __future__ import annotations

import numpy as np
import pytest

from rknn_diag import modelfile
from rknn_diag.errors import ModelInvalidError
from rknn_diag.ir import Graph, Node, Value
from rknn_diag.qrules import roles

from . import _models
from .conftest import MODES as CHIPS, build


def _graph(nodes: list[Node], outputs: list[str], consts: tuple[str, ...] = ()) -> Graph:
    c = {f"w{i}": np.ones((4, 4, 1, 1), np.float32) for i in range(6)}
    c.update({k: np.ones(4, np.float32) for k in consts})
    return Graph("g", nodes, [Value("x", (1, 4, 8, 8))], [Value(o) for o in outputs], c)


def conv(name: str, x: str, w: str) -> Node:
    return Node("Conv", name, [x, w], [name])


def test_the_conv_operand_of_a_residual_add():
    g = _graph([conv("c1", "x", "w1"), conv("c2", "c1", "w2"), Node("Add", "add", ["c2", "c1"], ["y"])], ["y"])
    # c1 has two readers (c2 and the Add): only c2 is the Add's alone
    assert roles.residual_operands(g) == {"c2"}


def test_of_two_conv_operands_the_last_one():
    g = _graph([conv("a", "x", "w1"), conv("b", "x", "w2"), Node("Add", "add", ["a", "b"], ["y"])], ["y"])
    assert roles.residual_operands(g) == {"b"}     # ResNet's downsample branch, as the vendor picks


def test_no_operand_when_it_is_read_elsewhere_a_graph_output_or_a_constant_add():
    shared = _graph([conv("a", "x", "w1"), conv("b", "x", "w2"), Node("Add", "add", ["a", "b"], ["y"]),
                     Node("Relu", "r", ["b"], ["z"])], ["y", "z"])
    assert roles.residual_operands(shared) == {"a"}
    output = _graph([conv("a", "x", "w1"), Node("Add", "add", ["a", "x"], ["y"])], ["y", "a"])
    assert roles.residual_operands(output) == set()
    const = _graph([conv("a", "x", "w1"), Node("Add", "add", ["a", "k"], ["y"])], ["y"], consts=("k",))
    assert roles.residual_operands(const) == set()
    pooled = _graph([Node("MaxPool", "p", ["x"], ["p"]), Node("Add", "add", ["p", "x"], ["y"])], ["y"])
    assert roles.residual_operands(pooled) == set()


@pytest.mark.parametrize("mode", ["w8a8", "asymmetric_quantized-u8"])
def test_a_build_keeps_only_the_residual_operand_wide(mode, tmp_path):
    r, _ = build(_models.small_cnn(), tmp_path, [(1, 3, 16, 16)], CHIPS[mode], quantized_dtype=mode)
    wide = roles.residual_operands(r.model.graph)
    assert wide, "small_cnn has a conv output that only its residual Add reads"
    dtypes = {k: v["dtype"] for k, v in r.model.quant["tensors"].items()}
    act = "int8" if mode == "w8a8" else "uint8"
    for name, dt in dtypes.items():
        want = "int16" if (name in wide and mode == "w8a8") else act   # RKNPU1: no evidence, stays 8-bit
        assert dt == want, (name, dt, want)


def test_a_model_file_claiming_16_bits_elsewhere_is_refused(tmp_path):
    r, _ = build(_models.small_cnn(), tmp_path, [(1, 3, 16, 16)], CHIPS["w8a8"], quantized_dtype="w8a8")
    path = tmp_path / "m.rknn"
    assert r.export_rknn(str(path)) == 0
    modelfile.load(path)                              # the 16-bit residual operand is accepted
    wide = roles.residual_operands(r.model.graph)
    wide = roles.wide_tensors(r.model.graph)
    other = next(k for k in r.model.quant["tensors"] if k not in wide and k not in {v.name for v in r.model.graph.inputs})
    r.model.quant["tensors"][other] = {**r.model.quant["tensors"][other], "dtype": "int16"}
    assert r.export_rknn(str(tmp_path / "bad.rknn")) == 0
    with pytest.raises(ModelInvalidError, match="int16"):
        modelfile.load(tmp_path / "bad.rknn")


def _attention(extra_reader: bool = False, constant_k: bool = False) -> Graph:
    nodes = [Node("MatMul", "qk", ["q", "w0" if constant_k else "k"], ["scores"]),
             Node("Mul", "scale", ["scores", "s"], ["scaled"]),
             Node("Softmax", "softmax", ["scaled"], ["probs"], {"axis": -1}),
             Node("MatMul", "pv", ["probs", "v"], ["y"])]
    outputs = ["y"]
    if extra_reader:
        nodes.append(Node("Relu", "peek", ["probs"], ["z"]))
        outputs.append("z")
    g = _graph(nodes, outputs)
    g.inputs = [Value(n, (1, 4, 4)) for n in ("q", "k", "v")]
    g.constants["s"] = np.float32(0.5)
    return g


def test_an_attentions_scores_and_probabilities():
    assert roles.attention_internals(_attention()) == {"scores", "scaled", "probs"}
    assert roles.attention_internals(_attention(extra_reader=True)) == set()   # probs read elsewhere
    assert roles.attention_internals(_attention(constant_k=True)) == set()     # a Linear, not q·k


def test_a_w8a8_attention_build_keeps_scores_and_probabilities_wide(tmp_path):
    from onnx import TensorProto, helper
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["scores"], name="qk"),
             helper.make_node("Mul", ["scores", "s"], ["scaled"], name="scale"),
             helper.make_node("Softmax", ["scaled"], ["probs"], axis=-1, name="softmax"),
             helper.make_node("MatMul", ["probs", "v"], ["y"], name="pv")]
    info = lambda n, shape: helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)   # noqa: E731
    g = helper.make_graph(nodes, "attn", [info("q", [1, 6, 8]), info("kt", [1, 8, 6]), info("v", [1, 6, 8])],
                          [info("y", [1, 6, 8])], [helper.make_tensor("s", TensorProto.FLOAT, [], [0.35])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    r, _ = build(m, tmp_path, [(1, 6, 8), (1, 8, 6), (1, 6, 8)], CHIPS["w8a8"], quantized_dtype="w8a8")
    dtypes = {k: v["dtype"] for k, v in r.model.quant["tensors"].items()}
    assert {k for k, d in dtypes.items() if d == "int16"} == {"scores", "scaled", "probs"}, dtypes
