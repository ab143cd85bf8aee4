"""Where each NPU generation keeps its runtime pieces on a board. Which chip is
which generation is `rknn_diag.platforms.CHIPS` (the one chip table)."""

from __future__ import annotations

from ..platforms import CHIPS, RKNPU1, RKNPU2

# RKNPU1: the Vivante-based NPU driven by galcore (RKNN-Toolkit 1.x).
RKNPU1_CHIPS = frozenset(c for c, g in CHIPS.items() if g == RKNPU1)
# RKNPU2: the rknpu kernel driver (RKNN-Toolkit2 / toolkit-lite2).
RKNPU2_CHIPS = frozenset(c for c, g in CHIPS.items() if g == RKNPU2)

RUNTIME_LIB = {"rknpu1": "/usr/lib/librknn_runtime.so", "rknpu2": "/usr/lib/librknnrt.so"}
RKNN_SERVER = "/usr/bin/rknn_server"
RKNPU2_DRIVER_VERSION_FILE = "/sys/kernel/debug/rknpu/version"
COMPATIBLE_FILE = "/proc/device-tree/compatible"


def generation(chip: str) -> str | None:
    return CHIPS.get(chip.lower())
