"""`onnx_edit` (toolkit2's rknn.utils.onnx_edit): reshape/transpose a model's inputs and outputs
by equations, and the calibration dataset with them.

Equation: `<original dims> -> <new dims>`, dims separated by ','. Each dim is letters (a-z, one
letter per factor) or '1'. An original dim written with several letters is split into factors;
`[a=2,k=8]` after the left side gives factor sizes (one unknown factor per dim is inferred).
Every letter of the left side appears once on the right; the right side may add '1's. So
'a,b,c,d->1,ad,b,c' makes a [a,b,c,d] tensor a [1, a*d, b, c] one (a transpose, then a reshape).

For an input, the edited model takes the new shape and turns it back to the original inside
(Reshape, Transpose, Reshape); for an output, the original is turned into the new shape. With
`dataset=`, the .npy samples of transformed inputs are converted and a new dataset file
`dataset_for_<export name>.txt` is written beside `export_path`. Static shapes only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ConfigError, DatasetError


@dataclass
class Transform:
    equation: str
    split: list[int]        # the original tensor reshaped into its factors (left-side letter order)
    perm: list[int]         # factors reordered to the right side's letter order
    new_shape: list[int]    # the right side's dims

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.reshape(self.split).transpose(self.perm).reshape(self.new_shape))


_EQ = re.compile(r"^\s*([a-z1,\s]+?)\s*(?:\[([a-z0-9=,\s]*)\])?\s*->\s*([a-z1,\s]+?)\s*$")


def parse(equation: str, shape: list[int], what: str) -> Transform:
    m = _EQ.match(equation)
    if not m:
        raise ConfigError(f"{what}: equation {equation!r} is not '<dims> -> <dims>' of letters, '1' and ','",
                          fix="e.g. 'a,b,c,d->1,ad,b,c'")
    lhs = [g.strip() for g in m.group(1).split(",")]
    rhs = [g.strip() for g in m.group(3).split(",") if g.strip()]
    given = {}
    for part in filter(None, (p.strip() for p in (m.group(2) or "").split(","))):
        k, _, v = part.partition("=")
        if not re.fullmatch(r"[a-z]", k.strip()) or not v.strip().isdigit():
            raise ConfigError(f"{what}: assignment {part!r} must be like 'a=2'")
        given[k.strip()] = int(v)
    if len(lhs) != len(shape):
        raise ConfigError(f"{what}: the left side of {equation!r} has {len(lhs)} dims, the tensor {len(shape)} "
                          f"{list(shape)}")
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise ConfigError(f"{what}: dynamic shape {list(shape)} is not supported by this onnx_edit",
                          fix="fix the dims first (onnx's update_inputs_outputs_dims)")
    letters: list[str] = []
    size: dict[str, int] = {}
    for group, dim in zip(lhs, shape):
        if group == "1":
            if dim != 1:
                raise ConfigError(f"{what}: '1' on the left stands for a dim of {dim}")
            continue
        if not re.fullmatch(r"[a-z]+", group):
            raise ConfigError(f"{what}: dim {group!r} mixes letters and digits")
        unknown = [c for c in group if c not in given]
        known = int(np.prod([given[c] for c in group if c in given] or [1]))
        if len(unknown) > 1 or (not unknown and known != dim) or (unknown and dim % known):
            raise ConfigError(f"{what}: dim {group!r} = {dim} cannot be split as given {given}",
                              fix="give all but one factor of a split dim, dividing it exactly")
        for c in group:
            if c in size:
                raise ConfigError(f"{what}: letter '{c}' is used twice on the left")
            size[c] = given.get(c, dim // known)
            letters.append(c)
    right = [c for g in rhs if g != "1" for c in g]
    if sorted(right) != sorted(letters) or any(not re.fullmatch(r"[a-z]+|1", g) for g in rhs):
        raise ConfigError(f"{what}: the right side of {equation!r} must use every left letter once "
                          f"({''.join(letters)}), plus any '1's")
    perm = [letters.index(c) for c in right]
    new_shape = [1 if g == "1" else int(np.prod([size[c] for c in g])) for g in rhs]
    return Transform(equation, [size[c] for c in letters], perm, new_shape)


def _const(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    graph.initializer.append(numpy_helper.from_array(value, name))
    return name


def _chain(graph: onnx.GraphProto, src: str, dst: str, split: list[int], perm: list[int], final: list[int],
           tag: str) -> list[onnx.NodeProto]:
    """src -> Reshape(split) -> Transpose(perm) -> Reshape(final) -> dst."""
    a, b = f"{tag}__split", f"{tag}__perm"
    return [helper.make_node("Reshape", [src, _const(graph, f"{tag}__split_shape", np.array(split, np.int64))], [a],
                             name=f"{tag}_reshape_split"),
            helper.make_node("Transpose", [a], [b], name=f"{tag}_transpose", perm=perm),
            helper.make_node("Reshape", [b, _const(graph, f"{tag}__final_shape", np.array(final, np.int64))], [dst],
                             name=f"{tag}_reshape")]


def _dims(vi: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]


def onnx_edit(model: str, export_path: str, inputs_transform: dict | None = None,
              outputs_transform: dict | None = None, dataset: str | None = None) -> int:
    proto = onnx.shape_inference.infer_shapes(onnx.load(model))
    g = proto.graph
    inputs = {i.name: i for i in g.input}
    outputs = {o.name: o for o in g.output}
    in_t: dict[str, Transform] = {}
    front: list[onnx.NodeProto] = []
    for name, eq in (inputs_transform or {}).items():
        if name not in inputs:
            raise ConfigError(f"inputs_transform names '{name}', which is not a model input",
                              fix=f"model inputs: {list(inputs)}")
        vi = inputs[name]
        t = parse(eq, _dims(vi), f"input '{name}'")
        in_t[name] = t
        inner = f"{name}__original"
        for n in g.node:
            n.input[:] = [inner if x == name else x for x in n.input]
        # the new input holds forward(original): undo it inside the model
        factors = [t.split[p] for p in t.perm]
        inverse = list(np.argsort(t.perm))
        front += _chain(g, name, inner, factors, inverse, _dims(vi), f"{name}_edit")
        vi.type.tensor_type.ClearField("shape")
        for d in t.new_shape:
            vi.type.tensor_type.shape.dim.add().dim_value = d
        print(f"onnx_edit: input '{name}': {eq}  {_dims_str(t)}")
    back: list[onnx.NodeProto] = []
    for name, eq in (outputs_transform or {}).items():
        if name not in outputs:
            raise ConfigError(f"outputs_transform names '{name}', which is not a model output",
                              fix=f"model outputs: {list(outputs)}")
        vi = outputs[name]
        t = parse(eq, _dims(vi), f"output '{name}'")
        inner = f"{name}__original"
        for n in g.node:
            n.output[:] = [inner if x == name else x for x in n.output]
            n.input[:] = [inner if x == name else x for x in n.input]
        back += _chain(g, inner, name, t.split, t.perm, t.new_shape, f"{name}_edit")
        vi.type.tensor_type.ClearField("shape")
        for d in t.new_shape:
            vi.type.tensor_type.shape.dim.add().dim_value = d
        print(f"onnx_edit: output '{name}': {eq}  {_dims_str(t)}")
    nodes = front + list(g.node) + back
    del g.node[:]
    g.node.extend(nodes)
    g.ClearField("value_info")
    onnx.checker.check_model(proto)
    onnx.save(proto, export_path)
    if dataset is not None:
        _edit_dataset(dataset, [i.name for i in g.input if i.name not in {t.name for t in g.initializer}],
                      in_t, Path(export_path))
    return 0


def _dims_str(t: Transform) -> str:
    return f"(factors {t.split}, perm {t.perm}, new shape {t.new_shape})"


def _edit_dataset(dataset: str, names: list[str], transforms: dict[str, Transform], export: Path) -> Path:
    src = Path(dataset)
    if not src.is_file():
        raise DatasetError(f"dataset file not found: {src}")
    out_dir = export.parent / f"{export.stem}_dataset"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for lineno, raw in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != len(names):
            raise DatasetError(f"line has {len(parts)} path(s) for {len(names)} input(s)", where=f"{src}, line {lineno}")
        new = []
        for k, (p, name) in enumerate(zip(parts, names)):
            fp = Path(p) if Path(p).is_absolute() else src.parent / p
            if name not in transforms:
                new.append(str(fp.resolve()))
                continue
            if fp.suffix.lower() != ".npy":
                raise DatasetError(f"input '{name}' is transformed but its sample {fp.name} is not .npy",
                                   where=f"{src}, line {lineno}", fix="give transformed inputs as .npy arrays")
            arr = np.load(fp, allow_pickle=False)
            out = out_dir / f"line{lineno}_{k}.npy"
            np.save(out, transforms[name].forward(arr), allow_pickle=False)
            new.append(str(out.resolve()))
        lines.append(" ".join(new))
    path = export.parent / f"dataset_for_{export.stem}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"onnx_edit: transformed dataset written to {path}")
    return path
