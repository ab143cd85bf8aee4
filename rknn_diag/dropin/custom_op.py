"""Custom operators, both generations, run in the simulator by calling the user's own code.

toolkit2: `rknn.reg_custom_op(obj)`, where `obj` has `op_type` (the ONNX node's op_type, any
    domain), `shape_infer(node, in_shapes, in_dtypes) -> (out_shapes, out_dtypes)` (used by the
    build's shape inference) and `compute(node, inputs) -> [outputs]` (numpy in, numpy out).
    `node` is an onnx NodeProto carrying the node's attributes; read them with
    `get_node_attr(node, name)` (importable as `rknn_diag.api.custom_op.get_node_attr`).
1.x: `rknn.register_op('<dir>/<Name>.rknnop')`. The compiled `.rknnop` (a board kernel) cannot
    run here; the `op.yml` next to it names the op (`name`) and its Python file (`op_py_file`),
    whose `RKNNCustomOP` subclass (`op = name`) is used: `compute_output_shape(inputs_shape,
    params)` and `compute_output_tensor(const_tensor, inputs_tensor, params)`. 1.x custom ops
    were TensorFlow ops, so 4-D tensors reach them NHWC and their results go back NCHW;
    `params` are the ONNX node's attributes.
Both: the op must not be a built-in op's name. In a quantized build the op runs in float
between dequantized inputs and a quantized output (the integer simulator's float fallback).
Registrations last until `release()` of the RKNN object that made them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from onnx import helper, numpy_helper

from ..errors import ConfigError, ModelLoadError
from ..ops import registry


def get_node_attr(node: Any, name: str, default: Any = None) -> Any:
    """An attribute of a custom op's node (an onnx NodeProto), as a Python value."""
    for a in getattr(node, "attribute", []):
        if a.name == name:
            v = helper.get_attribute_value(a)
            if hasattr(v, "dims"):
                return numpy_helper.to_array(v)
            return v.decode("utf-8") if isinstance(v, bytes) else v
    return default


def _node(op_type: str, n_in: int, attrs: dict[str, Any]):
    kw = {k: (numpy_helper.from_array(np.asarray(v)) if isinstance(v, np.ndarray) else v) for k, v in attrs.items()}
    return helper.make_node(op_type, [f"input{i}" for i in range(n_in)], ["output0"], name=op_type, **kw)


def _outputs(op_type: str, outs: Any, what: str) -> list[np.ndarray]:
    if isinstance(outs, np.ndarray) or not isinstance(outs, (list, tuple)):
        raise ModelLoadError(f"{what} of custom op '{op_type}' returned {type(outs).__name__}, not a list of "
                             f"arrays", fix="return a list with one array per output")
    if not outs:
        raise ModelLoadError(f"{what} of custom op '{op_type}' returned no outputs",
                             fix="return a list with one array per output")
    return [np.asarray(o) for o in outs]


def register_toolkit2(op: Any) -> tuple[str, Any]:
    """reg_custom_op: check the object and register its compute and shape_infer."""
    op_type = getattr(op, "op_type", None)
    missing = [m for m in ("shape_infer", "compute") if not callable(getattr(op, m, None))]
    if not isinstance(op_type, str) or not op_type or missing:
        raise ConfigError(f"reg_custom_op needs an object with op_type (str), shape_infer and compute; "
                          f"{type(op).__name__} lacks {missing or ['op_type']}",
                          fix="see the vendor's custom_op example: class with op_type, "
                              "shape_infer(node, in_shapes, in_dtypes), compute(node, inputs)")

    def kernel(*inputs, **attrs):
        node = _node(op_type, len(inputs), attrs)
        return _outputs(op_type, op.compute(node, [np.asarray(x) for x in inputs]), "compute")

    def shapes(attrs, in_shapes, in_dtypes):
        out_shapes, out_dtypes = op.shape_infer(_node(op_type, len(in_shapes), attrs), in_shapes, in_dtypes)
        return out_shapes, out_dtypes

    return op_type, _register(op_type, kernel, shapes, f"custom op {type(op).__name__}")


def _register(op_type: str, kernel, shapes, doc: str):
    try:
        return registry.register_custom(op_type, kernel, shapes, doc)
    except TypeError:
        raise ConfigError(f"custom op_type '{op_type}' is the name of a built-in op",
                          fix="give the custom op its own op_type (the vendor's examples prefix 'cst')") from None


