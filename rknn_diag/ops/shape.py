"""Shape and layout ops: Identity, Dropout, Reshape, Flatten, Transpose, Squeeze,
Unsqueeze, Concat, Split, Slice, Pad, Tile, Expand, Shape, Size, ReverseSequence, CenterCropPad.

Several ops turned an attribute into an input of the same name (Slice starts/ends/
axes at 10, Split split at 13, Squeeze/Unsqueeze axes at 13, Pad pads at 11). A
Python signature cannot hold a parameter and a keyword-only parameter of one name,
so the *input* carries a trailing underscore (`axes_`); attributes keep ONNX names.

Outputs never share memory with inputs (np.array copies), so a runtime that writes
into an output buffer cannot corrupt a constant or a caller's array.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, UnsupportedOpError
from .registry import ALL_INPUTS, ANY, DIRECT, KERNEL, Quant, register
from ._tensor_util import FLOATS_ALL, int_list, norm_axes, norm_axis


@register("Identity", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def identity(input):
    """The input, unchanged."""
    return np.array(input)


def _check_dropout(inputs, attrs) -> None:
    """Training mode is random: refused at load unless training_mode is omitted or a constant
    false (or the ratio a constant 0), so a model never builds and then fails in inference."""
    mode = inputs[2] if len(inputs) > 2 else None
    ratio = inputs[1] if len(inputs) > 1 else None
    if mode is None:                       # omitted: inference mode
        return
    if isinstance(ratio, np.ndarray) and float(ratio.reshape(())) == 0:
        return                             # training mode with ratio 0 is the identity
    if isinstance(mode, np.ndarray) and not bool(mode.reshape(())):
        return
    raise UnsupportedOpError(
        "Dropout in training mode is random and is not supported" if isinstance(mode, np.ndarray) else
        "Dropout's training_mode is fed at run time, so training mode (random) cannot be ruled out",
        where="input 'training_mode'",
        fix="export the model in eval mode (model.eval(), torch.onnx.export(training=TrainingMode.EVAL)), "
            "or make training_mode a constant false")


@register("Dropout", dtypes=FLOATS_ALL, check=_check_dropout, quant=Quant(shares_scale=True))
def dropout(data, ratio_=None, training_mode=None, *, ratio=0.5, seed=None, opset=13):
    """Inference: the input unchanged, plus the optional mask output (as onnxruntime gives it)."""
    x = np.asarray(data)
    if training_mode is not None and bool(np.asarray(training_mode).reshape(())):
        r = ratio if ratio_ is None else float(np.asarray(ratio_).reshape(()))
        if r != 0:
            raise UnsupportedOpError(
                "Dropout with training_mode=true is random and is not supported",
                where="Dropout input 'training_mode'",
                fix="export the model in eval mode (model.eval() / training=TrainingMode.EVAL)")
    # The inference-mode mask is what onnxruntime (our reference) gives: all true
    # since opset 12; all false before (a float mask of x's type before opset 10).
    if opset >= 12:
        return x.copy(), np.ones(x.shape, dtype=bool)
    return x.copy(), np.zeros(x.shape, dtype=bool if opset >= 10 else x.dtype)


@register("Reshape", dtypes=ANY, values={"allowzero": (0, 1)}, quant=Quant(DIRECT, shares_scale=True))
def reshape(data, shape, *, allowzero=0):
    """Reshape; 0 copies the input dim (unless allowzero=1), -1 is inferred."""
    x = np.asarray(data)
    dims = int_list(shape, "Reshape input 'shape'")
    if not allowzero:
        for i, d in enumerate(dims):
            if d == 0:
                if i >= x.ndim:
                    raise InputError(f"Reshape shape {dims} copies dim {i} of a rank-{x.ndim} input",
                                     where="Reshape input 'shape'", fix="fix the exported shape tensor")
                dims[i] = x.shape[i]
    try:
        return np.array(x.reshape(dims))
    except ValueError:
        raise InputError(f"cannot reshape {x.shape} into {dims}", where="Reshape input 'shape'",
                         fix="the shape tensor disagrees with the input's size; check the input shape") from None


@register("Flatten", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def flatten(input, *, axis=1):
    """2-D: dims before `axis` times dims from `axis` on."""
    x = np.asarray(input)
    a = axis + x.ndim if axis < 0 else axis
    if not 0 <= a <= x.ndim:
        raise InputError(f"Flatten axis={axis} out of range for rank {x.ndim}", where="Flatten attribute 'axis'",
                         fix=f"use an axis in [{-x.ndim}, {x.ndim}]")
    return np.array(x.reshape(int(np.prod(x.shape[:a], dtype=np.int64)), int(np.prod(x.shape[a:], dtype=np.int64))))


@register("Transpose", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def transpose(data, *, perm=None):
    """Permute axes (default: reverse them)."""
    x = np.asarray(data)
    if perm is None:
        return np.array(x.transpose())
    return np.array(x.transpose(norm_axes(list(perm), x.ndim, "Transpose attribute 'perm'")))


@register("Squeeze", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def squeeze(data, axes_=None, *, axes=None, opset=13):
    """Drop size-1 axes: the listed ones (attribute before 13, input since) or all."""
    x = np.asarray(data)
    listed = int_list(axes if opset < 13 else axes_, "Squeeze axes")
    if not listed and (axes if opset < 13 else axes_) is None:
        return np.array(x.reshape([d for d in x.shape if d != 1]))
    ax = norm_axes(listed, x.ndim, "Squeeze axes")
    bad = [a for a in ax if x.shape[a] != 1]
    if bad:
        raise InputError(f"Squeeze axes {bad} of shape {x.shape} are not 1", where="Squeeze axes",
                         fix="squeeze only size-1 axes")
    return np.array(x.reshape([d for i, d in enumerate(x.shape) if i not in ax]))


@register("Unsqueeze", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def unsqueeze(data, axes_=None, *, axes=None, opset=13):
    """Insert size-1 axes at positions of the output (attribute before 13, input since)."""
    x = np.asarray(data)
    listed = int_list(axes if opset < 13 else axes_, "Unsqueeze axes")
    rank = x.ndim + len(listed)
    ax = set(norm_axes(listed, rank, "Unsqueeze axes"))
    dims = iter(x.shape)
    return np.array(x.reshape([1 if i in ax else next(dims) for i in range(rank)]))


@register("Concat", dtypes=ANY, quant=Quant(KERNEL, data=ALL_INPUTS))
def concat(*inputs, axis):
    """Join along `axis` (negative counts from the end)."""
    arrs = [np.asarray(i) for i in inputs]
    return np.concatenate(arrs, axis=norm_axis(axis, arrs[0].ndim, "Concat attribute 'axis'"))


# Split's output count lives on the node: the registry passes it as n_outputs.
@register("Split", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def split(input, split_=None, *, axis=0, split=None, num_outputs=None, opset=13, n_outputs=None):
    """Split along `axis` by sizes (attribute before 13, input since) or into num_outputs parts."""
    x = np.asarray(input)
    a = norm_axis(axis, x.ndim, "Split attribute 'axis'")
    n = x.shape[a]
    sizes_src = split if opset < 13 else split_
    if sizes_src is not None and len(np.asarray(sizes_src).reshape(-1)):
        sizes = int_list(sizes_src, "Split sizes")
        if sum(sizes) != n or min(sizes) < 0:
            raise InputError(f"Split sizes {sizes} do not add up to dim {a} ({n})", where="Split sizes",
                             fix="fix the split sizes in the model")
    elif num_outputs or n_outputs:
        num_outputs = num_outputs or n_outputs
        chunk = -(-n // num_outputs)  # ceil: all parts equal but the last (opset 18)
        sizes = [min(chunk, max(n - i * chunk, 0)) for i in range(num_outputs)]
    else:
        raise UnsupportedOpError("Split without sizes needs its output count",
                                 where="Split", fix="call the kernel through registry.run(..., n_outputs=)")
    cuts = np.cumsum(sizes)[:-1]
    return [np.array(p) for p in np.split(x, cuts, axis=a)]


# Exporters write INT_MAX as "to the end"; with a negative step onnxruntime reads it
# as "to the beginning" (the spec would clamp it to dim-1, an empty slice). We follow
# onnxruntime, the reference every target is compared with.
_TO_THE_END = (np.iinfo(np.int32).max, np.iinfo(np.int64).max)


def _slice_bounds(start: int, end: int, step: int, dim: int) -> slice:
    # ONNX clamps: step > 0 to [0, dim]; step < 0 start to [0, dim-1], end to [-1, dim-1].
    if step < 0 and end in _TO_THE_END:
        end = -dim - 1
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return slice(start, end, step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


@register("Slice", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def slice_(data, starts_=None, ends_=None, axes_=None, steps=None, *, starts=None, ends=None, axes=None,
           opset=13):
    """Slice by starts/ends/axes/steps (attributes before opset 10, inputs since)."""
    x = np.asarray(data)
    if opset < 10:
        st, en, ax, sp = starts, ends, axes, None
    else:
        st, en, ax, sp = starts_, ends_, axes_, steps
    st, en = int_list(st, "Slice starts"), int_list(en, "Slice ends")
    if len(st) != len(en):
        raise InputError(f"Slice has {len(st)} starts but {len(en)} ends", where="Slice", fix="fix the model")
    ax = norm_axes(int_list(ax, "Slice axes"), x.ndim, "Slice axes") if ax is not None else list(range(len(st)))
    sp = int_list(sp, "Slice steps") if sp is not None else [1] * len(st)
    if 0 in sp:
        raise InputError("Slice step 0", where="Slice input 'steps'", fix="steps must be non-zero")
    index = [slice(None)] * x.ndim
    for s, e, a, k in zip(st, en, ax, sp):
        index[a] = _slice_bounds(s, e, k, x.shape[a])
    return np.array(x[tuple(index)])


def _pad_spec(rank: int, pads: list[int], axes: list[int] | None, where: str) -> list[tuple[int, int]]:
    axes = list(range(rank)) if axes is None else norm_axes(axes, rank, "Pad input 'axes'")
    if len(pads) != 2 * len(axes):
        raise InputError(f"Pad has {len(pads)} pads for {len(axes)} axes", where=where,
                         fix="pads holds all begins then all ends: 2 values per padded axis")
    spec = [(0, 0)] * rank
    for i, a in enumerate(axes):
        spec[a] = (pads[i], pads[i + len(axes)])
    return spec


@register("Pad", dtypes=ANY, values={"mode": ("constant", "reflect", "edge", "wrap")},
          quant=Quant(DIRECT, shares_scale=True))
def pad(data, pads_=None, constant_value=None, axes_=None, *, mode="constant", pads=None, value=0.0, opset=13):
    """Pad (negative pads crop): pads/value attributes before opset 11; pads, constant_value
    and (18) axes inputs since; modes constant, reflect, edge, wrap (19)."""
    x = np.asarray(data)
    if opset < 11:
        p, fill, ax = int_list(pads, "Pad attribute 'pads'"), value, None
    else:
        p = int_list(pads_, "Pad input 'pads'")
        fill = 0 if constant_value is None or np.asarray(constant_value).size == 0 \
            else np.asarray(constant_value).reshape(-1)[0]
        ax = None if axes_ is None else int_list(axes_, "Pad input 'axes'")
    spec = _pad_spec(x.ndim, p, ax, "Pad pads")
    # Crop the negative pads first, then pad the positive ones.
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(spec))
    x = np.array(x[crop])  # a copy: a zero pad must not hand back a view of the input
    grow = [(max(b, 0), max(e, 0)) for b, e in spec]
    if mode == "constant":
        return np.pad(x, grow, mode="constant", constant_values=np.asarray(fill).astype(x.dtype))
    if mode == "reflect":
        short = [i for i, (b, e) in enumerate(grow) if max(b, e) >= x.shape[i] and (b or e)]
        if short:
            raise InputError(f"reflect pads {[grow[i] for i in short]} reach past axis size "
                             f"{[x.shape[i] for i in short]}", where="Pad pads",
                             fix="reflect pads must be smaller than the padded axis")
    return np.pad(x, grow, mode=mode)


@register("Tile", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def tile(input, repeats):
    """Repeat the input `repeats[i]` times along axis i."""
    x = np.asarray(input)
    reps = int_list(repeats, "Tile input 'repeats'")
    if len(reps) != x.ndim:
        raise InputError(f"Tile has {len(reps)} repeats for a rank-{x.ndim} input", where="Tile input 'repeats'",
                         fix="give one repeat count per input axis")
    return np.tile(x, reps)


@register("Expand", dtypes=ANY, quant=Quant(DIRECT, shares_scale=True))
def expand(input, shape):
    """Broadcast the input and `shape` against each other (either may grow)."""
    x = np.asarray(input)
    dims = int_list(shape, "Expand input 'shape'")
    try:
        out_shape = np.broadcast_shapes(x.shape, tuple(dims))
    except ValueError:
        raise InputError(f"Expand cannot broadcast {x.shape} with {dims}", where="Expand input 'shape'",
                         fix="each dim must match or be 1") from None
    return np.array(np.broadcast_to(x, out_shape))


@register("Shape", dtypes=ANY)
def shape(data, *, start=0, end=None):
    """The input's shape as int64, optionally dims [start, end) (opset 15)."""
    dims = np.asarray(np.asarray(data).shape, dtype=np.int64)
    return dims[slice(start, end)].copy()


