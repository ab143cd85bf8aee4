"""Which toolkit generation a script is written for: it decides the file layouts the script
expects (accuracy_analysis snapshot, hybrid quantization file names).

The rule, in order:
1. `target_platform` names a chip: its NPU generation decides (rk1808, rv1126, rk3399pro ...
   are toolkit 1.x; rk3566, rk3588, rv1106 ... are toolkit2). Both vendor generations
   require the chip for anything chip-specific, so their example scripts set it.
2. No chip given: a 1.x-only spelling in `config()` (`channel_mean_value`, `reorder_channel`,
   a 1.x quantized_dtype, or a setting toolkit2 abandoned) means 1.x; otherwise toolkit2,
   whose default chip (rk3588) this toolkit uses.
"""

from __future__ import annotations

from typing import Any

from .. import platforms

TOOLKIT1 = "toolkit1"
TOOLKIT2 = "toolkit2"

# config() spellings that only toolkit 1.x has (toolkit2's API-difference document marks them
# abandoned); seeing one without a chip says the script is a 1.x script.
V1_ONLY_SETTINGS = frozenset({
    "channel_mean_value", "reorder_channel", "batch_size", "epochs", "need_horizontal_merge",
    "force_builtin_perm", "do_sparse_network", "merge_dequant_layer_and_output_node",
    "quantize_input_node", "output_optimize", "mmse_epoch", "quantized_hybrid_level",
    "caffe_mean_file", "mean_file", "dtype", "force_gray", "input_fitting", "input_normalization",
    "model_data_format", "quantized_moving_alpha", "quantized_divergence_nbins", "random_brightness",
    "random_contrast", "random_crop", "random_flip", "random_mirror", "restart", "samples",
    "deconv_merge", "conv_mul_merge", "quantized_hybrid", "remove_tensorflow_output_permute",
    "inputs_scale_range", "optimize",
})


def of_config(kwargs: dict[str, Any]) -> str:
    """The generation of a script from the arguments it passed to config()."""
    tp = kwargs.get("target_platform")
    if tp:
        names = [tp] if isinstance(tp, str) else list(tp)
        gens = {platforms.CHIPS.get(str(n).lower()) for n in names} - {None}
        if len(gens) == 1:
            return TOOLKIT1 if gens.pop() == platforms.RKNPU1 else TOOLKIT2
    if V1_ONLY_SETTINGS & {k for k, v in kwargs.items() if v is not None}:
        return TOOLKIT1
    qd = kwargs.get("quantized_dtype")
    if qd is not None and platforms.DTYPE_ALIASES.get(str(qd)) in platforms.V1_DTYPES:
        return TOOLKIT1
    return TOOLKIT2


def of_platforms(target_platform: list[str]) -> str:
    """The generation of a built or loaded model (its chips are always known by then)."""
    return TOOLKIT1 if platforms.generation(target_platform) == platforms.RKNPU1 else TOOLKIT2
