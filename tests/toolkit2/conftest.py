"""Vendor tests need rknn-toolkit2, which lives in its own env (`tox -e toolkit2`).

Elsewhere they are skipped with that reason; inside the tox env
(RKNN_DIAG_REQUIRE_TOOLKIT2=1, set in tox.ini) a missing vendor is an error,
so a broken install can never pass as skips.
"""

from __future__ import annotations

import os

import pytest

from rknn_diag.targets.toolkit2 import Toolkit2Target, ToolkitNotInstalled


@pytest.fixture(scope="session")
def vendor_installed() -> None:
    try:
        Toolkit2Target().versions()
    except ToolkitNotInstalled as e:
        if os.environ.get("RKNN_DIAG_REQUIRE_TOOLKIT2") == "1":
            raise
        pytest.skip(f"rknn-toolkit2 not installed here; run `tox -e toolkit2` ({e.message})")


@pytest.fixture(scope="session", params=["spawn", "preload"])
def vendor_target(request, vendor_installed):
    """The target in both process modes: a fresh interpreter per case, and
    forks of a server that imported the vendor once."""
    target = Toolkit2Target(timeout=120, preload=request.param == "preload")
    yield target
    target.close()
