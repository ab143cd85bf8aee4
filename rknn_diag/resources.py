"""Files the commands need that are not Python: where they are, installed or in a checkout.

The default quality gate ships inside the package (`rknn_diag/data/gate.toml`; the
checkout's `reports/gate.toml` is a link to it), so a wheel install finds it. The
conformance suite imports the repository's `fixtures/`, so it is found from the working
folder (or its parents) or next to the package in a source checkout, never guessed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError

SUITE = "conformance"


def default_gate() -> Path:
    return Path(str(resources.files("rknn_diag") / "data" / "gate.toml"))


def _is_suite(folder: Path) -> bool:
    return (folder / SUITE / "conftest.py").is_file() and (folder / "fixtures").is_dir()


def find_suite(start: Path | None = None) -> Path:
    """The conformance folder: in the working folder or a parent, else beside the package
    (an editable install or a run from the source tree)."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents, Path(__file__).resolve().parents[1]):
        if _is_suite(folder):
            return folder / SUITE
    raise ConfigError(f"the conformance suite was not found from {start} (a folder holding "
                      f"{SUITE}/ and fixtures/)",
                      fix="run from the rknn_diag source checkout (git clone, then cd into it), "
                          "or pass --suite PATH/TO/conformance")
