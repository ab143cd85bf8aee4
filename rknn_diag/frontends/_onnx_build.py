"""Shared by the framework loaders (Caffe, Darknet): lower a framework's layers to ONNX
nodes in memory, then hand the model to the ONNX loader, so every frontend ends in the
same IR with the same checks and shape inference.

Framework files reuse blob names (Caffe's in-place ReLU writes its input's name), ONNX
values are single-assignment: `out()` gives each write a fresh name and `cur()` reads the
newest. Each ONNX node remembers the framework layer it came from; after loading, that
layer name is the IR node's `source`, so the merge record and layer dumps name the user's
layers."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from ..errors import ModelLoadError
from ..ir import Graph

OPSET = 13


class OnnxBuilder:
    def __init__(self, name: str, where: str):
        self.name, self.where = name, where
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.layer_of: dict[str, str] = {}      # ONNX node name -> framework layer name
        self._names: set[str] = set()          # value names
        self._node_names: set[str] = set()
        self._cur: dict[str, str] = {}          # framework blob -> newest ONNX value
        self.consumed: set[str] = set()
        self.declared: list[onnx.ValueInfoProto] = []   # shapes ONNX cannot infer (users' custom ops)

    def _unique(self, base: str, taken: set[str] | None = None) -> str:
        taken = self._names if taken is None else taken
        name, i = base, 1
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name)
        return name

    def input(self, blob: str, shape: list[int]) -> str:
        name = self.out(blob)
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [int(d) for d in shape]))
        return name

    def reshape_inputs(self, shapes: list[list[int]]) -> None:
        """Other input shapes than the file declares (one per input, same rank); shapes are
        inferred again from these at load (a size the lowering baked in, e.g. a Reshape's
        target, then fails there, naming the node)."""
        if len(shapes) != len(self.inputs) or any(len(s) != len(i.type.tensor_type.shape.dim)
                                                  for s, i in zip(shapes, self.inputs)):
            raise ModelLoadError(f"{len(shapes)} input shape(s) {shapes} for the model's inputs "
                                 f"{[i.name for i in self.inputs]}", where=self.where,
                                 fix="give one shape per input, of the input's rank")
        for vi, shape in zip(self.inputs, shapes):
            for d, v in zip(vi.type.tensor_type.shape.dim, shape):
                d.dim_value = int(v)

    def reserve(self, names: list[str]) -> None:
        """Keep these value names for the caller to write last (the model's output names)."""
        self._names.update(names)

    def has(self, blob: str) -> bool:
        return blob in self._cur

    def cur(self, blob: str) -> str:
        v = self._cur[blob]
        self.consumed.add(v)
        return v

    def out(self, blob: str) -> str:
        """A fresh value for a write of `blob`; later reads of `blob` see it."""
        v = self._unique(blob)
        self._cur[blob] = v
        return v

    def tmp(self, base: str) -> str:
        return self._unique(base)

    def const(self, base: str, arr) -> str:
        name = self._unique(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        self.consumed.add(name)
        return name

    def const_blob(self, blob: str, base: str, arr) -> str:
        """A framework blob that is a constant (e.g. Caffe's ContinuationIndicator): an initializer."""
        name = self.const(base, arr)
        self._cur[blob] = name
        return name

    def declare(self, value: str, shape: list[int], dtype) -> None:
        """The shape of a value ONNX inference cannot give (a custom op's output), for later `shape()` calls."""
        self.declared.append(helper.make_tensor_value_info(value, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                                           [int(d) for d in shape]))

    def node(self, op: str, inputs: list[str], outputs: list[str], layer: str, **attrs) -> None:
        name = self._unique(layer if layer not in self.layer_of else f"{layer}/{op}", self._node_names)
        self.layer_of[name] = layer
        self.consumed.update(i for i in inputs if i)
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))

    def model(self, outputs: list[str]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs,
                                  [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                                  self.inits, value_info=self.declared)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 producer_name="rknn_diag.frontends")

    def shape(self, value: str) -> list[int]:
        """The static shape of a value built so far (ONNX shape inference on the partial graph)."""
        if any(i.name == value for i in self.inputs):
            return [d.dim_value for i in self.inputs if i.name == value for d in i.type.tensor_type.shape.dim]
        for t in self.inits:
            if t.name == value:
                return list(t.dims)
        inferred = shape_inference.infer_shapes(self.model([value]), strict_mode=False)
        for vi in [*inferred.graph.value_info, *inferred.graph.output]:
            if vi.name == value and vi.type.tensor_type.HasField("shape"):
                return [d.dim_value for d in vi.type.tensor_type.shape.dim]
        raise KeyError(value)

    def dangling(self) -> list[str]:
        """Values written and never read: the network's outputs, in the order written."""
        return [o for n in self.nodes for o in n.output if o and o not in self.consumed]

    def constant_values(self) -> set[str]:
        """Values computed from initializers alone (e.g. SSD prior boxes behind a Concat)."""
        const = {t.name for t in self.inits}
        for n in self.nodes:
            if all(i in const for i in n.input if i):
                const.update(o for o in n.output if o)
        return const

    def finish(self, outputs: list[str]) -> Graph:
        from . import onnx_loader
        graph = onnx_loader.load(self.model(outputs))
        for n in graph.nodes:
            n.source = [self.layer_of.get(n.name, n.name)]
        graph.meta["source"] = self.where
        return graph
