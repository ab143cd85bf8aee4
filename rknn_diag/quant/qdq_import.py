"""A model that is already quantized (ONNX QDQ, e.g. onnxruntime's quantize_static), built with
do_quantization=False, keeps its own parameters (guide §1.4.1, §1.4.2).

The QDQ graph is turned back into the float graph plus `BuiltModel.quant`:
* DequantizeLinear of a constant integer weight -> the float weight scale·(q − zero_point),
  recorded with its parameters (per tensor or per axis), so the integer simulator gets the
  model's own integers back;
* DequantizeLinear of an int32 bias -> the float bias (the simulator re-derives int32 at
  input scale × weight scale, which is how QDQ exporters choose it);
* QuantizeLinear -> DequantizeLinear on an activation -> removed, the activation recorded with
  that scale and zero point.
Tensors without parameters run through the float fallback of the integer simulator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Graph
from ..log import Logger
from ..qrules.schemes import QParams, dequantize, quantize

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
_DTYPES = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype(np.int16): "int16",
           np.dtype(np.int32): "int32"}


def has_qdq(graph: Graph) -> bool:
    return any(n.op_type in QDQ_OPS for n in graph.nodes)


def _qparams(graph: Graph, node, ndim: int) -> QParams | None:
    """The parameters of a Q/DQ node whose scale and zero point are constants."""
    s_name = node.inputs[1]
    z_name = node.inputs[2] if len(node.inputs) > 2 else ""
    if s_name not in graph.constants or (z_name and z_name not in graph.constants):
        return None
    s = np.asarray(graph.constants[s_name], np.float32)
    z = np.asarray(graph.constants[z_name]) if z_name else np.zeros((), np.uint8)
    dtype = _DTYPES.get(z.dtype)
    if dtype is None:
        return None
    axis = None if s.size == 1 else int(node.attrs.get("axis", 1)) % max(ndim, 1)
    return QParams(s.reshape(()) if axis is None else s.reshape(-1),
                   z.astype(np.int32).reshape(()) if axis is None else z.astype(np.int32).reshape(-1),
                   dtype, axis)


def _drop_integer_casts(graph: Graph) -> None:
    """torch's ONNX export of a quantized TorchScript (torch.ao eager quantization, as torchvision's
    `quantize=True` models) writes its parameters as Constant nodes (a bias's zero point as
    Cast(ConstantOfShape)) and each activation as QuantizeLinear -> Cast(to=uint8) ->
    DequantizeLinear. Everything constant but the Q/DQ nodes is folded, and a Cast of a
    QuantizeLinear's output to the integer type it already has is dropped, so the pairs below are
    recognised (otherwise the whole model ran as float ops emulating its Q/DQ)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    from ..passes.fold_constants import fold_constants
    while fold_constants(graph, keep=frozenset(QDQ_OPS)):
        pass
    producer = {o: n for n in graph.nodes for o in n.outputs}
    outputs = {v.name for v in graph.outputs}
    rename: dict[str, str] = {}
    keep = []
    for node in graph.nodes:
        node.inputs = [rename.get(i, i) for i in node.inputs]
        q = producer.get(node.inputs[0]) if node.op_type == "Cast" and node.inputs else None
        if q is not None and q.op_type == "QuantizeLinear" and node.outputs[0] not in outputs:
            z = graph.constants.get(q.inputs[2]) if len(q.inputs) > 2 and q.inputs[2] else np.uint8(0)
            if z is not None and np.asarray(z).dtype == np.dtype(tensor_dtype_to_np_dtype(int(node.attrs["to"]))):
                rename[node.outputs[0]] = node.inputs[0]
                continue
        keep.append(node)
    graph.nodes = keep


