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
    `params` are the ONNX node's attributes. In `load_tensorflow` a node whose TF op is a
    registered name becomes the custom op (`load_params_from_tf` gives its params); the op's
    file is imported with `rknn.api` meaning this package and a TensorFlow 2 `tf` meaning
    `tf.compat.v1` (1.x op files are written against TensorFlow 1.x). A name that is also a
    built-in op (`Exp`) is kept apart from it (`tf_op_type`).
Both: the op must not be a built-in op's name. In a quantized build the op runs in float
between dequantized inputs and a quantized output (the integer simulator's float fallback).
Registrations last until `release()` of the RKNN object that made them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from dataclasses import dataclass
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
        with _vendor_import():
            spec.loader.exec_module(module)
        _tf1_names(module)
    except ImportError as e:
        raise ConfigError(f"register_op: importing {folder / py} failed: {e}",
                          fix="import RKNNCustomOP, IoMap, Shape from rknn_diag.api, and install what the "
                              "op's compute uses") from None
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, RKNNCustomOP) and c is not RKNNCustomOP and c.op == name]
    if not classes:
        raise ConfigError(f"register_op: {folder / py} has no RKNNCustomOP subclass with op = '{name}'")
    return name, classes[0]


@contextlib.contextmanager
def _vendor_import():
    """While a 1.x op file is imported: `from rknn.api import RKNNCustomOP, IoMap, Shape` (how the
    vendor's generator writes them) gives this module's classes, whatever else is installed."""
    shim = types.ModuleType("rknn.api")
    shim.RKNNCustomOP, shim.IoMap, shim.Shape = RKNNCustomOP, IoMap, Shape
    top = types.ModuleType("rknn")
    top.api = shim
    saved = {k: sys.modules.get(k) for k in ("rknn", "rknn.api")}
    sys.modules.update({"rknn": top, "rknn.api": shim})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _tf1_names(module: types.ModuleType) -> None:
    """A 1.x op file's `tf` is TensorFlow 1.x (`tf.image.resize_area`): under TensorFlow 2 its
    name is bound to `tf.compat.v1`, which keeps those functions."""
    for key, value in list(vars(module).items()):
        if isinstance(value, types.ModuleType) and value.__name__ == "tensorflow" and \
                str(getattr(value, "__version__", "1")).split(".")[0] != "1":
            setattr(module, key, value.compat.v1)


@dataclass
class Toolkit1Op:
    """A registered 1.x op, as the TF frontend needs it."""
    name: str                 # the TensorFlow op it replaces
    op_type: str              # the IR op type its nodes get
    op: Any                   # the RKNNCustomOP instance
    n_inputs: int             # len(def_input): inputs past these are parameters (tensor_data_map) only
    spec: Any = None

    def params(self, node_def: Any, const_inputs: dict[str, np.ndarray]) -> dict:
        """load_params_from_tf(node_def, tensor_data_map): constant inputs keyed by their TF
        name and, as the vendor's converter names them, 'C:out0', 'C1:out0', ... in order."""
        tensor_data_map = {}
        for k, (ref, arr) in enumerate(const_inputs.items()):
            tensor_data_map[ref] = tensor_data_map[ref.partition(":")[0]] = arr
            tensor_data_map[f"C{k or ''}:out0"] = arr
        return dict(self.op.load_params_from_tf(node_def, tensor_data_map) or {})

    def computes(self, inputs: list[np.ndarray], params: dict) -> bool:
        """Whether compute_output_tensor returns outputs (the generator's template returns an
        empty list: the compiled kernel alone computes, on a board)."""
        return bool(self.op.compute_output_tensor({}, [_nhwc(x) for x in inputs], _attrs_to_params(params)))


_TOOLKIT1: dict[str, Toolkit1Op] = {}
_BOOLS = "rknn_bool_params"   # ONNX has no bool attribute: the names of params that were bools


def params_to_attrs(params: dict) -> dict:
    """load_params_from_tf's dict as ONNX node attributes (arrays as lists, bools as ints, noted)."""
    attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else int(v) if isinstance(v, (bool, np.bool_)) else v)
             for k, v in params.items()}
    bools = [k for k, v in params.items() if isinstance(v, (bool, np.bool_))]
    return {**attrs, _BOOLS: bools} if bools else attrs


def _attrs_to_params(attrs: dict) -> dict:
    bools = [b.decode() if isinstance(b, bytes) else b for b in attrs.get(_BOOLS, [])]
    return {k: (bool(v) if k in bools else v) for k, v in attrs.items() if k != _BOOLS}


def toolkit1_op(tf_op: str) -> Toolkit1Op | None:
    """The registered 1.x custom op replacing TensorFlow op `tf_op`, if any."""
    return _TOOLKIT1.get(tf_op)


def register_toolkit1(op_path: str | Path) -> tuple[str, Any]:
    """register_op: the op's Python class, adapted to the simulator."""
    name, cls = _load_class(op_path)
    op = cls()
    n_out = max(len(cls.def_output), 1)
    # 1.x ops are TensorFlow ops; one with a built-in op's name (Exp) gets its own IR op type
    op_type = name if registry.is_custom(name) or name not in registry.specs() else f"{name}_rknnop"

    def kernel(*inputs, **attrs):
        outs = _outputs(name, op.compute_output_tensor({}, [_nhwc(np.asarray(x)) for x in inputs],
                                                       _attrs_to_params(attrs)),
                        "compute_output_tensor")
        if len(outs) < n_out:
            raise ModelLoadError(f"compute_output_tensor of custom op '{name}' returned {len(outs)} output(s), "
                                 f"its def_output has {n_out}", fix="return one tensor per output")
        return [_nchw(o) for o in outs]

    def shapes(attrs, in_shapes, in_dtypes):
        outs = op.compute_output_shape([Shape(s, "nchw") for s in in_shapes], _attrs_to_params(attrs))
        return [s.format("nchw") for s in outs], [in_dtypes[0]] * len(outs)

    spec = _register(op_type, kernel, shapes, f"1.x custom op {cls.__name__}")
    _TOOLKIT1[name] = Toolkit1Op(name, op_type, op, len(cls.def_input), spec)
    return op_type, spec


def unregister(registrations: list[tuple[str, Any]]) -> None:
    """Undo this RKNN object's registrations (not a later one of the same op_type by another)."""
    for op_type, spec in registrations:
        registry.unregister_custom(op_type, spec)
        for name, t1 in list(_TOOLKIT1.items()):
            if t1.spec is spec:
                del _TOOLKIT1[name]


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



def check_not_on_board(graph, target: str) -> None:
    """A custom op runs as the user's Python in the simulator; a board (real or virtual) would
    need the op's compiled kernel, which only the vendor's runtime loads: refuse before running."""
    from ..errors import TargetError
    custom = sorted({n.op_type for n in graph.nodes if registry.is_custom(n.op_type)})
    if custom:
        raise TargetError(f"init_runtime(target='{target}'): the model holds custom op(s) {custom}, whose "
                          f"compute runs here only in the simulator (a board needs the op's compiled kernel)",
                          fix="call init_runtime() without a target to run the model in the simulator")
