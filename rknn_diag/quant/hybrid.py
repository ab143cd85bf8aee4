"""Hybrid quantization (guide §2.1 fix path): step 1 writes the quantized model and an
editable config; step 2 rebuilds with the user's edits.

Step 1 writes, in the current folder (names and layer-table key per generation: the caller
passes them, see rknn_diag.dropin.hybrid_files):
    {name}.quantization.cfg   YAML: `customized_quantize_layers` (1.x; toolkit2 spells it
                              `custom_quantize_layers`) ({layer: dtype}, empty) and
                              `quantize_parameters` ({tensor: {dtype, scale, zero_point}})
    {name}.data               the calibrated model (our model file: graph, ranges, parameters)
    {name}.json / .model      its table of layers and the SHA-256 of {name}.data (JSON)
Step 2 reads them back: a layer listed in the layer table (by layer name or by its output
tensor's name) runs in the dtype given (float16, or int16 for a 16-bit integer layer; int8
keeps it 8-bit), edited scales/zero points are used as written, and every parameter that
depends on them is chosen again. With a dataset, step 2 calibrates again on it first. A
malformed cfg is refused naming the line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import modelfile
from ..errors import ConfigError, ModelInvalidError
from ..extras import require
from ..fileio import atomic_write
from ..model import BuiltModel
from .quantizer import assign, float_only_layers
from ..qrules.schemes import QParams

LAYER_DTYPES = {"float16": "float16", "float32": "float16", "int16": "int16", "i16": "int16",
                "dynamic_fixed_point-i16": "int16", "dynamic_fixed_point-16": "int16", "int8": "int8",
                "asymmetric_affine-u8": "uint8", "asymmetric_quantized-u8": "uint8"}
LAYER_KEYS = ("customized_quantize_layers", "custom_quantize_layers")


def step1(model: BuiltModel, name: str, folder: str | Path = ".", model_ext: str = "json",
          layer_key: str = "customized_quantize_layers", proposed: dict[str, str] | None = None) -> dict[str, Path]:
    folder = Path(folder)
    data = modelfile.dumps(model)
    paths = {"cfg": folder / f"{name}.quantization.cfg", "json": folder / f"{name}.{model_ext}",
             "data": folder / f"{name}.data"}
    atomic_write(paths["data"], data, what="hybrid data file")
    layers = [{"name": n.name, "op": n.op_type, "outputs": [o for o in n.outputs if o], "source": n.source}
              for n in model.graph.nodes]
    atomic_write(paths["json"], json.dumps({"model": name, "mode": model.mode, "layers": layers,
                                            "data_sha256": hashlib.sha256(data).hexdigest()}, indent=1))
    atomic_write(paths["cfg"], _cfg_text(model, layer_key, proposed), what="hybrid config file")
    return paths


def _cfg_text(model: BuiltModel, layer_key: str = "customized_quantize_layers",
              proposed: dict[str, str] | None = None) -> str:
    lines = ["# rknn_diag hybrid quantization config (step 1). Edit, then call hybrid_quantization_step2.",
             f"# {layer_key}: {{layer or output tensor: dtype}}; dtype float16, int16 or int8. "
             "Layers of this model:"]
    for n in model.graph.nodes:
        lines.append(f"#   {n.name}: {n.op_type} -> {', '.join(o for o in n.outputs if o)}")
    if proposed:
        lines.append(f"{layer_key}:   # proposed (step 1 proposal=True); review before step 2")
        lines += [f"  {json.dumps(layer)}: {dtype}" for layer, dtype in proposed.items()]
    else:
        lines.append(f"{layer_key}: {{}}")
    lines.append("quantize_parameters:")
    for tname, d in model.quant.get("tensors", {}).items():
        qp = QParams.from_dict(d)
        lines.append(f"  {json.dumps(tname)}:")
        lines.append(f"    dtype: {qp.dtype}")
        lines.append(f"    scale: {json.dumps([float(v) for v in np.ravel(qp.scale)])}")
        lines.append(f"    zero_point: {json.dumps([int(v) for v in np.ravel(qp.zero_point)])}")
    return "\n".join(lines) + "\n"


def _line_of(node) -> int:
    return node.start_mark.line + 1


def read_cfg(path: str | Path, model: BuiltModel) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(layer overrides, edited tensor parameters) from a cfg; errors name the line."""
    yaml = require("yaml", "reading the hybrid quantization cfg")

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"quantization cfg not found: {path}", fix="pass the file hybrid_quantization_step1 wrote")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        raise ConfigError(f"the cfg is not valid YAML: {getattr(e, 'problem', e)}", where=where,
                          fix="keep the layout step 1 wrote (indentation, 'key: value')") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise ConfigError("the cfg holds no mapping", where=str(path),
                          fix="it needs customized_quantize_layers and quantize_parameters")
    loader = yaml.SafeLoader("")
    layer_names = {n.name for n in model.graph.nodes}
    by_output = {o: n.name for n in model.graph.nodes for o in n.outputs if o}
    tensors = model.quant.get("tensors", {})
    layers: dict[str, str] = {}
    edits: dict[str, dict[str, Any]] = {}
    for key, val in root.value:
        k = loader.construct_object(key, deep=True)
        where = f"{path}, line {_line_of(key)}"
        if k in LAYER_KEYS:
            if isinstance(val, yaml.ScalarNode) and val.value in ("", "~", "null"):
                continue
            if not isinstance(val, yaml.MappingNode):
                raise ConfigError(f"{k} must be a mapping {{layer: dtype}}", where=where)
            for lk, lv in val.value:
                ln, dt = loader.construct_object(lk), loader.construct_object(lv)
                w = f"{path}, line {_line_of(lk)}"
                ln = ln if ln in layer_names else by_output.get(ln, ln)   # toolkit2 names output tensors
                if ln not in layer_names:
                    raise ConfigError(f"unknown layer '{ln}'", where=w,
                                      fix="use a layer name listed in the comments at the top of the cfg")
                if str(dt) not in LAYER_DTYPES:
                    raise ConfigError(f"layer '{ln}': dtype '{dt}' is not one hybrid quantization takes", where=w,
                                      fix=f"use one of {', '.join(sorted(LAYER_DTYPES))}")
                layers[ln] = LAYER_DTYPES[str(dt)]
        elif k == "quantize_parameters":
            if not isinstance(val, yaml.MappingNode):
                raise ConfigError("quantize_parameters must be a mapping {tensor: {scale, zero_point}}", where=where)
            for tk, tv in val.value:
                tn = loader.construct_object(tk)
                w = f"{path}, line {_line_of(tk)}"
                if tn not in tensors:
                    raise ConfigError(f"unknown tensor '{tn}'", where=w, fix="keep the tensor names step 1 wrote")
                d = loader.construct_object(tv, deep=True)
                if not isinstance(d, dict):
                    raise ConfigError(f"tensor '{tn}': expected dtype/scale/zero_point", where=w)
                edit = _tensor_edit(tn, d, QParams.from_dict(tensors[tn]), w)
                if edit:
                    edits[tn] = edit
        else:
            raise ConfigError(f"unknown cfg key '{k}'", where=where,
                              fix="the cfg takes customized_quantize_layers (or custom_quantize_layers) "
                                  "and quantize_parameters")
    return layers, edits


