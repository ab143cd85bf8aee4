"""Calibration dataset checks (guide §1.4.3, §1.4.5, §1.4.6, §1.4.7, §1.3.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import NO_TOOLKIT, check, error, ok, skip, warn
from ..modelinfo import graph_inputs, load_onnx, models_of

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
SUPPORTED = IMAGE_SUFFIXES + (".npy",)     # §1.4.3: "Recommend to use jpg or npy"
CHANNELS = (1, 3, 4)                       # channel counts that identify the channel axis
# §1.4.5: from toolkit 1.2.1 the default batch_size is 100; samples used = batch_size x epochs.
# The epochs default of 1 is our assumption when only --batch-size is given (the guide gives none).
DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS = 100, 1
SHOW = 5                                   # problems listed in a message before "... and N more"


def _lines(ctx) -> list[tuple[int, list[Path]]]:
    """(line number, [file per model input]) for each non-blank line; relative to the dataset's folder."""
    base = ctx.dataset.parent

    def resolve(p: Path) -> Path:
        # The dataset's folder first; the working folder as toolkits that open paths as given do.
        return p if p.is_absolute() or not (base / p).exists() and p.exists() else base / p

    def parse():
        out = []
        for n, line in enumerate(ctx.dataset.read_text(errors="replace").splitlines(), 1):
            parts = line.split()
            if parts:
                out.append((n, [resolve(p) for p in map(Path, parts)]))
        return out
    return ctx.cached("dataset", parse)


def _usable(ctx) -> bool:
    return ctx.dataset is not None and ctx.dataset.is_file() and bool(_lines(ctx))


def _listing(items: list[str], sep: str = "; ") -> str:
    more = f"{sep}... and {len(items) - SHOW} more" if len(items) > SHOW else ""
    return sep.join(items[:SHOW]) + more


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the .npy header alone (never loads, never unpickles)."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return tuple(shape), dtype


@check("dataset.file", "dataset", "1.4.3", "the dataset file exists and is not empty")
def dataset_file(ctx):
    if ctx.dataset is None:
        return skip("no --dataset given")
    if not ctx.dataset.is_file():
        return error(f"dataset file {ctx.dataset} does not exist", "pass the path of the dataset .txt file")
    if not _lines(ctx):
        return error(f"{ctx.dataset} has no entries: build(do_quantization=True) fails with "
                     "\"FIFOQueue '_0_fifo_queue' is closed and has insufficient elements\"",
                     "list one image or .npy file per line (several, space-separated, for multi-input models)")
    return ok(f"{ctx.dataset}: {len(_lines(ctx))} sample(s)")


@check("dataset.entries", "dataset", "1.4.3", "every listed file exists and has a supported format")
def dataset_entries(ctx):
    if not _usable(ctx):
        return skip("no usable --dataset")
    bad = []
    Image = _pil()
    for n, files in _lines(ctx):
        for p in files:
            where = f"line {n}: {p}"
            if not p.is_file():
                bad.append(f"{where} does not exist")
            elif p.suffix.lower() not in SUPPORTED:
                bad.append(f"{where} has unsupported format '{p.suffix}'")
            elif p.suffix.lower() == ".npy":
                try:
                    npy_header(p)
                except (ValueError, OSError) as e:
                    bad.append(f"{where} is not a readable .npy file ({e})")
            elif Image is not None:
                try:
                    with Image.open(p) as im:
                        im.size  # header only
                except Exception as e:
                    bad.append(f"{where} is not a readable image ({type(e).__name__})")
    if bad:
        return error(f"{len(bad)} unusable dataset entr{'y' if len(bad) == 1 else 'ies'}: {_listing(bad)}",
                     f"fix or remove those lines; use {', '.join(SUPPORTED)} files")
    unread = "" if Image is not None else " (images not opened: Pillow is not installed)"
    return ok(f"all {sum(len(f) for _, f in _lines(ctx))} files exist and have a supported format{unread}")


