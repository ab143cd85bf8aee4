"""The prototxt reader and the GraphDef classes."""

from __future__ import annotations

import pytest

from rknn_diag.doctor import prototxt
from rknn_diag.doctor.tf_graph import classes, read_graph
from rknn_diag.errors import ModelLoadError


def test_prototxt_fields_blocks_lists_comments_and_lines():
    m = prototxt.parse('name: "n" # comment\nlayer {\n  name: \'a\\\'b\'\n  top: ["x", "y"]\n  p < k: 1; k: 2 >\n}\n')
    [layer] = m.messages("layer")
    assert m.get("name") == "n" and layer.get("name") == "a'b" and layer.all("top") == ["x", "y"]
    assert layer.messages("p")[0].all("k") == ["1", "2"] and layer.line == 2


@pytest.mark.parametrize("text, line, needle", [
    ("layer {\n name: 'a'\n", 1, "missing '}'"),
    ("a: 1\nb c\n", 2, "neither ':' nor a block"),
    ("a: 1\n@\n", 2, "unexpected character"),
    ("a: }\n", 1, "expected a value"),
])
def test_prototxt_errors_say_where(text, line, needle):
    with pytest.raises(prototxt.PrototxtError) as e:
        prototxt.parse(text, "net.prototxt")
    assert needle in str(e.value) and f"net.prototxt:{line}" in str(e.value)


def test_graphdef_round_trip_and_unknown_fields_survive(tmp_path):
    GraphDef, NodeDef, AttrValue = classes()
    g = GraphDef()
    n = g.node.add(name="c", op="Conv2D", input=["x", "w"])
    n.attr["dilations"].list.i.extend([1, 2, 2, 1])
    data = g.SerializeToString() + b"\x22\x02\x08\x1b"   # + GraphDef.versions {producer: 27}, not declared here
    p = tmp_path / "g.pb"
    p.write_bytes(data)
    back = read_graph(p)
    assert back.node[0].op == "Conv2D" and list(back.node[0].attr["dilations"].list.i) == [1, 2, 2, 1]
    assert back.SerializeToString().endswith(b"\x22\x02\x08\x1b")


def test_graphdef_refuses_garbage(tmp_path):
    p = tmp_path / "g.pb"
    p.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(ModelLoadError, match="not a TensorFlow GraphDef"):
        read_graph(p)
