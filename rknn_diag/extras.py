"""Optional dependencies, by extra: one place that says which extra brings which module,
so a missing one is a typed error naming the `pip install` that fixes it, never an
"internal error ModuleNotFoundError" from deep inside a build."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtra

# import name -> (extra in pyproject.toml, distribution)
EXTRAS = {
    "PIL": ("quant", "pillow"),
    "yaml": ("quant", "pyyaml"),
    "tqdm": ("quant", "tqdm"),
    "cv2": ("quant", "opencv-python-headless"),
    "adbutils": ("board", "adbutils"),
    "matplotlib": ("report", "matplotlib"),
}


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` (a top-level name from EXTRAS, or a submodule of one) or raise MissingExtra."""
    top = module.split(".")[0]
    extra, dist = EXTRAS[top]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] != top:
            raise   # something inside the module is missing: not the extra's fault
        raise MissingExtra(f"{purpose} needs {dist}, which is not installed",
                           fix=f"pip install 'rknn_diag[{extra}]' (or pip install {dist})") from None


def available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    return True
