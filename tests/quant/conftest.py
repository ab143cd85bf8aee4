from __future__ import annotations

import contextlib
import io
from pathlib import Path

import onnx
import pytest

from fixtures.datasets import npy_dataset, samples_from
from rknn_diag.api import RKNN
from rknn_diag.platforms import CHIPS, MODE_CHIP, QUANTIZED_MODES

from . import _models

MODES = {m: MODE_CHIP[m] for m in QUANTIZED_MODES}   # mode -> a chip that has it


def gen_of(chip: str) -> str:
    return CHIPS[chip]


def build(model: onnx.ModelProto, tmp: Path, shapes, chip: str, count: int = 6, **config) -> tuple[RKNN, list]:
    """config -> load_onnx -> build(quantized) -> init_runtime, quietly; (rknn, samples)."""
    tmp.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(tmp / "m.onnx"))
    ds = npy_dataset(tmp / "ds", shapes, count=count, generation=gen_of(chip))
    r = RKNN()
    with contextlib.redirect_stdout(io.StringIO()):
        assert r.config(target_platform=chip, **config) == 0, r.last_error
        assert r.load_onnx(str(tmp / "m.onnx")) == 0, r.last_error
        assert r.build(do_quantization=True, dataset=str(ds)) == 0, r.last_error
        assert r.init_runtime() == 0, r.last_error
    return r, samples_from(ds, shapes, gen_of(chip))


@pytest.fixture
def quiet():
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        yield buf


@pytest.fixture(scope="module")
def models():
    return _models
