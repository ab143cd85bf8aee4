"""The calibration dataset: `dataset.txt` read, checked and streamed.

One sample a line; a model with several inputs takes one path per input on the
line, separated by spaces. Paths are relative to the dataset file's folder.
Images (jpg, jpeg, png, bmp; decoded by Pillow) are resized to the model input
with a warning (§1.4.7), by OpenCV's bilinear as the vendor's toolkit does. Image-shaped
`.npy` arrays (NHWC for RKNPU1 chips, §1.4.6, NCHW for RKNPU2, with or without the batch
dimension) are raw pixels like the images: both go through the config's reorder + mean/std
exactly as `inference()` inputs do (`sim.preprocess`, the one preprocessing path), as the
vendor toolkits do. Other `.npy` (non-image inputs) pass through untouched, as they do at
inference. Problems name the file and line (§1.4.3).

`batch_size` × `epochs` samples are used (§1.4.5); `epochs=-1` means one pass over
the file. Samples are loaded one batch at a time, so peak memory follows
`batch_size`, not the size of the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..config import InputPreprocess, RknnConfig
from ..errors import DatasetError, InputError
from ..extras import available, require
from ..ir import Value
from ..log import Logger
from ..platforms import RKNPU1
from ..sim.preprocess import prepare

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
FORMATS = IMAGE_EXTS + (".npy",)


@dataclass
class Line:
    lineno: int
    paths: list[Path]


def read_lines(dataset: str | Path, n_inputs: int) -> list[Line]:
    """Parse dataset.txt; refuse a missing/empty file, a wrong path count or format, a missing sample."""
    path = Path(dataset)
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}", fix="pass dataset= the path of a text file "
                           "listing one sample per line", ref="1.4.3")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError("the dataset file is not a UTF-8 text file", where=str(path),
                           fix="dataset= takes a text file listing sample paths, not an image or array",
                           ref="1.4.3") from None
    base = path.parent
    lines: list[Line] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts or parts[0].startswith("#"):
            continue
        where = f"{path}, line {lineno}"
        if len(parts) != n_inputs:
            raise DatasetError(f"line has {len(parts)} path(s) but the model has {n_inputs} input(s)",
                               where=where, fix="give one path per model input, separated by spaces", ref="1.4.3")
        paths = []
        for p in parts:
            fp = Path(p) if Path(p).is_absolute() else base / p
            if fp.suffix.lower() not in FORMATS:
                raise DatasetError(f"unsupported sample format '{fp.suffix or p}'", where=where,
                                   fix=f"use one of {', '.join(FORMATS)}", ref="1.4.3")
            if not fp.is_file():
                raise DatasetError(f"sample file not found: {fp}", where=where,
                                   fix="paths are relative to the dataset file's folder", ref="1.4.3")
            paths.append(fp)
        lines.append(Line(lineno, paths))
    if not lines:
        raise DatasetError("the dataset file lists no samples", where=str(path),
                           fix="put one sample path (jpg/png/bmp/npy) per line", ref="1.4.3")
    return lines


def plan(lines: list[Line], batch_size: int, epochs: int, log: Logger | None = None) -> list[list[Line]]:
    """The batches calibration uses: batch_size × epochs samples (§1.4.5), cycling through the
    file if it has fewer; epochs=-1: every line once, in batches of batch_size."""
    if epochs == -1:
        order = lines
    else:
        total = batch_size * epochs
        if total > len(lines) and log is not None:
            log.w(f"batch_size {batch_size} x epochs {epochs} = {total} samples but the dataset has "
                  f"{len(lines)}; samples are reused")
        order = [lines[i % len(lines)] for i in range(total)]
        if total < len(lines) and log is not None:
            log.i(f"calibration uses {total} of {len(lines)} samples (batch_size x epochs, guide §1.4.5)")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _is_image_input(v: Value) -> bool:
    return v.shape is not None and len(v.shape) == 4 and v.dtype is not None and v.dtype.kind == "f"


def _load_image(fp: Path, v: Value, where: str, log: Logger | None, warned: set | None = None) -> np.ndarray:
    Image = require("PIL.Image", f"reading the image {fp.name} of the dataset")
    UnidentifiedImageError = Image.UnidentifiedImageError

    c, h, w = v.shape[1], v.shape[2], v.shape[3]
    try:
        with Image.open(fp) as im:
            arr = np.asarray(im.convert("L" if c == 1 else "RGB"))
        if arr.shape[:2] != (h, w):
            size = (arr.shape[1], arr.shape[0])
            first = warned is None or size not in warned
            if warned is not None:
                warned.add(size)
            if log is not None and first:   # once per image size, not once per image
                log.w(f"{where}: image {fp.name} is {size[0]}x{size[1]}, resized to the model "
                      f"input {w}x{h} (guide §1.4.7: similar sizes keep accuracy)")
            # OpenCV's bilinear, as the vendor toolkits resize: Pillow's smooths when shrinking, and
            # its calibration ranges came out up to 16 % narrower than the vendor's on the same photos
            cv2 = require("cv2", f"resizing the image {fp.name} to the model input")
            arr = cv2.resize(arr, (w, h), interpolation=cv2.INTER_LINEAR)
        arr = arr.astype(np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(f"cannot decode image {fp.name}: {e}", where=where,
                           fix="check the file is a valid jpg/png/bmp", ref="1.4.3") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] != c:
        raise DatasetError(f"image {fp.name} has {arr.shape[2]} channels, the input '{v.name}' {c}", where=where,
                           fix="use npy samples for inputs that are not 1- or 3-channel images")
    return arr[None]   # NHWC


def _load_npy(fp: Path, v: Value, generation: str, where: str) -> tuple[np.ndarray, bool]:
    """(array, is_nhwc). Never unpickles."""
    try:
        arr = np.load(fp, allow_pickle=False)
    except ValueError as e:
        raise DatasetError(f"cannot read {fp.name} without unpickling ({e})", where=where,
                           fix="save plain numeric arrays with np.save", ref="1.4.3") from None
    except OSError as e:
        raise DatasetError(f"cannot read {fp.name}: {e}", where=where, ref="1.4.3") from None
    if arr.dtype.kind not in "biuf":
        raise DatasetError(f"{fp.name} holds dtype {arr.dtype}", where=where, fix="save a numeric array")
    want = tuple(v.shape) if v.shape is not None else arr.shape
    if _is_image_input(v):
        n, c, h, w = want
        layout, shape = ("NHWC", (h, w, c)) if generation == RKNPU1 else ("NCHW", (c, h, w))
        if arr.shape == shape:
            arr = arr[None]
        if arr.shape[1:] != shape or arr.shape[0] != n:
            raise DatasetError(f"{fp.name} has shape {list(arr.shape)}; input '{v.name}' wants {layout} "
                               f"{[n, *shape]} (or {list(shape)} without the batch dimension)", where=where,
                               fix=f"save the array in {layout} order for this chip generation "
                                   f"({'RKNPU1' if generation == RKNPU1 else 'RKNPU2'})", ref="1.4.6")
        return arr.astype(np.float32, copy=False), generation == RKNPU1
    if arr.shape != want and (1,) + arr.shape == want:
        arr = arr[None]
    if arr.shape != want:
        raise DatasetError(f"{fp.name} has shape {list(arr.shape)}; input '{v.name}' wants {list(want)}",
                           where=where, fix="save the array in the model input's shape", ref="1.4.6")
    return arr, False


def raw_sample(line: Line, inputs: list[Value], cfg: RknnConfig, log: Logger | None = None,
               dataset: str = "dataset", warned: set | None = None) -> list[tuple[np.ndarray, str, bool]]:
    """One line -> each input as read, before mean/std: (array, its layout 'nhwc'/'nchw', whether
    it skips preprocessing). Images are already in dataset_reorder's order (quant_img_RGB2BGR)."""
    where = f"{dataset}, line {line.lineno}"
    out = []
    for i, (fp, v) in enumerate(zip(line.paths, inputs)):
        pre = cfg.preprocess[i] if i < len(cfg.preprocess) else InputPreprocess()
        if fp.suffix.lower() == ".npy":
            arr, is_nhwc = _load_npy(fp, v, cfg.generation, where)
            through = not _is_image_input(v)
        else:
            if not _is_image_input(v):
                raise DatasetError(f"image {fp.name} given for input '{v.name}' of shape {list(v.shape or [])}",
                                   where=where, fix="use an npy sample for non-image inputs", ref="1.4.3")
            arr, is_nhwc, through = _load_image(fp, v, where, log, warned), True, False
            if pre.dataset_reorder and arr.shape[-1] == len(pre.dataset_reorder):   # quant_img_RGB2BGR
                arr = arr[..., pre.dataset_reorder]
        out.append((arr, "nhwc" if is_nhwc else "nchw", through))
    return out


