"""Where each NPU generation keeps its runtime pieces on a board. Which chip is
which generation is `rknn_diag.platforms.CHIPS` (the one chip table)."""

from __future__ import annotations

from ..platforms import CHIPS, RKNPU1, RKNPU2

# RKNPU1: the Vivante-based NPU driven by galcore (RKNN-Toolkit 1.x).
RKNPU1_CHIPS = frozenset(c for c, g in CHIPS.items() if g == RKNPU1)
# RKNPU2: the rknpu kernel driver (RKNN-Toolkit2 / toolkit-lite2).
RKNPU2_CHIPS = frozenset(c for c, g in CHIPS.items() if g == RKNPU2)

RUNTIME_LIB = {"rknpu1": "/usr/lib/librknn_runtime.so", "rknpu2": "/usr/lib/librknnrt.so"}
# The mini runtimes, as the vendor ships them: RKNPU2's small chips (RV1103/RV1106) run
# librknnmrt.so ("librknnmrt version: ..."; rknpu2 runtime/RV1106/Linux/librknn_api/armhf/);
# RKNPU1's Mini Driver (RV1109/RV1126) keeps librknn_runtime.so with the same version line but
# ships libVSC_Lite.so instead of libVSC.so and no rknn_server (rknpu drivers/linux-*-mini/).
MINI_RUNTIME_LIB = "/usr/lib/librknnmrt.so"
RKNPU1_MINI_MARK = "/usr/lib/libVSC_Lite.so"
RKNN_SERVER = "/usr/bin/rknn_server"
RKNPU2_DRIVER_VERSION_FILE = "/sys/kernel/debug/rknpu/version"
COMPATIBLE_FILE = "/proc/device-tree/compatible"


def generation(chip: str) -> str | None:
    return CHIPS.get(chip.lower())
