"""Turn what the user passes to inference() into the graph's inputs.

4-D image inputs: layout (nhwc -> nchw), channel reorder, then (x - mean) / std,
all inside the model as on the NPU (guide §1.2.5). Anything else — vectors,
token ids, int64 indices, 5-D tensors, or inputs marked pass-through — is only
checked and cast, never changed.
"""

from __future__ import annotations

import functools

import numpy as np

from ..config import InputPreprocess
from ..errors import ConfigError, InputError
from ..ir import Value


def _is_image(v: Value) -> bool:
    return v.shape is not None and len(v.shape) == 4 and v.dtype is not None and v.dtype.kind == "f"


def formats_per_input(data_format: str | list | tuple | None, n: int) -> list[str]:
    """The vendor's data_format: one string for every input, or a list with one entry per input
    (None or a missing entry: 'nhwc', the vendor's default)."""
    if data_format is None or isinstance(data_format, str):
        formats = [data_format or "nhwc"] * n
    elif isinstance(data_format, (list, tuple)):
        if len(data_format) not in (1, n):
            raise InputError(f"data_format has {len(data_format)} entries for {n} input(s): {list(data_format)}",
                             fix="give one 'nhwc'/'nchw' per model input, in order, or one string for all")
        formats = [f or "nhwc" for f in (list(data_format) * n if len(data_format) == 1 else data_format)]
    else:
        raise InputError(f"data_format must be 'nhwc', 'nchw' or a list of them; got {data_format!r}")
    for i, f in enumerate(formats):
        if f not in ("nhwc", "nchw"):
            raise InputError(f"data_format must be 'nhwc' or 'nchw'; got {f!r}" + (f" for input {i}" if n > 1 else ""))
    return formats


def prepare(values: list[Value], pre: list[InputPreprocess], inputs: list, data_format: str | list | None,
            pass_through: list | None, batch: int) -> list[np.ndarray]:
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    if len(inputs) != len(values):
        raise InputError(f"the model takes {len(values)} input(s) "
                         f"{[f'{v.name}{list(v.shape)}' for v in values]}, got {len(inputs)}",
                         fix="pass one array per model input, in order")
    formats = formats_per_input(data_format, len(values))
    out = []
    for i, (v, x) in enumerate(zip(values, inputs)):
        through = bool(pass_through[i]) if pass_through and i < len(pass_through) else False
        p = pre[i] if i < len(pre) else InputPreprocess()
        x = np.asarray(x)
        if _is_image(v) and not through:
            out.append(_image(v, x, p, formats[i], batch, i))
        else:
            if _is_image(v) and formats[i] == "nhwc" and x.ndim in (3, 4):
                # a passed-through image skips mean/std and quantization, not its layout (1.x
                # pass_through: an HxWxC uint8 array with the default data_format)
                x = (x[None] if x.ndim == 3 else x).transpose(0, 3, 1, 2)
            out.append(_plain(v, x, batch, i))
    return out


def check_config(values: list[Value], pre: list[InputPreprocess]) -> None:
    """At build: mean/std/reorder given in config() fit the model's inputs (a mistake is
    refused where it is made, not at the first inference on some board). Same rules as
    `_image`/`_per_channel` apply at run time."""
    used = [i for i, p in enumerate(pre) if p.mean or p.std or p.reorder]
    if used and used[-1] >= len(values):
        raise ConfigError(f"config() gives mean/std/reorder for {used[-1] + 1} inputs but the model has "
                          f"{len(values)}: {[f'{v.name}{list(v.shape)}' for v in values]}",
                          fix="give one list per model input, in the model's input order", ref="1.2.5")
    for i in used:
        v, p = values[i], pre[i]
        if not _is_image(v):
            raise ConfigError(f"config() gives mean/std/reorder for input {i} '{v.name}' of shape "
                              f"{list(v.shape) if v.shape else '?'}, which is not a 4-D image: nothing would "
                              f"apply them", fix="give None for non-image inputs, e.g. mean_values=[[...], None]",
                              ref="1.2.5")
        c = v.shape[1]
        for name, vals, ok in (("mean_values", p.mean, (1, c)), ("std_values", p.std, (1, c)),
                               ("reorder_channel", p.reorder, (c,))):
            if vals and len(vals) not in ok:
                raise ConfigError(f"{name} for input {i} '{v.name}' has {len(vals)} values {vals}, but the "
                                  f"input has {c} channel{'s' if c != 1 else ''} (NHWC image "
                                  f"[{v.shape[0]}, {v.shape[2]}, {v.shape[3]}, {c}])",
                                  fix=f"give {c} value{'s' if c != 1 else ''}"
                                      + (" (or 1 for all channels)" if name != "reorder_channel" else ""),
                                  ref="1.2.4")


