"""The corpus models trained by code (fixtures/realmodels/trained.py): training really learns,
the exported ONNX computes what the torch network does, BN stays in the graph, and the cache
is keyed by recipe and source and safe under concurrent workers."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time

import numpy as np
import onnx
import pytest

pytest.importorskip("torch", reason="the trained corpus needs torch: pip install 'rknn_diag[corpus]'")

import torch  # noqa: E402
from filelock import FileLock  # noqa: E402

from fixtures import realmodels  # noqa: E402
from fixtures.realmodels import trained  # noqa: E402
from rknn_diag.compare import metrics, reference  # noqa: E402


def _small(name: str = "resnet18_trained") -> realmodels.RealModel:
    """A corpus model with a shortened recipe, so the test trains in seconds."""
    m = realmodels.get(name)
    return dataclasses.replace(m, source=dataclasses.replace(m.source, steps=150, train_images=512))


@pytest.fixture(scope="module")
def fitted():
    m = _small()
    return m, trained.train(m)


def test_training_learns(fitted):
    m, t = fitted
    print(f"{m.name}: accuracy {t.accuracy_before:.3f} -> {t.accuracy:.3f} (chance {t.chance:.3f}), "
          f"loss {t.loss_first:.3f} -> {t.loss_last:.3f}")
    # 384 test images: at these accuracies one standard error is about 0.02, so +0.1 is
    # five of them (the untrained net sits at chance: the most frequent class's share).
    assert t.loss_last < 0.85 * t.loss_first
    assert t.accuracy >= t.accuracy_before + 0.1
    assert t.accuracy >= t.chance + 0.1


def test_export_agrees_with_torch_and_keeps_batchnorm(fitted):
    m, t = fitted
    model = onnx.load_from_string(trained.export(t.module, m))
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" in ops, "BN was folded into the convolutions"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == list(m.input_shape)
    imgs = np.stack(m.images(4, seed=3))
    x = ((imgs.astype(np.float32) - np.float32(m.mean)) / np.float32(m.std)).transpose(0, 3, 1, 2)
    for i in range(len(x)):
        feed = np.ascontiguousarray(x[i:i + 1])
        with torch.no_grad():
            want = t.module(torch.from_numpy(feed)).numpy()
        got = reference(model, {"input": feed})[0]
        assert metrics(got, want)["cosine"] >= trained.MIN_AGREEMENT
        # Cosine forgives one small logit being off; float32 engines agree far closer than this.
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_build_is_cached_and_keyed_by_recipe_and_source(fitted, tmp_path, monkeypatch):
    m, t = fitted
    monkeypatch.setenv("RKNN_DIAG_CACHE", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(trained, "train", lambda model: calls.append(model.name) or t)
    path = trained.built_model(m)
    info = trained.build_info(m)
    assert path.is_file() and calls == [m.name]
    assert info["accuracy"] == t.accuracy and info["torch_onnx_cosine"] >= trained.MIN_AGREEMENT
    assert trained.built_model(m) == path and calls == [m.name], "a cached build was rebuilt"
    # Another recipe, or a change in the code the build depends on, is another file.
    other = dataclasses.replace(m, source=dataclasses.replace(m.source, steps=m.source.steps + 1))
    assert trained.cache_key(other) != trained.cache_key(m)
    copy = tmp_path / "src"
    shutil.copytree(trained._HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(trained, "_HERE", copy)
    key = trained.cache_key(m)
    with open(copy / "nets.py", "a") as f:
        f.write("\n# a changed architecture\n")
    assert trained.cache_key(m) != key


def test_concurrent_worker_waits_for_the_build(tmp_path, monkeypatch):
    """A worker that finds another one building waits for its lock, then uses its file."""
    m = _small()
    monkeypatch.setenv("RKNN_DIAG_CACHE", str(tmp_path))
    monkeypatch.setattr(trained, "train", lambda model: pytest.fail("the waiting worker trained again"))
    out = tmp_path / "realmodels" / f"{m.name}-{trained.cache_key(m)}.onnx"
    out.parent.mkdir(parents=True)
    got = []
    with FileLock(str(out.with_suffix(".lock"))):   # the other worker, building
        waiter = threading.Thread(target=lambda: got.append(trained.built_model(m)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not got, "the second worker did not wait for the lock"
        out.write_bytes(b"built by the other worker")
    waiter.join(10)
    assert got == [out]