def _tensor_edit(name: str, d: dict, qp: QParams, where: str) -> dict[str, Any]:
    unknown = set(d) - {"dtype", "scale", "zero_point"}
    if unknown:
        raise ConfigError(f"tensor '{name}': unknown field(s) {sorted(unknown)}", where=where)
    edit: dict[str, Any] = {}
    try:
        scale = np.asarray(d.get("scale", np.ravel(qp.scale).tolist()), np.float64).reshape(-1)
        zp = np.asarray(d.get("zero_point", np.ravel(qp.zero_point).tolist()), np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"tensor '{name}': scale and zero_point must be lists of numbers", where=where) from None
    if scale.size != 1 or zp.size != 1:
        raise ConfigError(f"tensor '{name}': activations take one scale and one zero_point", where=where)
    if not np.isfinite(scale).all() or (scale <= 0).any():
        raise ConfigError(f"tensor '{name}': scale must be a positive number, got {scale.tolist()}", where=where)
    lo, hi = qp.qrange
    if (zp != np.rint(zp)).any() or zp[0] < lo or zp[0] > hi:
        raise ConfigError(f"tensor '{name}': zero_point {zp.tolist()} is not an integer in [{lo}, {hi}]",
                          where=where)
    if d.get("dtype", qp.dtype) != qp.dtype:
        raise ConfigError(f"tensor '{name}': change a tensor's dtype through customized_quantize_layers",
                          where=where, fix="list its layer there with int16 or float16")
    if np.float32(scale[0]) != np.float32(np.ravel(qp.scale)[0]):
        edit["scale"] = np.float32(scale[0])
    if int(zp[0]) != int(np.ravel(qp.zero_point)[0]):
        edit["zero_point"] = np.int32(zp[0])
    return edit


def step2(model_input: str | Path, data_input: str | Path, cfg_path: str | Path,
          dataset: str | None = None, log=None) -> BuiltModel:
    data = Path(data_input).read_bytes() if Path(data_input).is_file() else None
    if data is None:
        raise ModelInvalidError(f"hybrid data file not found: {data_input}",
                                fix="pass the {name}.data that hybrid_quantization_step1 wrote")
    try:
        meta = json.loads(Path(model_input).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelInvalidError(f"cannot read the hybrid model file {model_input}: {e}",
                                fix="pass the {name}.json (1.x) or {name}.model (toolkit2) that "
                                    "hybrid_quantization_step1 wrote") from None
    if meta.get("data_sha256") != hashlib.sha256(data).hexdigest():
        raise ModelInvalidError(f"{model_input} and {data_input} do not belong together (checksum differs)",
                                fix="pass the .json and .data from the same hybrid_quantization_step1 run")
    model = modelfile.loads(data, str(data_input))
    layers, edits = read_cfg(cfg_path, model)
    q = model.quant
    # the layers a build keeps float16 whatever the cfg says (NaN tests, a final Softmax)
    layers = float_only_layers(model.graph, layers, log, q["mode"])
    if dataset is not None:   # calibrate again on the given dataset, with the layers' new dtypes
        from . import quantize_graph
        q["ranges"] = quantize_graph(model.graph, model.config, dataset, log, layers, equalize=False)["ranges"]
    q.update(assign(model.graph, q["ranges"], q["mode"], q["method"], layers, edits))
    q["layers"] = layers
    return model
