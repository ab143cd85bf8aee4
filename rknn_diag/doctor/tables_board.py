"""Boards: which firmware goes with which toolkit, and chip facts. One table, sources inline."""

from __future__ import annotations

# Guide §1.7.2 item 1, the table "RKNN Toolkit / rknn_server / NPU Driver / librknn_runtime".
# Each cell lists every version the guide gives for that toolkit.
TOOLKIT1_FIRMWARE = {
    "1.0.0": {"rknn_server": ("0.9.6", "0.9.7"), "npu_driver": ("6.3.3.2",), "runtime": ("0.9.8", "0.9.9")},
    "1.1.0": {"rknn_server": ("0.9.8",), "npu_driver": ("6.3.3.2",), "runtime": ("1.0.0",)},
    "1.2.0": {"rknn_server": ("0.9.9",), "npu_driver": ("6.4.0",), "runtime": ("1.1.0",)},
    "1.2.1": {"rknn_server": ("1.2.0",), "npu_driver": ("6.4.0",), "runtime": ("1.2.0",)},
    "1.3.0": {"rknn_server": ("1.3.0",), "npu_driver": ("6.4.0",), "runtime": ("1.3.0",)},
    "1.3.2": {"rknn_server": ("1.3.2",), "npu_driver": ("6.4.0",), "runtime": ("1.3.2",)},
    "1.4.0": {"rknn_server": ("1.4.0",), "npu_driver": ("6.4.0",), "runtime": ("1.4.0",)},
}

# Guide §1.6.2: pre-compiled models from toolkit >= 1.0.0 need driver >= 0.9.6; those
# from toolkit < 1.0.0 do not run on driver 0.9.6. "Driver" here is the DRV version of
# get_sdk_version, which §1.7.2 says is the rknn_server version.
PRECOMPILE_TOOLKIT_SPLIT = "1.0.0"
PRECOMPILE_DRIVER_SPLIT = "0.9.6"

# Guide §1.7.1 item 3: without target_platform, a toolkit 1.x model runs only on these.
TOOLKIT1_DEFAULT_TARGETS = ("rk1806", "rk1808", "rk3399pro")

# Guide §1.7.2 item 9: Mini Driver on RV1109/RV1126 does not support online debugging.
MINI_DRIVER_CHIPS = ("rv1109", "rv1126")

# Chip -> NPU generation is `rknn_diag.platforms.CHIPS` (the one chip table).
