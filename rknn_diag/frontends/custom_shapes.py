"""Shapes of users' custom ops (reg_custom_op / register_op) for the build: ONNX shape inference
knows nothing of them, so each one's own shape function gives its outputs' shapes and dtypes,
and ONNX inference runs again from there until every custom op's outputs are known."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, shape_inference

from ..errors import ModelLoadError
from ..ops.registry import custom_shapes, is_custom


def _known(proto: onnx.ModelProto) -> dict[str, tuple[list[int], int]]:
    g = proto.graph
    out = {t.name: (list(t.dims), t.data_type) for t in g.initializer}
    for vi in [*g.input, *g.value_info, *g.output]:
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim) and tt.elem_type:
            out[vi.name] = ([d.dim_value for d in tt.shape.dim], tt.elem_type)
    return out


def infer_custom(proto: onnx.ModelProto, where: str) -> onnx.ModelProto:
    todo = [n for n in proto.graph.node if is_custom(n.op_type) and custom_shapes(n.op_type) is not None]
    for _ in range(len(todo) + 1):
        known = _known(proto)
        progress = False
        for n in todo:
            if all(o in known for o in n.output if o) or not all(i in known for i in n.input if i):
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            ins = [known[i] for i in n.input if i]
            try:
                shapes, dtypes = custom_shapes(n.op_type)(
                    attrs, [list(s) for s, _ in ins], [helper.tensor_dtype_to_np_dtype(t) for _, t in ins])
            except Exception as e:   # the user's code: say whose it is
                raise ModelLoadError(f"shape_infer of custom op '{n.op_type}' raised {type(e).__name__}: {e}",
                                     where=f"{where}, node '{n.name}'",
                                     fix="fix the op's shape_infer(node, in_shapes, in_dtypes)") from None
            if len(shapes) < len([o for o in n.output if o]):
                raise ModelLoadError(f"shape_infer of custom op '{n.op_type}' gave {len(shapes)} shape(s) for "
                                     f"{len(n.output)} output(s)", where=f"{where}, node '{n.name}'",
                                     fix="return one shape and one dtype per output")
            for o, shp, dt in zip(n.output, shapes, dtypes):
                if not o:
                    continue
                vi = helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.dtype(dt)),
                                                   [int(d) for d in shp])
                outs = [x for x in proto.graph.output if x.name == o]
                if outs:
                    outs[0].CopyFrom(vi)
                else:
                    proto.graph.value_info.append(vi)
            progress = True
        if not progress:
            break
        proto = shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    return proto
