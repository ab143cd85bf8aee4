"""`config()` settings: parsed, checked and normalised in one place.

Both toolkit generations' spellings are accepted (v1: `channel_mean_value`,
`reorder_channel`; v2: `mean_values`/`std_values`, `quant_img_RGB2BGR`).
Unknown or contradictory settings are refused with a message saying which.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any

from . import platforms
from .errors import ConfigError

QUANTIZED_ALGORITHMS = ("normal", "kl_divergence", "mmse")
QUANTIZED_METHODS = ("channel", "layer") + tuple(f"group{n}" for n in (32, 64, 128, 256))
DEFAULT_PLATFORM = "rk3588"

# Settings the vendor toolkits take that do not change what our simulator computes.
# They are kept in the model file (so a report shows them) but otherwise ignored.
RECORDED_ONLY = (
    "quantize_input_node", "merge_dequant_layer_and_output_node", "force_builtin_perm",
    "do_sparse_network", "need_horizontal_merge", "output_optimize", "custom_string",
    "remove_weight", "compress_weight", "single_core_mode", "model_pruning", "op_target",
    "dynamic_input", "inputs_yuv_fmt", "quantized_hybrid_level", "remove_reshape",
    "sparse_infer", "enable_flash_attention", "float_dtype", "quantize_weight", "mmse_epoch",
    "auto_hybrid_cos_thresh", "auto_hybrid_euc_thresh",
)


@dataclass
class InputPreprocess:
    """Per-input: channel reorder first, then (x - mean) / std (guide §1.2.5)."""

    mean: list[float] | None = None
    std: list[float] | None = None
    reorder: list[int] | None = None
    # quant_img_RGB2BGR: calibration *images* are read RGB and reordered to BGR; inference inputs
    # are not (the user passes BGR, as rknn-toolkit2 2.5.0 does: tests/dropin/scripts/multi_batch.py)
    dataset_reorder: list[int] | None = None


@dataclass
class RknnConfig:
    target_platform: list[str] = field(default_factory=lambda: [DEFAULT_PLATFORM])
    quantized_dtype: str | None = None          # canonical name; None until resolved
    quantized_algorithm: str = "normal"
    quantized_method: str = "channel"
    batch_size: int = 100
    epochs: int = -1                            # -1: one pass over the dataset
    optimization_level: int = 3
    preprocess: list[InputPreprocess] = field(default_factory=list)
    recorded: dict[str, Any] = field(default_factory=dict)

    @property
    def generation(self) -> str:
        return platforms.generation(self.target_platform)

    @property
    def dtype(self) -> str:
        """The quantized dtype in force: the one set, else the platform's default."""
        return self.quantized_dtype or platforms.dtypes_for(self.target_platform[0])[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RknnConfig":
        d = dict(d)
        d["preprocess"] = [InputPreprocess(**p) for p in d.get("preprocess", [])]
        return cls(**d)


_KNOWN = {
    "mean_values", "std_values", "channel_mean_value", "reorder_channel", "quant_img_RGB2BGR",
    "quantized_dtype", "quantized_algorithm", "quantized_method", "batch_size", "epochs",
    "target_platform", "optimization_level", *RECORDED_ONLY,
}


def _per_input(value: Any, name: str) -> list:
    """Vendor convention: a list per input; a flat list of numbers means one input."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        return [list(value)]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list per input, e.g. [[0, 0, 0]]; got {value!r}")
    out = []
    for i, v in enumerate(value):
        if v is None:
            out.append(None)
        elif isinstance(v, (int, float)):
            out.append([float(v)])
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v):
            out.append([float(x) for x in v])
        else:
            raise ConfigError(f"{name}[{i}] must be a list of numbers; got {v!r}")
    return out


def _split_inputs(text: str, name: str) -> list[list[float]]:
    """v1 strings: 'M0 M1 M2 S0', inputs separated by '#'."""
    if not isinstance(text, str):
        raise ConfigError(f"{name} must be a string like '0 0 0 255' ('#' between inputs); got {text!r}")
    out = []
    for part in text.split("#"):
        try:
            out.append([float(x) for x in part.split()])
        except ValueError:
            raise ConfigError(f"{name} has a non-number in {part!r}",
                              fix="write numbers separated by spaces, e.g. '0 0 0 255'") from None
    return out


def _channel_mean_value(text: str) -> list[InputPreprocess]:
    """v1: 'M0 M1 M2 S0' (3 channels), 'M0 M1 M2 M3 S0' (4), 'M0 S0' (1) — guide §1.2.1-1.2.4."""
    result = []
    for i, vals in enumerate(_split_inputs(text, "channel_mean_value")):
        if len(vals) < 2:
            raise ConfigError(f"channel_mean_value input {i}: needs means then one scale, got {vals}",
                              fix="use 'M0 S0' (1 channel), 'M0 M1 M2 S0' (3) or 'M0 M1 M2 M3 S0' (4)",
                              ref="1.2.1")
        means, scale = vals[:-1], vals[-1]
        if scale == 0:
            raise ConfigError(f"channel_mean_value input {i}: scale S0 is 0", fix="S0 divides the input; "
                              "use e.g. 255 for [0,1] or 128 for [-1,1]", ref="1.2.1")
        result.append(InputPreprocess(mean=means, std=[scale] * len(means)))
    return result


def parse(**kwargs: Any) -> RknnConfig:
    """Turn `RKNN.config(**kwargs)` into an `RknnConfig`, or raise `ConfigError`."""
    unknown = set(kwargs) - _KNOWN
    if unknown:
        key = sorted(unknown)[0]
        near = difflib.get_close_matches(key, sorted(_KNOWN), n=1)
        raise ConfigError(f"unknown config() setting '{key}'",
                          fix=f"did you mean '{near[0]}'?" if near else "see the RKNN config() documentation")
    cfg = RknnConfig()

    tp = kwargs.get("target_platform")
    if tp is not None:
        names = [tp] if isinstance(tp, str) else list(tp)
        names = [str(n).lower() for n in names]
        bad = [n for n in names if n not in platforms.CHIPS]
        if bad or not names:
            raise ConfigError(f"unknown target_platform {bad or tp!r}",
                              fix=f"use one of {', '.join(sorted(platforms.CHIPS))}")
        if platforms.generation(names) == "mixed":
            raise ConfigError(f"target_platform {names} mixes RKNPU1 and RKNPU2 chips",
                              fix="a model is built for one NPU generation; build once per generation",
                              ref="1.7.1")
        cfg.target_platform = names

    qd = kwargs.get("quantized_dtype")
    if qd is not None:
        canon = platforms.DTYPE_ALIASES.get(str(qd))
        if canon is None:
            raise ConfigError(f"unknown quantized_dtype '{qd}'",
                              fix=f"use one of {', '.join(sorted(platforms.DTYPE_ALIASES))}", ref="1.4.1")
        allowed = platforms.dtypes_for(cfg.target_platform[0])
        if canon not in allowed:
            raise ConfigError(f"quantized_dtype '{qd}' is not available on {cfg.target_platform[0]}",
                              fix=f"{cfg.target_platform[0]} has {', '.join(allowed)}", ref="1.4.1")
        cfg.quantized_dtype = canon

    qa = kwargs.get("quantized_algorithm")
    if qa is not None:
        if qa not in QUANTIZED_ALGORITHMS:
            raise ConfigError(f"unknown quantized_algorithm '{qa}'", fix=f"use one of {QUANTIZED_ALGORITHMS}")
        cfg.quantized_algorithm = qa
    qm = kwargs.get("quantized_method")
    if qm is not None:
        if qm not in QUANTIZED_METHODS:
            raise ConfigError(f"unknown quantized_method '{qm}'", fix=f"use one of {QUANTIZED_METHODS}")
        if qm.startswith("group") != (cfg.dtype == "w4a16"):
            raise ConfigError(f"quantized_method '{qm}' does not go with quantized_dtype '{cfg.dtype}'",
                              fix="group32..group256 are for w4a16 only; channel/layer for the others")
        cfg.quantized_method = qm
    elif cfg.dtype == "w4a16":
        cfg.quantized_method = "group128"

    for key in ("batch_size", "epochs", "optimization_level"):
        if kwargs.get(key) is not None:
            v = kwargs[key]
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"{key} must be an integer; got {v!r}")
            setattr(cfg, key, v)
    if cfg.batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1; got {cfg.batch_size}", ref="1.4.5")
    if cfg.epochs == 0 or cfg.epochs < -1:
        raise ConfigError(f"epochs must be >= 1, or -1 for one pass; got {cfg.epochs}", ref="1.4.5")
    if cfg.optimization_level not in (0, 1, 2, 3):
        raise ConfigError(f"optimization_level must be 0..3; got {cfg.optimization_level}")

    cfg.preprocess = _preprocess(kwargs)
    cfg.recorded = {k: kwargs[k] for k in RECORDED_ONLY if k in kwargs}
    return cfg


def _preprocess(kwargs: dict[str, Any]) -> list[InputPreprocess]:
    cmv = kwargs.get("channel_mean_value")
    if cmv is not None and (kwargs.get("mean_values") is not None or kwargs.get("std_values") is not None):
        raise ConfigError("channel_mean_value (toolkit 1.x) and mean_values/std_values (2.x) both set",
                          fix="set one of them; mean_values=[[M0,M1,M2]], std_values=[[S0,S0,S0]] "
                              "means the same as channel_mean_value='M0 M1 M2 S0'", ref="1.2.1")
    if kwargs.get("reorder_channel") is not None and kwargs.get("quant_img_RGB2BGR"):
        raise ConfigError("reorder_channel and quant_img_RGB2BGR both set", fix="set one of them")
    if cmv is not None:
        pre = _channel_mean_value(cmv)
    else:
        means = _per_input(kwargs.get("mean_values"), "mean_values")
        stds = _per_input(kwargs.get("std_values"), "std_values")
        pre = [InputPreprocess() for _ in range(max(len(means), len(stds)))]
        for i, m in enumerate(means):
            pre[i].mean = m
        for i, s in enumerate(stds):
            if s is not None and any(v == 0 for v in s):
                raise ConfigError(f"std_values[{i}] has a 0", fix="std divides the input; use 1 for no scaling")
            pre[i].std = s
        for i, p in enumerate(pre):
            if p.mean and p.std and len(p.mean) != len(p.std) and 1 not in (len(p.mean), len(p.std)):
                raise ConfigError(f"input {i}: mean_values has {len(p.mean)} values but std_values "
                                  f"{len(p.std)}", fix="give one value per channel in both")
    ro = kwargs.get("reorder_channel")
    if ro is not None:
        for i, order in enumerate(_split_inputs(ro, "reorder_channel")):
            ints = [int(v) for v in order]
            if sorted(ints) != list(range(len(ints))):
                raise ConfigError(f"reorder_channel input {i}: {order} is not a permutation",
                                  fix="use '0 1 2' (RGB) or '2 1 0' (BGR)", ref="1.2.5")
            while len(pre) <= i:
                pre.append(InputPreprocess())
            pre[i].reorder = ints
    rgb2bgr = kwargs.get("quant_img_RGB2BGR")
    if rgb2bgr:
        flags = rgb2bgr if isinstance(rgb2bgr, (list, tuple)) else [rgb2bgr]
        for i, f in enumerate(flags):
            while len(pre) <= i:
                pre.append(InputPreprocess())
            if f:
                pre[i].dataset_reorder = [2, 1, 0]
    return pre