def _expect(v: Value, batch: int) -> tuple:
    return (v.shape[0] * batch, *v.shape[1:])


def _image(v: Value, x: np.ndarray, p: InputPreprocess, data_format: str, batch: int, i: int) -> np.ndarray:
    want = _expect(v, batch)
    c = want[1]
    if x.ndim == 3 and data_format == "nhwc" and batch > 1 and x.shape[0] == want[0] * want[2]:
        x = x.reshape(want[0], want[2], *x.shape[1:])   # the guide's §1.5.5/1.5.7: images stacked on axis 0
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise InputError(f"input {i} '{v.name}' wants a 4-D image {list(want)} (nchw), got shape {list(x.shape)}")
    got_c = x.shape[3] if data_format == "nhwc" else x.shape[1]
    if got_c != c:
        if c == 1 and got_c == 3:
            raise InputError(f"input {i} '{v.name}' is single-channel but a 3-channel image was passed "
                             f"(shape {list(x.shape)}, {data_format})",
                             fix="read the image as grayscale, e.g. cv2.imread(path, 0)", ref="1.5.9")
        raise InputError(f"input {i} '{v.name}' has {c} channels, got {got_c} in {data_format} array "
                         f"of shape {list(x.shape)}",
                         fix=f"pass data_format='{'nchw' if data_format == 'nhwc' else 'nhwc'}' "
                             "if the layout is the other one")
    given = x.shape
    if data_format == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    if x.shape != want:
        hint = (f"concatenate {batch} images on axis 0 (rknn_batch_size={batch})" if x.shape[0] != want[0]
                else f"resize the image to {want[2]}x{want[3]} (height x width)")
        shown = [want[0], want[2], want[3], want[1]] if data_format == "nhwc" else list(want)
        raise InputError(f"input {i} '{v.name}' wants shape {shown} ({data_format}), got {list(given)}",
                         fix=hint, ref="1.5.5" if x.shape[0] != want[0] else None)
    if p.reorder:
        if len(p.reorder) != c:
            raise InputError(f"reorder_channel {p.reorder} has {len(p.reorder)} entries for {c} channels",
                             where=f"input {i} '{v.name}'", ref="1.2.5")
        x = x[:, p.reorder]
    mean, shift = _per_channel(tuple(p.mean), c, "mean_values", i, 0.0) if p.mean else (None, False)
    std, scale = _per_channel(tuple(p.std), c, "std_values", i, 1.0) if p.std else (None, False)
    # Into one new float32 array: the float32 conversion happens inside the subtraction
    # (dtype=float32: a float64 image is rounded to float32 first, as astype does), the division
    # is in place, and a mean of zeros or a std of ones is skipped (x - 0 and x / 1 are x
    # exactly, -0 and NaN included). The values of astype -> subtract -> divide, in two passes.
    if not (shift or scale) and x.dtype == np.float32 and x.flags.c_contiguous:
        view = x.view()   # already what the model takes: no copy, and read-only, so theirs stays theirs
        view.flags.writeable = False
        return view
    out = np.empty(x.shape, np.float32)   # NCHW in memory whatever the caller's layout; theirs stays theirs
    if shift:
        np.subtract(x, mean, out=out, dtype=np.float32)
    else:
        np.copyto(out, x, casting="unsafe")   # unsafe: int64/float64 images, as astype converts them
    if scale:
        np.divide(out, std, out=out)
    return out


@functools.lru_cache(maxsize=64)
def _per_channel(vals: tuple[float, ...], c: int, name: str, i: int, identity: float) -> tuple[np.ndarray, bool]:
    """(the values as a read-only float32 (1, C, 1, 1) array, whether any differs from
    `identity`), made once per config rather than on every inference() call."""
    if len(vals) not in (1, c):
        raise InputError(f"{name}[{i}] has {len(vals)} values for an input of {c} channels",
                         fix="give one value per channel", ref="1.2.4")
    a = np.asarray(vals, np.float32).reshape(1, -1, 1, 1)
    a.flags.writeable = False
    return a, bool((a != identity).any())


def _plain(v: Value, x: np.ndarray, batch: int, i: int) -> np.ndarray:
    if v.shape is not None:
        want = _expect(v, batch) if len(v.shape) else ()
        if tuple(x.shape) != tuple(want):
            raise InputError(f"input {i} '{v.name}' wants shape {list(want)}, got {list(x.shape)}",
                             fix="pass an array of the model's input shape")
    if v.dtype is not None and x.dtype != v.dtype:
        if not np.can_cast(x.dtype, v.dtype, "same_kind") and not (x.dtype.kind in "iu" and v.dtype.kind in "iu"):
            raise InputError(f"input {i} '{v.name}' wants {v.dtype}, got {x.dtype}",
                             fix=f"pass x.astype(np.{v.dtype})")
        x = x.astype(v.dtype)
    return x