def import_qdq(graph: Graph, log: Logger | None = None) -> tuple[Graph, dict[str, Any]]:
    """Strip Q/DQ from `graph` (in place) and return it with the model's own parameters."""
    _drop_integer_casts(graph)
    tensors: dict[str, QParams] = {}
    weights: dict[str, QParams] = {}
    rename: dict[str, str] = {}
    keep = []
    for node in graph.nodes:
        node.inputs = [rename.get(i, i) for i in node.inputs]
        if node.op_type == "DequantizeLinear" and node.inputs[0] in graph.constants:
            q = np.asarray(graph.constants[node.inputs[0]])
            qp = _qparams(graph, node, q.ndim)
            if qp is not None:
                graph.constants[node.outputs[0]] = dequantize(q, qp)
                if qp.dtype != "int32":
                    weights[node.outputs[0]] = qp
                continue
        if node.op_type == "QuantizeLinear":
            x = node.inputs[0]
            qp = _qparams(graph, node, 4)
            users = [n for n in graph.nodes if node.outputs[0] in n.inputs]
            if qp is not None and qp.per_tensor and users and all(
                    u.op_type == "DequantizeLinear" and _same(graph, u, node) for u in users):
                tensors[x] = qp
                for u in users:
                    rename[u.outputs[0]] = x
                continue
        keep.append(node)
    graph.nodes = [n for n in keep if not (n.op_type == "DequantizeLinear" and n.outputs[0] in rename)]
    for n in graph.nodes:
        n.inputs = [rename.get(i, i) for i in n.inputs]
    for v in graph.outputs:
        if v.name in rename:   # a graph output that was a DQ: keep its name through an Identity
            from ..ir import Node
            graph.nodes.append(Node("Identity", f"qdq_out_{v.name}", [rename[v.name]], [v.name]))
            tensors[v.name] = tensors[rename[v.name]]
    graph.remove_unused()
    _data_constants(graph, tensors, weights)
    left = sorted({n.op_type for n in graph.nodes if n.op_type in QDQ_OPS})
    if left and log is not None:
        log.w(f"QDQ model: {left} nodes the importer does not recognise stay as float ops")
    acts = [qp.dtype for qp in tensors.values()]
    mode = "asymmetric_quantized-u8" if acts and all(d == "uint8" for d in acts) else \
        ("w8a16" if "int16" in acts else "w8a8")
    return graph, {"mode": mode, "method": "imported", "algorithm": "imported", "ranges": {}, "layers": {},
                   "tensors": {k: v.to_dict() for k, v in tensors.items()},
                   "weights": {k: v.to_dict() for k, v in weights.items()}, "source": "qdq"}


def _data_constants(graph: Graph, tensors: dict[str, QParams], weights: dict[str, QParams]) -> None:
    """A dequantized constant read as data (a Mul's or Add's constant operand), not as a weight:
    the integer simulator takes it like an activation (quantizer.py's 'data constants'), per
    tensor only; per-axis ones run as float constants."""
    from ..qrules.roles import data_slots, weight_name

    for name in list(weights):
        readers = [(n, i) for n in graph.nodes for i, x in enumerate(n.inputs) if x == name]
        if readers and all(i in data_slots(n) and weight_name(graph, n) != name for n, i in readers):
            qp = weights.pop(name)
            if qp.per_tensor:
                tensors[name] = qp


def _same(graph: Graph, dq, q) -> bool:
    a, b = _qparams(graph, dq, 4), _qparams(graph, q, 4)
    return a is not None and b is not None and a.same(b)


def verify_weights(graph: Graph, quant: dict[str, Any], log: Logger | None = None) -> None:
    """After graph passes: keep a weight's parameters only if they still reproduce it exactly
    (a pass that rewrote the weight, e.g. a BatchNorm fold, invalidates them)."""
    for name in list(quant["weights"]):
        qp = QParams.from_dict(quant["weights"][name])
        w = graph.constants.get(name)
        if w is None or not np.array_equal(dequantize(quantize(w, qp), qp), np.asarray(w, np.float32)):
            del quant["weights"][name]
            if log is not None and w is not None:
                log.w(f"QDQ model: weight '{name}' was changed by graph optimisation; its own quantization "
                      f"parameters no longer apply and it runs as a float constant")
    for name in list(quant["tensors"]):
        if name not in {o for n in graph.nodes for o in n.outputs} | {v.name for v in graph.inputs}:
            del quant["tensors"][name]