def _pil():
    """Pillow's Image module, or None: Pillow is an optional dependency (rknn_diag[quant])."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _model_inputs(ctx) -> list[list[int | None]] | None:
    onnx_models = models_of(ctx, "onnx")
    if not onnx_models:
        return None
    return [dims for _, dims in graph_inputs(load_onnx(ctx, onnx_models[0]))]


def _layout(shape: tuple[int, ...]) -> str | None:
    if len(shape) < 3:
        return None
    c_first, c_last = shape[-3] in CHANNELS, shape[-1] in CHANNELS
    if c_first and not c_last:
        return "nchw"
    if c_last and not c_first:
        return "nhwc"
    return None


@check("dataset.npy_layout", "dataset", "1.4.6", "npy samples in the layout the toolkit expects")
def npy_layout(ctx):
    if not _usable(ctx):
        return skip("no usable --dataset")
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    want = "nchw" if tk.generation == 2 else "nhwc"
    inputs = _model_inputs(ctx)
    bad: dict[str, list[str]] = {}   # problem -> where (samples with the same problem are listed together)
    seen = 0
    for n, files in _lines(ctx):
        for i, p in enumerate(files):
            if p.suffix.lower() != ".npy" or not p.is_file():
                continue
            try:
                shape, dtype = npy_header(p)
            except (ValueError, OSError):
                continue  # dataset.entries reports it
            seen += 1
            where = f"line {n} {p.name}"
            if dtype.hasobject:
                bad.setdefault("holds Python objects (needs pickle; refused since numpy 1.16.3, §1.3.4)", []).append(where)
                continue
            model = inputs[i] if inputs and i < len(inputs) else None
            if model and len(model) == 4 and None not in model[1:] and len(shape) in (3, 4):
                nchw, nhwc = tuple(model[1:]), (model[2], model[3], model[1])
                expect = nchw if want == "nchw" else nhwc
                if tuple(shape[-3:]) != expect:
                    got = "NCHW" if tuple(shape[-3:]) == nchw else "NHWC" if tuple(shape[-3:]) == nhwc else "shaped"
                    bad.setdefault(f"{got} {shape}, but {tk} wants {want.upper()} {expect} for input {i} of the "
                                   "model", []).append(where)
            elif _layout(shape) not in (None, want):
                bad.setdefault(f"look {_layout(shape).upper()} {shape}; {tk} wants {want.upper()}", []).append(where)
    if not seen:
        return skip("no .npy samples in the dataset")
    if bad:
        total = sum(len(w) for w in bad.values())
        return error(f"{total} .npy sample(s) in the wrong layout or type: " +
                     "; ".join(f"{_listing(w, ', ')}: {what}" for what, w in bad.items()),
                     f"save samples as {want.upper()} (np.transpose), plain numeric arrays")
    return ok(f"{seen} .npy sample(s) are {want.upper()} as {tk} expects")


@check("dataset.image_size", "dataset", "1.4.7", "image sizes against the model input")
def image_size(ctx):
    if not _usable(ctx):
        return skip("no usable --dataset")
    inputs = _model_inputs(ctx)
    if not inputs:
        return skip("needs an ONNX --model to know the input size")
    Image = _pil()
    if Image is None:
        return skip("Pillow is not installed (pip install pillow): image sizes not read")
    off, seen = [], 0
    for n, files in _lines(ctx):
        for i, p in enumerate(files):
            if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file() or i >= len(inputs):
                continue
            dims = inputs[i]
            if len(dims) != 4 or dims[2] is None or dims[3] is None:
                continue
            try:
                with Image.open(p) as im:
                    w, h = im.size
            except Exception:
                continue  # dataset.entries reports it
            seen += 1
            if (h, w) != (dims[2], dims[3]):
                off.append(f"line {n}: {p.name} is {w}x{h}")
    if not seen:
        return skip("no images with a matching fixed-size model input")
    if off:
        return warn(f"{len(off)} image(s) differ from the model input {inputs[0][3]}x{inputs[0][2]} and will be "
                    f"rescaled, which can cost accuracy: {_listing(off)}",
                    "calibrate with images of (about) the model's input size")
    return ok(f"{seen} image(s) match the model input size")


@check("dataset.sample_count", "dataset", "1.4.5", "sample count against batch_size x epochs")
def sample_count(ctx):
    if not _usable(ctx):
        return skip("no usable --dataset")
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 2:
        return skip("the batch_size x epochs rule is toolkit 1.x's")
    n = len(_lines(ctx))
    if tk.version == "1.2.0" and ctx.batch_size is None:
        return warn(f"{tk} changed the default batch_size: of {n} samples maybe only a few are used",
                    f"pass batch_size={n} to config(), or upgrade to 1.2.1 or later")
    if ctx.batch_size is None and ctx.epochs is None:
        return skip(f"{n} samples; pass --batch-size and --epochs (as given to config()) to check how many are used")
    bs = ctx.batch_size or DEFAULT_BATCH_SIZE
    ep = ctx.epochs or DEFAULT_EPOCHS
    if n > bs * ep:
        return warn(f"{n} samples but batch_size {bs} x epochs {ep} = {bs * ep}: only {bs * ep} are used",
                    f"set batch_size and epochs in config() so that their product is {n} "
                    f"(e.g. batch_size={min(n, 100)}, epochs={-(-n // min(n, 100))})")
    return ok(f"{n} samples, batch_size {bs} x epochs {ep} = {bs * ep}: all are used")
