"""TensorFlow GraphDef message classes without TensorFlow.

No well-kept package ships GraphDef's generated classes without TensorFlow (or
TensorBoard), so we declare the subset the checks read -- GraphDef.node,
NodeDef.{name, op, input, device, attr}, AttrValue and its ListValue -- as a
descriptor and let protobuf (already a dependency through onnx) build the classes.
Field numbers are those of tensorflow/core/framework/{graph,node_def,attr_value}.proto.
Fields we do not declare are kept as unknown fields; shape, tensor and func values
are declared `bytes` (same wire type as the messages they are) and left unparsed.
"""

from __future__ import annotations

from functools import lru_cache

from ..errors import ModelLoadError

_PKG = "rknn_diag_doctor_tf"


@lru_cache(maxsize=1)
def classes():
    """(GraphDef, NodeDef, AttrValue) message classes."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name=f"{_PKG}.proto", package=_PKG, syntax="proto3")

    def msg(name, fields, parent=None):
        m = (parent.nested_type if parent else fd.message_type).add(name=name)
        for number, fname, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg("ListValue", [
        (2, "s", F.TYPE_BYTES, rep, None), (3, "i", F.TYPE_INT64, rep, None), (4, "f", F.TYPE_FLOAT, rep, None),
        (5, "b", F.TYPE_BOOL, rep, None), (6, "type", F.TYPE_INT32, rep, None), (7, "shape", F.TYPE_BYTES, rep, None),
        (8, "tensor", F.TYPE_BYTES, rep, None), (9, "func", F.TYPE_BYTES, rep, None)])
    attr = msg("AttrValue", [
        (1, "list", F.TYPE_MESSAGE, opt, f".{_PKG}.ListValue"), (2, "s", F.TYPE_BYTES, opt, None),
        (3, "i", F.TYPE_INT64, opt, None), (4, "f", F.TYPE_FLOAT, opt, None), (5, "b", F.TYPE_BOOL, opt, None),
        (6, "type", F.TYPE_INT32, opt, None), (7, "shape", F.TYPE_BYTES, opt, None),
        (8, "tensor", F.TYPE_BYTES, opt, None), (9, "placeholder", F.TYPE_STRING, opt, None),
        (10, "func", F.TYPE_BYTES, opt, None)])
    oneof = attr.oneof_decl.add(name="value")
    for f in attr.field:
        f.oneof_index = 0
    del oneof
    node = msg("NodeDef", [
        (1, "name", F.TYPE_STRING, opt, None), (2, "op", F.TYPE_STRING, opt, None),
        (3, "input", F.TYPE_STRING, rep, None), (4, "device", F.TYPE_STRING, opt, None),
        (5, "attr", F.TYPE_MESSAGE, rep, f".{_PKG}.NodeDef.AttrEntry")])
    entry = msg("AttrEntry", [(1, "key", F.TYPE_STRING, opt, None),
                              (2, "value", F.TYPE_MESSAGE, opt, f".{_PKG}.AttrValue")], parent=node)
    entry.options.map_entry = True
    msg("GraphDef", [(1, "node", F.TYPE_MESSAGE, rep, f".{_PKG}.NodeDef")])

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    def get(name: str):
        desc = pool.FindMessageTypeByName(f"{_PKG}.{name}")
        if hasattr(message_factory, "GetMessageClass"):        # protobuf >= 4.21
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)   # older protobuf

    return get("GraphDef"), get("NodeDef"), get("AttrValue")


def read_graph(path) -> "object":
    """A frozen graph (.pb) as a GraphDef message; ModelLoadError if it is not one."""
    from .modelinfo import check_size
    check_size(path)
    GraphDef, _, _ = classes()
    g = GraphDef()
    try:
        g.ParseFromString(open(path, "rb").read())
    except Exception as e:  # protobuf's DecodeError
        raise ModelLoadError(f"not a TensorFlow GraphDef ({e})", where=str(path),
                             fix="pass a frozen graph .pb (tf.compat.v1.graph_util.convert_variables_to_constants)",
                             ref="4") from None
    return g
