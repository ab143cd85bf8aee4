"""Root conftest: makes the rknn_diag pytest plugin available when the package is used
from a checkout without being installed (installed, it comes in through its entry point)."""

from importlib.metadata import entry_points

if not any(ep.name == "rknn_diag" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["rknn_diag.pytest_plugin"]
