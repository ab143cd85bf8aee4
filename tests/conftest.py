from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

from fixtures.boards import ADB_MISSING, AdbServer
from rknn_diag.api import RKNN


@pytest.fixture
def save(tmp_path):
    """Save an ONNX model under tmp_path and return its path."""
    def _save(model: onnx.ModelProto, name: str = "m.onnx") -> str:
        path = tmp_path / name
        onnx.save(model, str(path))
        return str(path)
    return _save


@pytest.fixture
def built(tmp_path, save):
    """Build a float16 model through the API and return (rknn_path, onnx_path)."""
    def _built(model: onnx.ModelProto, **config) -> tuple[str, str]:
        src = save(model)
        r = RKNN()
        assert r.config(**config) == 0
        assert r.load_onnx(src) == 0
        assert r.build(do_quantization=False) == 0
        out = str(tmp_path / "m.rknn")
        assert r.export_rknn(out) == 0
        return out, src
    return _built


def runtime(path: str) -> RKNN:
    r = RKNN()
    assert r.load_rknn(path) == 0
    assert r.init_runtime() == 0
    return r


def rng(seed=0):
    return np.random.default_rng(seed)


def require_adb() -> str:
    """Board tests need the real adb server: fail (not skip) when it is missing."""
    adb = shutil.which("adb")
    if adb is None:
        pytest.fail(ADB_MISSING, pytrace=False)
    return adb


@pytest.fixture(scope="session")
def adb_server():
    """One private adb server per test session (per xdist worker), on a free port."""
    require_adb()
    server = AdbServer().start()
    yield server
    server.stop()
