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
`quant=` classifies the op for quantized builds (`Quant`): which inputs carry data, whether the
output shares input 0's parameters, and how the integer simulator runs it. The quantizer's
roles (`qrules.roles`), both integer backends' dispatch and the quantized suite's exemptions
are derived from it (tests/ops/test_quant_traits.py checks every op is classified).

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


# How the integer simulator runs an op in a quantized build:
KERNEL = "kernel"     # a dedicated integer kernel (sim.int_sim)
DIRECT = "direct"     # on the integers themselves: it only moves or selects values (output at input 0's parameters)
TABLE = "table"       # elementwise of one input: a lookup table over every input code, built per layer
FALLBACK = "float"    # dequantize the inputs, the float32 kernel, quantize the result (what the QDQ twin does)
KEEP_FLOAT16 = "float16"   # kept in float16 in a quantized build (its answer depends on NaN / infinity)
PATHS = (KERNEL, DIRECT, TABLE, FALLBACK, KEEP_FLOAT16)
ALL_INPUTS = None     # Quant.data: every input carries data


@dataclass(frozen=True)
class Quant:
    """An op's quantization traits (its registry entry's `quant`)."""

    path: str = FALLBACK
    data: tuple[int, ...] | None = (0,)   # inputs that carry data (quantized); the others are passed raw
    shares_scale: bool = False            # the output takes input 0's parameters
    weights: bool = False                 # input 1 a weight (weight scheme), input 2 an int32 bias
    # A DIRECT op that is value-preserving only for some attributes (nearest Resize): the test;
    # otherwise the op takes the FALLBACK path.
    direct_if: Callable[[dict[str, Any]], bool] | None = None
    # Its output error is not bounded by its inputs' quantization error relative to the
    # output's size (division near 0, discontinuities, exponentials): the quantized suite
    # records its float floor instead of judging it (the QDQ twin and the oracle still do).
    amplifies: bool = False

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise TypeError(f"quantization path {self.path!r} is not one of {PATHS}")

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "data_inputs": None if self.data is None else list(self.data),
                "shares_scale": self.shares_scale, "weights": self.weights}


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
    # Load-time check of the node's inputs: each a constant's array, RUNTIME for a tensor known
    # only at run time, None for an omitted optional input:
    # raises UnsupportedOpError for forms the kernel would refuse only at run time.
    check: Callable[..., None] | None = None
    quant: Quant = Quant()

    def describe(self) -> dict[str, Any]:
        return {
            "inputs": [i.rstrip("_") for i in self.inputs],
            "required_inputs": self.required_inputs,
            "variadic": self.variadic,
            "attributes": {k: (None if v is REQUIRED else _jsonable(v)) for k, v in self.attrs.items()},
            "attribute_values": {k: list(v) for k, v in self.values.items()},
            "dtypes": list(self.dtypes),
            "parameter_inputs": [self.inputs[i].rstrip("_") for i in self.params],
            "quantization": self.quant.describe(),
            "doc": self.doc,
            "family": self.family,
        }


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
RUNTIME = "<run-time tensor>"   # in `check` inputs: not a constant
_REGISTRY: dict[str, OpSpec] = {}
# Users' custom operators (the vendor's reg_custom_op / register_op): kept apart so they never
# show in supported_ops(), and removed again when the RKNN object that added them is released.
_CUSTOM: dict[str, OpSpec] = {}

# ONNX TensorProto.DataType codes the toolkit runs: those with a plain numpy dtype. The
# others (string, complex, bfloat16, the float8/float4 families, 4- and 2-bit integers) are
# refused when the model is loaded (`check_tensor_type`), never accepted and failing later.
TENSOR_TYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.uint8), 3: np.dtype(np.int8), 4: np.dtype(np.uint16),
    5: np.dtype(np.int16), 6: np.dtype(np.int32), 7: np.dtype(np.int64), 9: np.dtype(np.bool_),
    10: np.dtype(np.float16), 11: np.dtype(np.float64), 12: np.dtype(np.uint32), 13: np.dtype(np.uint64),
}
_TYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
               9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
               15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
               20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0",
               25: "uint2", 26: "int2"}


def type_name(code: int) -> str:
    return _TYPE_NAMES.get(int(code), f"type code {int(code)}")


def check_tensor_type(code: int, tensor: str, where: str) -> np.dtype:
    """The numpy dtype of ONNX element type `code`, or a load-time refusal naming the tensor."""
    try:
        return TENSOR_TYPES[int(code)]
    except KeyError:
        raise UnsupportedOpError(
            f"tensor '{tensor}' has element type {type_name(code)}, which the toolkit does not run",
            where=where,
            fix=f"convert the model to float32 (or one of {', '.join(type_name(c) for c in TENSOR_TYPES)}) "
                f"before loading; for low-precision weights keep them as QuantizeLinear/DequantizeLinear "
                f"with int8/uint8/int16 tensors",
            ref="1.3.5") from None
# Fused activations (IR PostOp) are stored in their newest form: Clip bounds as inputs.
POST_OP_OPSET = 13


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


def register(op_type: str, *, dtypes: tuple[str, ...] = FLOAT, values: dict[str, tuple] | None = None,
             aliases: tuple[str, ...] = (), params: tuple[str, ...] = (),
             check: Callable[..., None] | None = None, quant: Quant = Quant()) -> Callable:
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
                                     tuple(dtypes), wants_opset, wants_n, param_pos, doc, tuple(aliases), check=check,
                                     quant=quant)
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


def specs() -> dict[str, OpSpec]:
    """Every built-in op's registry entry (not users' custom ops)."""
    _load_all()
    return dict(_REGISTRY)


def quant_traits(op_type: str) -> Quant:
    """The op's quantization traits; a custom op (or one no longer registered) takes the defaults."""
    _load_all()
    spec = _REGISTRY.get(op_type)
    return spec.quant if spec is not None else Quant()


def supported_ops() -> dict[str, dict[str, Any]]:
    """Every supported op with its inputs, attributes, handled values and dtypes (JSON-able)."""
    _load_all()
    return {name: spec.describe() for name, spec in sorted(_REGISTRY.items())}


def check_node(op_type: str, attrs: dict[str, Any], node_name: str, n_inputs: int,
               dtype: np.dtype | None = None, constants: list[np.ndarray | None] | None = None) -> OpSpec:
    """Refuse, at load time, an op, attribute, attribute value or first-input dtype (when known)
    the kernel does not handle (tests/ops/test_registry_claims.py checks what is declared runs)."""
    spec = get(op_type)
    where = f"node '{node_name}' ({op_type})"
    if dtype is not None and spec.inputs and str(np.dtype(dtype)) not in spec.dtypes:
        raise UnsupportedOpError(
            f"{op_type} on a {np.dtype(dtype)} {spec.inputs[0].rstrip('_')} is not supported", where=where,
            fix=f"supported types of its first input: {', '.join(spec.dtypes)}; cast the tensor to one of them "
                f"in the model", ref="1.3.5")
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
    if spec.check is not None and constants is not None:
        try:
            spec.check(constants, attrs)
        except UnsupportedOpError as e:
            raise UnsupportedOpError(e.message, where=where + (f", {e.where}" if e.where else ""), fix=e.fix,
                                     ref=e.ref) from None
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
