"""config(dynamic_input=...): toolkit2's several input shapes in one model.

`dynamic_input` is a list of shape sets, one shape per model input in each set, e.g.
`[[[1,3,256,256]], [[1,3,160,160]], [[1,3,224,224]]]`. The model is loaded once per set
(the set's shapes replace the input dims, fixed or symbolic, and shape inference runs
again), each set's graph is optimised on its own (shape-dependent folding differs), and
all sets share one set of quantization parameters (one model, as on the board), calibrated
on the model at its own declared input shapes where it has static ones, else on the first
set (`declared`). The first set is the model's main graph; the others are kept inside the
model file. inference() runs the set whose shapes match its inputs
and refuses shapes that are in no set, naming the sets.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Callable

import numpy as np
import onnx

from ..errors import ConfigError, InputError, ModelLoadError, RknnDiagError
from ..ir import Graph
from ..model import BuiltModel
from ..sim.preprocess import formats_per_input

KEY = "shape_set_models"   # BuiltModel.build entry: the other sets' models, serialized


def shape_sets(recorded: dict[str, Any]) -> list[list[list[int]]] | None:
    """The validated dynamic_input of a config, or None."""
    sets = recorded.get("dynamic_input")
    if sets is None:
        return None
    ok = isinstance(sets, (list, tuple)) and sets and all(
        isinstance(s, (list, tuple)) and s and all(
            isinstance(shape, (list, tuple)) and shape and all(isinstance(d, int) and d > 0 for d in shape)
            for shape in s) for s in sets)
    if not ok or len({len(s) for s in sets}) != 1:
        raise ConfigError(f"dynamic_input must be a list of shape sets, each with one shape per input, "
                          f"e.g. [[[1,3,224,224]], [[1,3,160,160]]]; got {sets!r}")
    return [[list(shape) for shape in s] for s in sets]


def load_sets(load: Callable[..., Graph], model: Any, inputs, outputs, sets: list[list[list[int]]]) -> list[Graph]:
    """One graph per shape set. `load(proto, inputs, input_size_list, outputs)` is the ONNX loader."""
    if isinstance(model, onnx.ModelProto):
        proto, source = model, "<ModelProto>"
    else:
        if not os.path.isfile(str(model)):
            raise ModelLoadError(f"ONNX model file not found: {model}", fix="check the path passed to load_onnx()")
        proto, source = onnx.load(str(model)), str(model)
    init = {t.name for t in proto.graph.initializer}
    real = [i for i in proto.graph.input if i.name not in init]
    if inputs is not None:
        real = [i for i in real if i.name in inputs]
    graphs = []
    for k, shapes in enumerate(sets):
        if len(shapes) != len(real):
            raise ConfigError(f"dynamic_input set {k} has {len(shapes)} shape(s) for {len(real)} input(s) "
                              f"{[i.name for i in real]}", fix="give one shape per model input in every set")
        p = copy.deepcopy(proto)
        by_name = {i.name: i for i in p.graph.input}
        for vi, shape in zip(real, shapes):
            dims = by_name[vi.name].type.tensor_type.shape.dim
            if len(dims) != len(shape):
                raise ConfigError(f"dynamic_input set {k}: shape {shape} for input '{vi.name}' of rank {len(dims)}")
            for d, s in zip(dims, shape):
                d.ClearField("dim_param")
                d.dim_value = s
        for vi in [*p.graph.value_info, *p.graph.output]:   # stale shapes of the original size
            if vi.type.tensor_type.HasField("shape"):
                vi.type.tensor_type.ClearField("shape")
        try:
            g = load(p, inputs, None, outputs)
        except ModelLoadError as e:
            raise ModelLoadError(f"dynamic_input set {k} {shapes}: {e.message}", where=source, fix=e.fix) from None
        g.meta["source"] = source
        graphs.append(g)
    return graphs


def declared(load: Callable[[], Graph], sets: list[Graph]) -> Graph | None:
    """The graph to calibrate a dynamic_input build on, when it is not the first set's: the model
    loaded at its own input shapes. The vendor calibrates there: measured on toolkit2 2.5.0 with
    its dynamic_shape example, its outputs at every set are bit-identical whatever sets are listed
    and in whatever order, and at 224 equal its static build's (the prototxt declares 224). None
    when the model declares no static shapes (the first set's calibration), or when they are the
    first set's (nothing to add)."""
    try:
        g = load()
    except RknnDiagError:    # symbolic dims and no sizes given: nothing declared
        return None
    shapes = [list(v.shape) for v in g.inputs]
    if not all(v.shape and all(isinstance(d, int) and d > 0 for d in v.shape) for v in g.inputs):
        return None
    return None if shapes == [list(v.shape) for v in sets[0].inputs] else g


def attach(main: BuiltModel, others: list[BuiltModel]) -> None:
    """Keep the other sets' models inside the main one (and so inside its model file)."""
    from .. import modelfile

    main.build[KEY] = [np.frombuffer(modelfile.dumps(m), np.uint8) for m in others]
    main.build["dynamic_input"] = [[list(v.shape) for v in m.graph.inputs] for m in [main, *others]]


def models_of(main: BuiltModel) -> list[BuiltModel]:
    from .. import modelfile

    return [main, *(modelfile.loads(bytes(np.asarray(b, np.uint8)), "<dynamic_input set>")
                    for b in main.build.get(KEY, []))]


class DynamicRuntime:
    """One simulator per shape set; `pick` chooses by the inputs' shapes."""

    def __init__(self, models: list[BuiltModel], make: Callable[[BuiltModel], Any]):
        self.models = models
        self.runtimes = [make(m) for m in models]

    def pick(self, inputs: Any, data_format: Any) -> tuple[BuiltModel, Any]:
        xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        formats = formats_per_input(data_format, len(xs))
        got = []
        for x, f in zip(xs, formats):
            shape = list(np.shape(x))
            if len(shape) == 3:
                shape = [1, *shape]
            if len(shape) == 4 and f == "nhwc":
                shape = [shape[0], shape[3], shape[1], shape[2]]
            got.append(shape)
        for m, rt in zip(self.models, self.runtimes):
            want = [list(v.shape) for v in m.graph.inputs]
            if len(want) == len(got) and all(
                    w == g or (len(w) == 4 and w[1] != g[1] and w == [g[0], g[3], g[1], g[2]])
                    for w, g in zip(want, got)):
                return m, rt
        sets = [[list(v.shape) for v in m.graph.inputs] for m in self.models]
        raise InputError(f"input shape(s) {got} (nchw) are in no dynamic_input set: {sets}",
                         fix="resize the inputs to one of the configured shapes, or add the shape to "
                             "config(dynamic_input=...)")

    def close(self) -> None:
        for rt in self.runtimes:
            close = getattr(rt, "close", None)
            if close is not None:
                close()
