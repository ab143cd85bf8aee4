"""Every argument of the vendor's `RKNN` API (toolkit 1.x and toolkit2), and what we do with it.

Nothing a script passes is dropped silently: an argument is either acted on, or answered with
a `W` line naming it and saying why it changes nothing here, or refused with a typed error
saying why and what to do instead. Arguments the vendor's API does not have are refused
(the vendor raises TypeError for them).

A warned argument left at the vendor's default value changes nothing on the vendor either,
so it only gets a `D` line; any other value gets the `W` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..log import Logger


@dataclass(frozen=True)
class Warned:
    """Accepted, not acted on: `why` says why that changes nothing (or what to use instead)."""

    why: str
    default: Any = None


@dataclass(frozen=True)
class Refused:
    """Impossible here: `why` and `instead` go into the error."""

    why: str
    instead: str
    default: Any = None


_BOARD = "a property of the board's NPU driver; the simulator has no equivalent"

# config(): settings that do not change what the simulator computes. Settings we act on
# (mean/std, dtype, dynamic_input, model_pruning, ...) are parsed in rknn_diag.config.
CONFIG: dict[str, Warned] = {
    "force_builtin_perm": Warned("a 1.x board-side layout option; outputs are the same", False),
    "do_sparse_network": Warned("1.x sparse weight storage on the board; the arithmetic is the same", True),
    "need_horizontal_merge": Warned("a 1.x board-side layer merge; the arithmetic is the same", False),
    "output_optimize": Warned("a 1.x board-side output layout option; outputs are the same", 0),
    "custom_string": Warned("kept in the model file only", None),
    "remove_weight": Warned("weight-sharing models for the board are not built here; the model keeps "
                            "its weights", False),
    "compress_weight": Warned("weight compression is a board-side storage format; the arithmetic is "
                              "the same", False),
    "single_core_mode": Warned(_BOARD, False),
    "op_target": Warned("per-op NPU/CPU placement is a board decision; the simulator runs every op", None),
    "inputs_yuv_fmt": Warned("YUV input conversion happens in the board's driver; pass RGB arrays", None),
    "quantized_hybrid_level": Warned("automatic hybrid levels are not implemented; use accuracy_analysis "
                                     "then hybrid_quantization_step1/2", 0),
    "remove_reshape": Warned("input/output Reshape removal is a board-side layout option", False),
    "sparse_infer": Warned("sparse inference is a board-side option; the arithmetic is the same", False),
    "enable_flash_attention": Warned("an NPU kernel choice; the arithmetic is the same", False),
    "float_dtype": Warned("the float path is always float16, toolkit2's only float_dtype", "float16"),
    "quantize_weight": Warned("1.x weight-only quantization is not implemented; quantize with "
                              "build(do_quantization=True)", False),
    "mmse_epoch": Warned("our mmse observer searches the range exhaustively; epochs do not apply", 3),
    "auto_hybrid_cos_thresh": Warned("automatic hybrid quantization is not implemented", 0.98),
    "auto_hybrid_euc_thresh": Warned("automatic hybrid quantization is not implemented", None),
    # 1.x settings toolkit2 abandoned (RKNNToolKit2_API_Difference_With_Toolkit1)
    "caffe_mean_file": Warned("mean files are not read; give mean_values", None),
    "mean_file": Warned("mean files are not read; give mean_values", None),
    "dtype": Warned("1.x input dtype hint; inputs are cast to the model's input dtype", "float32"),
    "force_gray": Warned("convert images to one channel before passing them", None),
    "input_fitting": Warned("dataset images are resized (bilinear) to the input size", "scale"),
    "input_normalization": Warned("give mean_values/std_values", None),
    "model_data_format": Warned("a 1.x board-side storage format", "zone"),
    "quantized_moving_alpha": Warned("the moving_average algorithm is not implemented; normal is used", 0.01),
    "quantized_divergence_nbins": Warned("kl_divergence uses its own fixed histogram", 1024),
    "random_brightness": Warned("1.x calibration-time augmentation is not implemented", None),
    "random_contrast": Warned("1.x calibration-time augmentation is not implemented", None),
    "random_crop": Warned("1.x calibration-time augmentation is not implemented", None),
    "random_flip": Warned("1.x calibration-time augmentation is not implemented", None),
    "random_mirror": Warned("1.x calibration-time augmentation is not implemented", None),
    "restart": Warned("calibration always starts from scratch", False),
    "samples": Warned("batch_size x epochs decide the sample count (guide §1.4.5)", -1),
    "deconv_merge": Warned("a 1.x board-side merge; the arithmetic is the same", True),
    "conv_mul_merge": Warned("a 1.x board-side merge; the arithmetic is the same", True),
    "quantized_hybrid": Warned("use hybrid_quantization_step1/2", False),
    "remove_tensorflow_output_permute": Warned("outputs keep the source model's layout", False),
    "inputs_scale_range": Warned("input ranges come from calibration", None),
    "optimize": Warned("use optimization_level", "Default"),
}

# Method arguments beyond the ones the facade's signatures act on.
METHODS: dict[str, dict[str, Warned | Refused]] = {
    "build": {
        "pre_compile": Refused("a pre-compiled model is produced by the board's NPU driver, which is not "
                               "available here", "build without pre_compile; the model file runs on the "
                               "simulator and on boards through init_runtime(target=...)", False),
        "auto_hybrid": Warned("automatic hybrid quantization is not implemented; use accuracy_analysis, "
                              "then hybrid_quantization_step1/2", False),
    },
    "init_runtime": {
        "target_sub_class": Warned("only the simulator and adb boards are runtimes here", None),
        "async_mode": Warned("the simulator runs synchronously; results are the same", False),
        "core_mask": Warned(_BOARD, None),
        "eval_mem": Warned("eval_memory() works without it", False),
        "rknn2precompile": Refused("converting to a pre-compiled model needs the board's NPU driver",
                                   "run the normal model file; init_runtime(target=...) loads it on a board",
                                   False),
        "fallback_prior_device": Warned(_BOARD, None),
    },
    "inference": {
        "data_type": Warned("inputs are cast to the model's input dtype", None),
        "get_frame_id": Warned("the simulator has no frame counter; only outputs are returned", False),
    },
    "eval_perf": {
        "data_type": Warned("inputs are cast to the model's input dtype", None),
        "fix_freq": Warned("the simulator times host CPU, there is no NPU frequency to fix", True),
    },
    "accuracy_analysis": {
        "calc_qnt_error": Warned("quantization error is always computed", True),
        "dump_file_type": Warned("layer dumps are .npy (1.x layout) or .txt (toolkit2 layout)", "tensor"),
    },
    "hybrid_quantization_step2": {
        "pre_compile": Refused("a pre-compiled model is produced by the board's NPU driver",
                               "leave pre_compile=False", False),
    },
    "load_rknn": {
        "load_model_in_npu": Warned("the model is read from the host file; on a board it is pushed over adb",
                                    False),
    },
    "export_rknn": {
        "cpp_gen_cfg": Refused("C++ demo generation targets the vendor's board runtime (librknnrt)",
                               "write the board program against the vendor's rknpu2 examples", False),
    },
}


def for_parse(kwargs: dict[str, Any]) -> dict[str, Any]:
    """config() arguments without the ones only this module knows (they change nothing)."""
    from ..config import RECORDED_ONLY

    return {k: v for k, v in kwargs.items() if k not in CONFIG or k in RECORDED_ONLY}


def _is_default(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except Exception:  # arrays and friends: never the default
        return False


def screen(log: Logger, method: str, kwargs: dict[str, Any]) -> None:
    """Warn about or refuse each extra argument of `method`; refuse names the vendor does not have."""
    table = METHODS.get(method, {})
    for key, value in kwargs.items():
        rule = table.get(key)
        if rule is None:
            known = ", ".join(sorted(table)) or "none"
            raise ConfigError(f"{method}() got an unexpected argument '{key}'",
                              fix=f"check the spelling; extra arguments {method}() takes: {known}")
        _apply(log, f"{method}(): '{key}'", rule, value)


def note(log: Logger, method: str, **named: Any) -> None:
    """Warn about named parameters of `method` that the facade accepts but does not act on."""
    table = METHODS[method]
    for key, value in named.items():
        _apply(log, f"{method}(): '{key}'", table[key], value)


def config_settings(log: Logger, kwargs: dict[str, Any]) -> None:
    for key, value in kwargs.items():
        if key in CONFIG:
            _apply(log, f"config(): '{key}'", CONFIG[key], value)


def _apply(log: Logger, what: str, rule: Warned | Refused, value: Any) -> None:
    if isinstance(rule, Refused):
        if _is_default(value, rule.default):
            return
        raise ConfigError(f"{what}={value!r} is not available: {rule.why}", fix=rule.instead)
    if _is_default(value, rule.default):
        log.d(f"{what} left at its default; {rule.why}")
    else:
        log.w(f"{what}={value!r} has no effect here: {rule.why}")


def refuse(name: str, why: str, instead: str) -> ConfigError:
    """The error of a vendor method that cannot exist here."""
    return ConfigError(f"{name}() is not available: {why}", fix=instead)


# Whole vendor methods that cannot exist here, with why and what to do instead.
REFUSED_METHODS: dict[str, tuple[str, str]] = {
    "codegen": ("it generates C++ code for the vendor's board runtime (librknnrt), which is not part of "
                "this toolkit", "use the vendor's rknn-toolkit2 codegen, or its rknpu2 C examples"),
    "export_encrypted_rknn_model": ("encrypted models are decrypted only by the vendor's board driver with its "
                                    "secret keys", "export a plain model with export_rknn()"),
    "export_rknn_precompile_model": ("pre-compiled models are produced by the board's NPU driver",
                                     "export_rknn() a normal model; init_runtime(target=...) runs it on a board"),
    "load_mxnet": ("MXNet models are not read by this toolkit",
                   "export the model to ONNX (mxnet.onnx.export_model) and use load_onnx()"),
    "load_keras": ("Keras models are not read by this toolkit",
                   "export to ONNX (tf2onnx.convert.from_keras) or TFLite, then load_onnx()/load_tflite()"),
    "load_firmware": ("board firmware is loaded by the board, not by the host toolkit",
                      "update the board's NPU driver with the vendor's tools"),
    "direct_build": ("1.x direct_build reads the vendor's intermediate model/data files",
                     "use hybrid_quantization_step2() with the files hybrid_quantization_step1() wrote"),
}