# ---- toolkit 1.x -------------------------------------------------------------------------------
class IoMap:
    """1.x: one input or output port of a custom op (name, kind 'in'/'out', description)."""

    def __init__(self, name: str, kind: str = "in", doc: str = ""):
        self.name, self.kind, self.doc = name, kind, doc


class Shape:
    """1.x: a tensor shape with its layout; `format('nhwc'|'nchw')` gives it in either."""

    def __init__(self, shape: list[int] | None = None, fmt: str = "nchw"):
        self.shape, self.fmt = list(shape or []), fmt

    def set_shape(self, shape: list[int], fmt: str = "nhwc") -> None:
        self.shape, self.fmt = [int(d) for d in shape], fmt

    def format(self, fmt: str = "nhwc") -> list[int]:
        s = list(self.shape)
        if len(s) == 4 and fmt != self.fmt:
            return [s[0], s[2], s[3], s[1]] if fmt == "nhwc" else [s[0], s[3], s[1], s[2]]
        return s


class RKNNCustomOP:
    """1.x base class of a custom op's Python side (see the module docstring)."""

    op = ""
    def_input: list[IoMap] = []
    def_output: list[IoMap] = []

    def load_params_from_tf(self, node_def, tensor_data_map) -> dict:
        return {}

    def compute_output_shape(self, inputs_shape: list[Shape], params: dict) -> list[Shape]:
        raise NotImplementedError

    def compute_output_tensor(self, const_tensor: dict, inputs_tensor: list, params: dict) -> list:
        raise NotImplementedError


def _nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


def _nchw(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def _load_class(op_path: str | Path) -> tuple[str, type]:
    import yaml

    path = Path(op_path)
    folder = path if path.is_dir() else path.parent
    yml = folder / "op.yml"
    if not yml.is_file():
        raise ConfigError(f"register_op: no op.yml next to {op_path}",
                          fix="the compiled .rknnop is a board kernel that cannot run here; keep the op's "
                              "folder (op.yml and its Python file) next to it")
    try:
        meta = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"register_op: {yml} is not valid YAML: {e}") from None
    name, py = meta.get("name"), meta.get("op_py_file")
    if not name or not py or not (folder / py).is_file():
        raise ConfigError(f"register_op: {yml} must name the op ('name') and its Python file ('op_py_file')",
                          where=str(yml))
    spec = importlib.util.spec_from_file_location(f"rknn_diag_custom_op_{name}", folder / py)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise ConfigError(f"register_op: importing {folder / py} failed: {e}",
                          fix="import RKNNCustomOP, IoMap, Shape from rknn_diag.api, and install what the "
                              "op's compute uses") from None
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, RKNNCustomOP) and c is not RKNNCustomOP and c.op == name]
    if not classes:
        raise ConfigError(f"register_op: {folder / py} has no RKNNCustomOP subclass with op = '{name}'")
    return name, classes[0]


def register_toolkit1(op_path: str | Path) -> tuple[str, Any]:
    """register_op: the op's Python class, adapted to the simulator."""
    name, cls = _load_class(op_path)
    op = cls()
    n_out = max(len(cls.def_output), 1)

    def kernel(*inputs, **attrs):
        outs = _outputs(name, op.compute_output_tensor({}, [_nhwc(np.asarray(x)) for x in inputs], dict(attrs)),
                        "compute_output_tensor")
        if len(outs) < n_out:
            raise ModelLoadError(f"compute_output_tensor of custom op '{name}' returned {len(outs)} output(s), "
                                 f"its def_output has {n_out}", fix="return one tensor per output")
        return [_nchw(o) for o in outs]

    def shapes(attrs, in_shapes, in_dtypes):
        outs = op.compute_output_shape([Shape(s, "nchw") for s in in_shapes], dict(attrs))
        return [s.format("nchw") for s in outs], [in_dtypes[0]] * len(outs)

    return name, _register(name, kernel, shapes, f"1.x custom op {cls.__name__}")


def unregister(registrations: list[tuple[str, Any]]) -> None:
    """Undo this RKNN object's registrations (not a later one of the same op_type by another)."""
    for op_type, spec in registrations:
        registry.unregister_custom(op_type, spec)


def check_registered(graph) -> None:
    """Before running a model: every custom op in it must be registered in this process."""
    from ..ops.registry import get
    from ..errors import UnsupportedOpError

    for n in graph.nodes:
        try:
            get(n.op_type)
        except UnsupportedOpError:
            raise UnsupportedOpError(f"op '{n.op_type}' of node '{n.name}' is not available",
                                     fix="if it is a custom op, call reg_custom_op()/register_op() for it before "
                                         "init_runtime()") from None

