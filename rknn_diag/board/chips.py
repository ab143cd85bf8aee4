"""Which Rockchip chips carry which NPU generation, and where each generation
keeps its runtime library. One table for the board facts and the emulator."""

from __future__ import annotations

# RKNPU1: the Vivante-based NPU driven by galcore (RKNN-Toolkit 1.x).
RKNPU1_CHIPS = frozenset({"rk1808", "rv1109", "rv1126", "rk3399pro"})
# RKNPU2: the rknpu kernel driver (RKNN-Toolkit2 / toolkit-lite2).
RKNPU2_CHIPS = frozenset({"rk3562", "rk3566", "rk3568", "rk3576", "rk3588", "rv1103", "rv1106"})

RUNTIME_LIB = {"rknpu1": "/usr/lib/librknn_runtime.so", "rknpu2": "/usr/lib/librknnrt.so"}
RKNN_SERVER = "/usr/bin/rknn_server"
RKNPU2_DRIVER_VERSION_FILE = "/sys/kernel/debug/rknpu/version"
COMPATIBLE_FILE = "/proc/device-tree/compatible"


def generation(chip: str) -> str | None:
    chip = chip.lower()
    if chip in RKNPU1_CHIPS:
        return "rknpu1"
    if chip in RKNPU2_CHIPS:
        return "rknpu2"
    return None