def load_sample(line: Line, inputs: list[Value], cfg: RknnConfig, log: Logger | None = None,
                dataset: str = "dataset", warned: set | None = None) -> list[np.ndarray]:
    """One line -> the graph's input arrays (NCHW, preprocessed like an inference input)."""
    return prepare_raw(raw_sample(line, inputs, cfg, log, dataset, warned), inputs, cfg,
                       f"{dataset}, line {line.lineno}")


def prepare_raw(raw: list[tuple[np.ndarray, str, bool]], inputs: list[Value], cfg: RknnConfig,
                where: str) -> list[np.ndarray]:
    """raw_sample's arrays preprocessed like an inference input (NCHW, mean/std applied)."""
    if len(raw) != len(inputs):
        raise DatasetError(f"the model takes {len(inputs)} input(s) {[v.name for v in inputs]}, got {len(raw)}",
                           where=where, fix="give one sample per model input, in order", ref="1.4.3")
    out = []
    for i, ((arr, fmt, through), v) in enumerate(zip(raw, inputs)):
        pre = cfg.preprocess[i] if i < len(cfg.preprocess) else InputPreprocess()
        try:
            out.extend(prepare([v], [pre], [arr], fmt, [through], 1))
        except InputError as e:
            raise DatasetError(e.message, where=where, fix=e.fix, ref=e.ref or "1.4.6") from None
    return out


