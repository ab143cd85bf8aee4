"""Without the vendor, the target says so and how to get it (runs in any env)."""

from __future__ import annotations

import sys

import pytest

from rknn_diag import outcome
from rknn_diag.errors import TargetError
from rknn_diag.targets.base import BuildSpec
from rknn_diag.targets.toolkit2 import Toolkit2Target, ToolkitNotInstalled

from .models import conv_relu, image_input

# The same interpreter without site-packages: certainly no rknn-toolkit2.
NO_VENDOR = [sys.executable, "-S"]


def test_run_without_vendor_raises_install_hint(tmp_path):
    target = Toolkit2Target(python=NO_VENDOR)
    assert target.available() is False
    with pytest.raises(ToolkitNotInstalled) as e:
        target.run(str(conv_relu(tmp_path / "m.onnx")), BuildSpec(), [image_input()])
    assert isinstance(e.value, TargetError) and outcome.of_exception(e.value) == "infrastructure"
    assert "rknn-toolkit2 is not installed" in str(e.value)
    assert "tox -e toolkit2" in str(e.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "m.onnx"]   # nothing done before the check


def test_info_without_vendor_raises_install_hint():
    with pytest.raises(ToolkitNotInstalled, match="tox -e toolkit2"):
        Toolkit2Target(python=NO_VENDOR).info()


def test_missing_interpreter_is_not_installed(tmp_path):
    with pytest.raises(ToolkitNotInstalled, match="tox -e toolkit2"):
        Toolkit2Target(python=str(tmp_path / "no-such-python")).info()
