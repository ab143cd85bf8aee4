"""The op registry: the one machine-readable list of supported ops.

A kernel is a plain function in the style of onnx's reference evaluator: ONNX
inputs are its positional parameters (None for an omitted optional input, or
`*inputs` for variadic ops), ONNX attributes are its keyword-only parameters
with the ONNX defaults. The signature *is* the list of supported attributes;
`values=` narrows the attribute values a kernel handles. A kernel that takes a
keyword-only `opset` parameter is given the model's opset (for ops whose
semantics changed, e.g. Softmax at 13); a kernel that takes a keyword-only
`n_outputs` is given the node's output count (Split without sizes). Neither is
an attribute. Inputs whose ONNX name is also an attribute name (Clip `min`,
Reduce `axes` ...) end in `_` in the signature; descriptions show the ONNX name.
`params=` names the inputs that are parameters, not tensors (Resize `scales`):
simulators keep them at full precision, quantizers leave them alone.

The conformance suite, the doctor and the reports read `supported_ops()`;
nobody keeps a second list by hand.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import UnsupportedOpError

FLOAT = ("float32", "float16")
NUMERIC = ("float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64")
ANY = NUMERIC + ("bool",)


@dataclass(frozen=True)
class OpSpec:
    op_type: str
    kernel: Callable[..., Any]
    inputs: tuple[str, ...]          # positional input names, in ONNX order
    required_inputs: int
    variadic: bool
    attrs: dict[str, Any]            # attribute -> default (REQUIRED if none)
    values: dict[str, tuple]         # attribute -> the values the kernel handles
    dtypes: tuple[str, ...]          # dtypes accepted for the first input
    wants_opset: bool
    wants_n_outputs: bool = False
    params: tuple[int, ...] = ()     # positions of parameter inputs (never rounded or quantized)
    doc: str = ""
    aliases: tuple[str, ...] = field(default=())
    custom: bool = False             # a user's op (reg_custom_op / register_op): any attributes

    @property
    def family(self) -> str:
        """The module holding the kernel (conv, pool, activation ...): how listings and reports group ops."""
        return self.kernel.__module__.rsplit(".", 1)[-1]

    def describe(self) -> dict[str, Any]:
        return {
            "inputs": [i.rstrip("_") for i in self.inputs],
            "required_inputs": self.required_inputs,
            "variadic": self.variadic,
            "attributes": {k: (None if v is REQUIRED else _jsonable(v)) for k, v in self.attrs.items()},
            "attribute_values": {k: list(v) for k, v in self.values.items()},
            "dtypes": list(self.dtypes),
            "parameter_inputs": [self.inputs[i].rstrip("_") for i in self.params],
            "doc": self.doc,
            "family": self.family,
        }


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
_REGISTRY: dict[str, OpSpec] = {}
# Users' custom operators (the vendor's reg_custom_op / register_op): kept apart so they never
# show in supported_ops(), and removed again when the RKNN object that added them is released.
_CUSTOM: dict[str, OpSpec] = {}
# Fused activations (IR PostOp) are stored in their newest form: Clip bounds as inputs.
POST_OP_OPSET = 13


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


def register(op_type: str, *, dtypes: tuple[str, ...] = FLOAT, values: dict[str, tuple] | None = None,
             aliases: tuple[str, ...] = (), params: tuple[str, ...] = ()) -> Callable:
    """Decorator: register `fn` as the float kernel of `op_type` (and of each alias)."""

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        inputs, attrs, required, variadic, wants_opset, wants_n = [], {}, 0, False, False, False
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                inputs.append(p.name)
                if p.default is p.empty:
                    required += 1
            elif p.kind == p.VAR_POSITIONAL:
                inputs.append(p.name)
                variadic = True
                required = max(required, 1)
            elif p.kind == p.KEYWORD_ONLY:
                if p.name == "opset":
                    wants_opset = True
                elif p.name == "n_outputs":
                    wants_n = True
                else:
                    attrs[p.name] = REQUIRED if p.default is p.empty else p.default
        unknown = set(values or {}) - set(attrs)
        if unknown:
            raise TypeError(f"{fn.__name__}: values= names unknown attributes {sorted(unknown)}")
        doc = ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        if set(params) - set(inputs):
            raise TypeError(f"{fn.__name__}: params= names unknown inputs {sorted(set(params) - set(inputs))}")
        param_pos = tuple(inputs.index(p) for p in params)
        for name in (op_type, *aliases):
            if name in _REGISTRY:
                raise TypeError(f"op {name} registered twice")
            _REGISTRY[name] = OpSpec(name, fn, tuple(inputs), required, variadic, attrs, dict(values or {}),
                                     tuple(dtypes), wants_opset, wants_n, param_pos, doc, tuple(aliases))
        return fn

    return deco


def _load_all() -> None:
    # Importing the package imports every kernel module, which registers them.
    from . import _load  # noqa: F401


_CUSTOM_SHAPES: dict[str, Callable[..., Any]] = {}


def register_custom(op_type: str, kernel: Callable[..., Any], shapes: Callable[..., Any] | None = None,
                    doc: str = "") -> OpSpec:
    """Add a user's op: `kernel(*inputs, **attrs)` returns its outputs; `shapes(attrs, in_shapes,
    in_dtypes)` returns (out_shapes, out_dtypes) for the build's shape inference."""
    _load_all()
    if op_type in _REGISTRY:
        raise TypeError(f"'{op_type}' is a built-in op")
    _CUSTOM[op_type] = OpSpec(op_type, kernel, ("inputs",), 0, True, {}, {}, ANY, False, False, (), doc,
                              custom=True)
    _CUSTOM_SHAPES.pop(op_type, None)
    if shapes is not None:
        _CUSTOM_SHAPES[op_type] = shapes
    return _CUSTOM[op_type]


def unregister_custom(op_type: str, spec: OpSpec | None = None) -> None:
    """Remove a user's op; with `spec`, only if it is still that registration (another RKNN
    object may have registered the same op_type since)."""
    if spec is None or _CUSTOM.get(op_type) is spec:
        _CUSTOM.pop(op_type, None)
        _CUSTOM_SHAPES.pop(op_type, None)


def custom_shapes(op_type: str) -> Callable[..., Any] | None:
    return _CUSTOM_SHAPES.get(op_type)


def is_custom(op_type: str) -> bool:
    return op_type in _CUSTOM


def get(op_type: str) -> OpSpec:
    _load_all()
    if op_type in _CUSTOM:
        return _CUSTOM[op_type]
    try:
        return _REGISTRY[op_type]
    except KeyError:
        raise UnsupportedOpError(
            f"op '{op_type}' is not supported",
            fix=f"replace it in the model, or cut the graph before it (load_onnx(outputs=...)); "
                f"supported ops: {', '.join(sorted(_REGISTRY))}",
            ref="1.3.5",
        ) from None


def supported_ops() -> dict[str, dict[str, Any]]:
    """Every supported op with its inputs, attributes, handled values and dtypes (JSON-able)."""
    _load_all()
    return {name: spec.describe() for name, spec in sorted(_REGISTRY.items())}


def check_node(op_type: str, attrs: dict[str, Any], node_name: str, n_inputs: int) -> OpSpec:
    """Refuse, at load time, an op, attribute or attribute value the kernel does not handle."""
    spec = get(op_type)
    where = f"node '{node_name}' ({op_type})"
    for key, val in attrs.items():
        if spec.custom:
            break
        if key not in spec.attrs:
            raise UnsupportedOpError(
                f"attribute '{key}' of {op_type} is not supported", where=where,
                fix=f"supported attributes of {op_type}: {', '.join(spec.attrs) or 'none'}", ref="1.3.5")
        allowed = spec.values.get(key)
        if allowed is not None and _jsonable(val) not in [_jsonable(a) for a in allowed]:
            raise UnsupportedOpError(
                f"{op_type} with {key}={val!r} is not supported", where=where,
                fix=f"supported values of {key}: {', '.join(map(repr, allowed))}", ref="1.3.5")
    for key, default in spec.attrs.items():
        if default is REQUIRED and key not in attrs:
            raise UnsupportedOpError(f"{op_type} needs attribute '{key}'", where=where,
                                     fix="the model is malformed; re-export it")
    if n_inputs < spec.required_inputs or (not spec.variadic and n_inputs > len(spec.inputs)):
        raise UnsupportedOpError(
            f"{op_type} got {n_inputs} inputs; it takes {spec.required_inputs}..{len(spec.inputs)}",
            where=where, fix="the model is malformed or uses a newer form of this op")
    return spec


def run(op_type: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], opset: int,
        n_outputs: int = 1) -> list[np.ndarray]:
    """Call the kernel; always returns a list of outputs (callers keep the first n_outputs)."""
    spec = get(op_type)
    kwargs = dict(attrs)
    if spec.wants_opset:
        kwargs["opset"] = opset
    if spec.wants_n_outputs:
        kwargs["n_outputs"] = n_outputs
    out = spec.kernel(*inputs, **kwargs)
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def run_node(node, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """Run an IR node: its kernel, then the activations fused into it (`post_ops`, which take
    their newest-opset form), trimmed to the node's declared outputs."""
    outs = run(node.op_type, inputs, node.attrs, opset, len(node.outputs))
    for post in node.post_ops:
        outs[0] = run(post.op_type, [outs[0], *post.inputs], post.attrs, POST_OP_OPSET)[0]
    return outs[:len(node.outputs)]
