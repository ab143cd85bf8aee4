"""The 1.x settings for the ends of an already-quantized model (its load_quantized_model example).

* `quantize_input_node=True`: the input node itself is quantized, with the parameters of the
  model's own first QuantizeLinear (or of calibration). That is how every quantized model
  runs here, so the setting is reported at build (the input's dtype, scale, zero point: what
  `inputs_pass_through` inputs must hold), and warned about on a float model.
* `merge_dequant_layer_and_output_node=True`: the final dequantize merges into the output
  node, so inference() returns the output tensors' integers (their dtype, e.g. uint8)
  instead of floats; the scale and zero point to read them are printed at build.
"""

from __future__ import annotations

from typing import Any, Callable

from ..log import Logger
from ..model import BuiltModel
from ..qrules.schemes import QParams


def _params(model: BuiltModel, name: str) -> str:
    d = model.quant.get("tensors", {}).get(name)
    if d is None:
        return "not quantized (runs in float)"
    qp = QParams.from_dict(d)
    return f"{qp.dtype}, scale {float(qp.scale):.6g}, zero point {int(qp.zero_point)}"


def merges_dequant(model: BuiltModel) -> bool:
    """Whether inference returns the outputs' integers: merge_dequant_layer_and_output_node, or a
    model whose own outputs are integers (a uint8-output .tflite, `graph.meta['integer_outputs']`)."""
    wanted = model.config.recorded.get("merge_dequant_layer_and_output_node") or \
        model.graph.meta.get("integer_outputs")
    return bool(wanted) and model.mode != "float16"


def report(model: BuiltModel, log: Logger) -> None:
    rec = model.config.recorded
    for key in ("quantize_input_node", "merge_dequant_layer_and_output_node"):
        if rec.get(key) and model.mode == "float16":
            log.w(f"config(): '{key}'=True has no effect: the model is not quantized "
                  f"(build(do_quantization=True) or load a quantized model)")
    if model.mode == "float16":
        return
    if rec.get("quantize_input_node"):
        for v in model.graph.inputs:
            log.i(f"quantize_input_node: input '{v.name}' is quantized in the model: {_params(model, v.name)}")
    if rec.get("merge_dequant_layer_and_output_node") or model.graph.meta.get("integer_outputs"):
        why = "merge_dequant_layer_and_output_node" if rec.get("merge_dequant_layer_and_output_node") else \
            "the model's own output is integer"
        for v in model.graph.outputs:
            log.i(f"{why}: output '{v.name}' is returned as integers: "
                  f"{_params(model, v.name)}; real value = scale * (q - zero point)")


def runner(model: BuiltModel, runtime: Any) -> Callable:
    """runtime.run, returning the outputs' integers when the dequantize is merged into them."""
    if merges_dequant(model) and hasattr(runtime, "passed_through"):   # the integer simulator
        return lambda feeds, dump=None: runtime.run(feeds, dump, raw=True)
    return runtime.run
