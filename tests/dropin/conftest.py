"""The vendor's example scripts run from their own folder with relative paths: each test here
gets such a folder (our own stand-in model and images) as its working directory."""

from __future__ import annotations

import pytest

from fixtures.dropin import example_folder


@pytest.fixture
def example(tmp_path, monkeypatch):
    """A vendor-like example folder as the current directory; call with size/model/onnx_name."""
    def _make(**kw):
        folder = example_folder(tmp_path / "example", **kw)
        monkeypatch.chdir(folder)
        return folder
    return _make
