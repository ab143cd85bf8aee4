"""The part of Caffe's `caffe.proto` that a .caffemodel's weights live in, declared here so
protobuf reads the binary with no Caffe and no generated module (so it works on every
protobuf the core allows). Field numbers are the wire format's, identical in BVLC Caffe
(the guide's `proto='caffe'`) and in the LSTM fork (`proto='lstm_caffe'`, §1.3.1 note 3):
the forks differ in layer parameters, which the loader reads from the prototxt text.
Unknown fields (every layer parameter) are skipped by protobuf when parsing."""

from __future__ import annotations

from functools import lru_cache

from ._proto_schema import F, OPT, REP, message_classes

# message -> [(field, number, label, type, message type or None, packed)]
SCHEMA = {
    "BlobShape": [("dim", 1, REP, F.TYPE_INT64, None, True)],
    "BlobProto": [("shape", 7, OPT, F.TYPE_MESSAGE, "BlobShape", False),
                  ("data", 5, REP, F.TYPE_FLOAT, None, True),
                  ("double_data", 8, REP, F.TYPE_DOUBLE, None, True),
                  ("num", 1, OPT, F.TYPE_INT64, None, False),
                  ("channels", 2, OPT, F.TYPE_INT64, None, False),
                  ("height", 3, OPT, F.TYPE_INT64, None, False),
                  ("width", 4, OPT, F.TYPE_INT64, None, False)],
    "LayerParameter": [("name", 1, OPT, F.TYPE_STRING, None, False),
                       ("type", 2, OPT, F.TYPE_STRING, None, False),
                       ("bottom", 3, REP, F.TYPE_STRING, None, False),
                       ("top", 4, REP, F.TYPE_STRING, None, False),
                       ("blobs", 7, REP, F.TYPE_MESSAGE, "BlobProto", False)],
    # V1 (`layers`, deprecated): only detected, to refuse with the guide's fix (§3.7).
    "V1LayerParameter": [("name", 4, OPT, F.TYPE_STRING, None, False),
                         ("blobs", 6, REP, F.TYPE_MESSAGE, "BlobProto", False)],
    "NetParameter": [("name", 1, OPT, F.TYPE_STRING, None, False),
                     ("layer", 100, REP, F.TYPE_MESSAGE, "LayerParameter", False),
                     ("layers", 2, REP, F.TYPE_MESSAGE, "V1LayerParameter", False)],
}


@lru_cache(maxsize=None)
def message_class(name: str):
    return message_classes("caffe", SCHEMA)[name]
