"""dataset.txt: formats, layouts, batch_size × epochs, streaming, and the errors naming the line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fixtures.datasets import image_dataset, npy_dataset
from rknn_diag.config import parse
from rknn_diag.errors import DatasetError
from rknn_diag.ir import Value
from rknn_diag.log import Logger
from rknn_diag.quant import dataset as dsmod

IMG = Value("x", (1, 3, 8, 10), np.dtype(np.float32))
VEC = Value("v", (1, 5), np.dtype(np.float32))


def cfg(chip="rk3588", **kw):
    return parse(target_platform=chip, **kw)


def all_samples(path, inputs, c, log=None):
    return list(dsmod.stream(path, inputs, c, log, progress=False))


def test_npy_nchw_for_rknpu2_and_nhwc_for_rknpu1(tmp_path):
    p2 = npy_dataset(tmp_path / "v2", [IMG.shape], count=3, generation="rknpu2")
    p1 = npy_dataset(tmp_path / "v1", [IMG.shape], count=3, generation="rknpu1", seed=0)
    s2 = all_samples(p2, [IMG], cfg("rk3588"))
    s1 = all_samples(p1, [IMG], cfg("rk1808"))
    assert len(s1) == len(s2) == 3
    np.testing.assert_array_equal(s1[0][0], s2[0][0])   # same data, each in its own layout
    assert s2[0][0].shape == (1, 3, 8, 10)


def test_wrong_layout_names_line_shape_and_layout(tmp_path):
    p = npy_dataset(tmp_path, [IMG.shape], count=2, generation="rknpu2")   # NCHW
    with pytest.raises(DatasetError) as e:
        all_samples(p, [IMG], cfg("rk1808"))     # RKNPU1 wants NHWC
    msg = str(e.value)
    assert "line 1" in msg and "[1, 3, 8, 10]" in msg and "NHWC" in msg and "1.4.6" in msg


def test_npy_without_batch_dimension_is_accepted(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 8, 10), np.float32))
    (tmp_path / "d.txt").write_text("a.npy\n")
    assert all_samples(tmp_path / "d.txt", [IMG], cfg())[0][0].shape == (1, 3, 8, 10)


def test_images_every_format_resized_with_warning_and_normalised(tmp_path):
    p = image_dataset(tmp_path, 8, 10, count=3, formats=("png", "jpg", "bmp"), size=(20, 16))
    out = io.StringIO()
    samples = all_samples(p, [IMG], cfg(mean_values=[[128, 128, 128]], std_values=[[128, 128, 128]]),
                          Logger(stream=out))
    assert len(samples) == 3 and samples[0][0].shape == (1, 3, 8, 10)
    assert "resized to the model input 10x8" in out.getvalue() and "1.4.7" in out.getvalue()
    assert out.getvalue().count("resized") == 1      # once per image size, not per image
    assert -1.01 <= samples[0][0].min() and samples[0][0].max() <= 1.0   # (x-128)/128


def test_several_inputs_on_one_line(tmp_path):
    p = npy_dataset(tmp_path, [IMG.shape, VEC.shape], count=2)
    s = all_samples(p, [IMG, VEC], cfg())
    assert [a.shape for a in s[1]] == [(1, 3, 8, 10), (1, 5)]


@pytest.mark.parametrize("content,needle", [
    ("", "lists no samples"),
    ("# only a comment\n\n", "lists no samples"),
    ("a.npy\nmissing.npy\n", "line 2"),
    ("a.npy\nb.txt\n", "unsupported sample format '.txt'"),
    ("a.npy a.npy\n", "2 path(s) but the model has 1 input"),
])
def test_bad_dataset_files_name_the_line(tmp_path, content, needle):
    np.save(tmp_path / "a.npy", np.zeros(IMG.shape, np.float32))
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "d.txt").write_text(content)
    with pytest.raises(DatasetError) as e:
        all_samples(tmp_path / "d.txt", [IMG], cfg())
    assert needle in str(e.value) and "1.4.3" in str(e.value)


def test_missing_dataset_file(tmp_path):
    with pytest.raises(DatasetError, match="dataset file not found"):
        all_samples(tmp_path / "nope.txt", [IMG], cfg())


def test_pickled_npy_is_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "d.txt").write_text("o.npy\n")
    with pytest.raises(DatasetError, match="line 1"):
        all_samples(tmp_path / "d.txt", [VEC], cfg())


def test_undecodable_image_names_the_line(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    (tmp_path / "d.txt").write_text("bad.png\n")
    with pytest.raises(DatasetError, match=r"line 1.*|cannot decode"):
        all_samples(tmp_path / "d.txt", [IMG], cfg())


@pytest.mark.parametrize("batch,epochs,n_lines,want", [(4, -1, 10, 10), (3, 2, 10, 6), (5, 3, 10, 15), (100, 1, 7, 100)])
def test_batch_size_times_epochs_samples_are_used(tmp_path, batch, epochs, n_lines, want):
    """Guide §1.4.5: the number of samples used is batch_size × epochs (epochs=-1: one pass)."""
    lines = [dsmod.Line(i + 1, []) for i in range(n_lines)]
    out = io.StringIO()
    batches = dsmod.plan(lines, batch, epochs, Logger(stream=out))
    assert sum(len(b) for b in batches) == want
    assert all(len(b) <= batch for b in batches)
    assert ("reused" in out.getvalue()) == (want > n_lines)


def test_calibration_streams_one_batch_at_a_time(tmp_path, monkeypatch):
    p = npy_dataset(tmp_path, [VEC.shape], count=9)
    loaded = []
    real = dsmod.load_sample
    monkeypatch.setattr(dsmod, "load_sample", lambda line, *a, **k: loaded.append(line.lineno) or real(line, *a, **k))
    it = dsmod.stream(p, [VEC], cfg(batch_size=3), progress=False)
    next(it)
    assert loaded == [1, 2, 3]          # only the first batch is in memory
    rest = list(it)
    assert len(rest) == 8 and loaded == list(range(1, 10))