@register("Size", dtypes=ANY)
def size(data):
    """The input's element count as an int64 scalar."""
    return np.asarray(np.asarray(data).size, dtype=np.int64)


@register("ReverseSequence", dtypes=ANY, values={"batch_axis": (0, 1), "time_axis": (0, 1)})
def reverse_sequence(input, sequence_lens, *, batch_axis=1, time_axis=0):
    """Reverse the first sequence_lens[b] steps along time_axis of each batch entry b."""
    x = np.asarray(input)
    lens = np.asarray(sequence_lens, np.int64).reshape(-1)
    b_ax, t_ax = norm_axis(batch_axis, x.ndim, "batch_axis"), norm_axis(time_axis, x.ndim, "time_axis")
    T = x.shape[t_ax]
    if lens.size != x.shape[b_ax] or (lens > T).any() or (lens < 0).any():
        raise InputError(f"ReverseSequence sequence_lens {lens.tolist()} do not fit batch {x.shape[b_ax]} x time {T}",
                         where="ReverseSequence input 'sequence_lens'", fix="one length per batch entry, each <= time")
    t = np.arange(T)[None, :]
    src = np.where(t < lens[:, None], lens[:, None] - 1 - t, t)        # [B, T]: source time index
    shape = [1] * x.ndim
    shape[b_ax], shape[t_ax] = src.shape[0], T
    if b_ax > t_ax:
        src = src.T
    idx = np.broadcast_to(src.reshape(shape), x.shape)
    return np.take_along_axis(x, idx, axis=t_ax)


@register("CenterCropPad", dtypes=ANY)
def center_crop_pad(input_data, shape, *, axes=None):
    """Crop or zero-pad each listed axis to `shape`, centred: a crop starts at (in - out) // 2,
    padding puts (out - in) // 2 zeros before the data."""
    x = np.asarray(input_data)
    sizes = int_list(shape, "CenterCropPad input 'shape'")
    ax = list(range(x.ndim)) if axes is None else norm_axes(list(axes), x.ndim, "CenterCropPad axes")
    if len(sizes) != len(ax):
        raise InputError(f"CenterCropPad shape has {len(sizes)} values for {len(ax)} axes",
                         where="CenterCropPad input 'shape'", fix="give one size per axis")
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    out_shape = list(x.shape)
    for a, n in zip(ax, sizes):
        cur = x.shape[a]
        out_shape[a] = n
        if n <= cur:
            start = (cur - n) // 2
            src[a] = slice(start, start + n)
        else:
            start = (n - cur) // 2
            dst[a] = slice(start, start + cur)
    y = np.zeros(out_shape, x.dtype)
    y[tuple(dst)] = x[tuple(src)]
    return y
