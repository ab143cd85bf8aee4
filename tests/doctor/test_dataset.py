"""Dataset checks over generated dataset folders."""

from __future__ import annotations

import pytest

from fixtures.doctor import datasets, models

from .conftest import run, statuses


def test_dataset_file(make_ctx, tmp_path):
    good = datasets.images(tmp_path / "good", 2)
    assert statuses(make_ctx(dataset=good), "dataset.file") == ["ok"]
    assert statuses(make_ctx(dataset=tmp_path / "missing.txt"), "dataset.file") == ["error"]
    empty = datasets.dataset(tmp_path / "empty", ["", "   "])
    [f] = run(make_ctx(dataset=empty), "dataset.file")
    assert f.status == "error" and "FIFOQueue" in f.message and f.ref == "1.4.3"


def test_dataset_skips_without_dataset(make_ctx):
    assert statuses(make_ctx(), "dataset.file") == ["skip"]


def test_entries_ok(make_ctx, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    ds = datasets.dataset(d, [datasets.image(d / "a.png").name + " " + datasets.npy(d / "b.npy", (1, 3, 4, 4)).name])
    assert statuses(make_ctx(dataset=ds), "dataset.entries") == ["ok"]


def test_entries_report_missing_unsupported_and_corrupt_files_by_line(make_ctx, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "notes.txt").write_text("x")
    (d / "bad.npy").write_bytes(b"garbage")
    (d / "bad.jpg").write_bytes(b"not a jpeg")
    ds = datasets.dataset(d, [datasets.image(d / "ok.jpg").name, "gone.jpg", "notes.txt", "bad.npy", "bad.jpg"])
    [f] = run(make_ctx(dataset=ds), "dataset.entries")
    assert f.status == "error" and "4 unusable" in f.message
    for where in ("line 2:", "line 3:", "line 4:", "line 5:"):
        assert where in f.message
    assert "line 1:" not in f.message


@pytest.mark.parametrize("toolkit, shape, expected", [
    ("2.5.0", (1, 3, 8, 8), "ok"), ("2.5.0", (1, 8, 8, 3), "error"),
    ("1.4.0", (1, 8, 8, 3), "ok"), ("1.4.0", (1, 3, 8, 8), "error")])
def test_npy_layout_by_toolkit_generation(make_ctx, tmp_path, toolkit, shape, expected):
    ds = datasets.npys(tmp_path / "d", 2, shape)
    assert statuses(make_ctx(dataset=ds, toolkit_version=toolkit), "dataset.npy_layout") == [expected]


@pytest.mark.parametrize("shape, expected", [((1, 3, 16, 16), "ok"), ((1, 16, 16, 3), "error"), ((1, 3, 8, 8), "error")])
def test_npy_layout_against_the_model_input(make_ctx, tmp_path, shape, expected):
    model = models.conv_model(tmp_path / "m.onnx", hw=16)
    ds = datasets.npys(tmp_path / "d", 1, shape)
    ctx = make_ctx(dataset=ds, models=[model], toolkit_version="2.5.0")
    assert statuses(ctx, "dataset.npy_layout") == [expected]


def test_npy_object_array_is_an_error(make_ctx, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    ds = datasets.dataset(d, [datasets.object_npy(d / "o.npy").name])
    [f] = run(make_ctx(dataset=ds, toolkit_version="1.4.0"), "dataset.npy_layout")
    assert f.status == "error" and "1.3.4" in f.message


def test_image_size(make_ctx, tmp_path):
    model = models.conv_model(tmp_path / "m.onnx", hw=16)
    same = datasets.images(tmp_path / "same", 2, 16, 16)
    assert statuses(make_ctx(dataset=same, models=[model]), "dataset.image_size") == ["ok"]
    other = datasets.images(tmp_path / "other", 2, 32, 24)
    [f] = run(make_ctx(dataset=other, models=[model]), "dataset.image_size")
    assert f.status == "warn" and "32x24" in f.message


def test_image_size_skips_without_a_model(make_ctx, tmp_path):
    assert statuses(make_ctx(dataset=datasets.images(tmp_path / "d", 1)), "dataset.image_size") == ["skip"]


def test_sample_count(make_ctx, tmp_path):
    ds = datasets.images(tmp_path / "d", 5)
    assert statuses(make_ctx(dataset=ds, toolkit_version="1.4.0"), "dataset.sample_count") == ["skip"]
    assert statuses(make_ctx(dataset=ds, toolkit_version="1.4.0", batch_size=5), "dataset.sample_count") == ["ok"]
    assert statuses(make_ctx(dataset=ds, toolkit_version="1.4.0", epochs=1), "dataset.sample_count") == ["ok"]
    [f] = run(make_ctx(dataset=ds, toolkit_version="1.4.0", batch_size=2, epochs=2), "dataset.sample_count")
    assert f.status == "warn" and "only 4 are used" in f.message
    assert statuses(make_ctx(dataset=ds, toolkit_version="1.2.0"), "dataset.sample_count") == ["warn"]
    assert statuses(make_ctx(dataset=ds, toolkit_version="2.5.0"), "dataset.sample_count") == ["skip"]


def test_paths_relative_to_the_working_folder_are_found_too(make_ctx, tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "imgs").mkdir(parents=True)
    datasets.image(work / "imgs" / "a.jpg")
    ds = datasets.dataset(tmp_path / "lists", ["imgs/a.jpg"])
    monkeypatch.chdir(work)
    assert statuses(make_ctx(dataset=ds), "dataset.entries") == ["ok"]
    monkeypatch.chdir(tmp_path)
    assert statuses(make_ctx(dataset=ds), "dataset.entries") == ["error"]


def test_without_pillow_images_are_not_opened(make_ctx, tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)   # makes `from PIL import Image` raise ImportError
    model = models.conv_model(tmp_path / "m.onnx", hw=16)
    ds = datasets.dataset(tmp_path / "d", ["x.jpg"])
    (tmp_path / "d" / "x.jpg").write_bytes(b"not decoded without Pillow")
    [f] = run(make_ctx(dataset=ds), "dataset.entries")
    assert f.status == "ok" and "Pillow is not installed" in f.message
    assert statuses(make_ctx(dataset=ds, models=[model]), "dataset.image_size") == ["skip"]
