"""Message classes from a few declared fields of a foreign .proto (Caffe, TensorFlow), so
protobuf reads those binaries with no framework and no generated module, on every protobuf
the core allows. Undeclared fields are skipped as unknown fields when parsing."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool

F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def message_classes(package: str, schema: dict, syntax: str = "proto2") -> dict:
    """schema: message -> [(field, number, label, type, message type or None, packed)]."""
    fd = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax=syntax)
    for msg, fields in schema.items():
        m = fd.message_type.add(name=msg)
        for name, number, label, ftype, type_name, packed in fields:
            f = m.field.add(name=name, number=number, label=label, type=ftype)
            if type_name:
                f.type_name = f".{package}.{type_name}"
            if packed and syntax == "proto2":
                f.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    out = {}
    for msg in schema:
        desc = pool.FindMessageTypeByName(f"{package}.{msg}")
        try:
            from google.protobuf.message_factory import GetMessageClass
            out[msg] = GetMessageClass(desc)
        except ImportError:    # protobuf < 4.21
            from google.protobuf.message_factory import MessageFactory
            out[msg] = MessageFactory(pool).GetPrototype(desc)
    return out
