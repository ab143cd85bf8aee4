"""Which framework versions each toolkit release supports: one table, sources inline.

Ranges are PEP 440 specifiers (checked with `packaging`); None = not supported.
"""

from __future__ import annotations

# Guide §1.3.1, the table "RKNN Toolkit / TensorFlow / TF Lite / Caffe / ONNX /
# Darknet / Pytorch / MXNet" (RKNN-Toolkit Trouble Shooting v1.4.0).
_TF = ">=1.10.0,<=1.13.2"          # §1.3.1 table, every row
_TFLITE_SCHEMA = 3                  # §1.3.1 table "Schema version = 3"; note 2: commit 0c4f5dfe
TFLITE_SCHEMA_VERSION = _TFLITE_SCHEMA
_CAFFE = "1.0"                      # §1.3.1 table; note 3: BVLC 21d0608 or warpctc-caffe bd6181b
_DARKNET = "810d7f7"                # §1.3.1 table and note 5
_TORCH = ">=1.0.0,<=1.2.0"          # §1.3.1 table, rows 1.3.0 and later
_MXNET = ">=1.4.0,<=1.5.1"          # §1.3.1 table, rows 1.3.0 and later

TOOLKIT1 = {
    # toolkit: {framework: specifier or None}; onnx = the ONNX *release* the toolkit reads
    "1.0.0": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.3.0",
              "darknet": _DARKNET, "torch": None, "mxnet": None},
    "1.1.0": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.3.0",
              "darknet": _DARKNET, "torch": None, "mxnet": None},
    "1.2.0": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.4.1",
              "darknet": _DARKNET, "torch": None, "mxnet": None},
    "1.2.1": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.4.1",
              "darknet": _DARKNET, "torch": None, "mxnet": None},
    "1.3.0": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.4.1",
              "darknet": _DARKNET, "torch": _TORCH, "mxnet": _MXNET},
    "1.3.2": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.4.1",
              "darknet": _DARKNET, "torch": _TORCH, "mxnet": _MXNET},
    "1.4.0": {"tensorflow": _TF, "tflite_schema": _TFLITE_SCHEMA, "caffe": _CAFFE, "onnx": "1.4.1",
              "darknet": _DARKNET, "torch": _TORCH, "mxnet": _MXNET},
}

# Guide §5.4 item 1: "We recommend using pytorch 1.2.0 because our tests are based on 1.2.0."
TORCH_TESTED = "1.2.0"

# Guide §4.4: graphs from TensorFlow >= 1.14.0 carry Conv2D `explicit_paddings`, which
# TensorFlow <= 1.13.2 (what toolkit 1.x uses, §1.3.1) does not know.
TF_EXPLICIT_PADDINGS_SINCE = "1.14.0"

# Guide §1.3.4: numpy 1.16.3 changed np.load's allow_pickle default; toolkits before
# 1.0.0 load their data with pickled object arrays.
NUMPY_PICKLE_CHANGE = "1.16.3"
TOOLKIT_FIXED_PICKLE = "1.0.0"

# Guide §1.8.2: on Windows, toolkit 1.2.0 exits silently unless PYTHONLEGACYWINDOWSSTDIO=1;
# 1.2.1 and later do not need it.
WINDOWS_STDIO_TOOLKITS = ("1.2.0",)

# Guide §1.6.3 item 2: before 1.3.0, pre-compiling fails on model names with characters
# other than letters, digits and "_"; 1.3.0 and later handle them.
PRECOMPILE_NAME_FIXED = "1.3.0"

# rknn-toolkit2 declared pins (the wheel's Requires-Dist), for when it is named with
# --toolkit-version rather than installed; source: /work/shared/VENDOR_TOOLKIT.md
# ("Its declared pins ... numpy<=1.26.4, onnx<=1.18.0, protobuf<=4.25.4, torch<=2.4.0").
TOOLKIT2_PINS = {
    "2.5.0": {"numpy": "<=1.26.4", "onnx": "<=1.18.0", "protobuf": "<=4.25.4", "torch": "<=2.4.0"},
}