class _LogProgress:
    """Without tqdm (the quant extra), progress is a log line every 10 %."""

    def __init__(self, total: int, log: Logger | None):
        self.total, self.done, self.log, self.next = total, 0, log, max(total // 10, 1)

    def update(self, n: int) -> None:
        self.done += n
        if self.log is not None and (self.done >= self.next or self.done == self.total):
            self.log.i(f"calibration: {self.done}/{self.total} samples")
            self.next = self.done + max(self.total // 10, 1)

    def close(self) -> None:
        pass


def _progress(total: int, log: Logger | None):
    if available("tqdm"):
        from tqdm import tqdm
        return tqdm(total=total, desc="calibration", unit="sample", leave=False)
    return _LogProgress(total, log)


def stream(dataset: str | Path, inputs: list[Value], cfg: RknnConfig, log: Logger | None = None,
           progress: bool = True) -> Iterator[list[np.ndarray]]:
    """Yield calibration samples one at a time, loading a batch_size batch at a time."""
    lines = read_lines(dataset, len(inputs))
    batches = plan(lines, cfg.batch_size, cfg.epochs, log)
    total = sum(len(b) for b in batches)
    bar = None
    warned: set = set()
    if progress and total >= 50:
        bar = _progress(total, log)
    try:
        for batch in batches:
            loaded = [load_sample(line, inputs, cfg, log, str(dataset), warned) for line in batch]
            for sample in loaded:
                yield sample
                if bar is not None:
                    bar.update(1)
            del loaded
    finally:
        if bar is not None:
            bar.close()


def sample_from_inputs(inputs: list, values: list[Value], cfg: RknnConfig, log: Logger | None = None,
                       raw: bool = False) -> list:
    """One sample given as file paths (like a dataset.txt line) or as arrays (NCHW, before mean/std).
    `raw`: each input as read, before mean/std, as (array, layout, skips preprocessing) — what a
    board that preprocesses inside the model is given."""
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    if inputs and all(isinstance(x, (str, Path)) for x in inputs):
        paths = [Path(x) for x in inputs]
        for fp in paths:
            if fp.suffix.lower() not in FORMATS or not fp.is_file():
                raise DatasetError(f"input sample {fp} is missing or not one of {', '.join(FORMATS)}",
                                   fix="pass existing jpg/png/bmp/npy files, one per model input")
        read = raw_sample if raw else load_sample
        return read(Line(0, paths), values, cfg, log, "inputs")
    if raw:
        return [(np.asarray(x), "nchw", False) for x in inputs]
    try:
        return prepare(values, cfg.preprocess, [np.asarray(x) for x in inputs], "nchw", None, 1)
    except InputError as e:
        raise DatasetError(e.message, where="accuracy_analysis inputs", fix=e.fix, ref=e.ref) from None
