"""The doctor's view of a board: one "facts" dict per device.

The board layer (`rknn_diag.board`, adb over adbutils and virtual boards) produces
them; the doctor only reads them, through a provider it can be handed in tests:

    provider(ctx) -> list of facts dicts

Keys of a facts dict (None when the board did not say):
    serial       adb serial
    chip         e.g. "rk1808", from /proc/device-tree/compatible ("rockchip,rk1808-evb", ...)
    generation   "rknpu1" | "rknpu2"
    rknn_server  rknn_server version, e.g. "1.4.0"
    npu_driver   NPU driver version, e.g. "6.4.0" (galcore on RKNPU1, rknpu on RKNPU2)
    runtime      librknn_runtime.so (RKNPU1) / librknnrt.so (RKNPU2) version
    mini_driver  True when the RV1109/RV1126 Mini Driver is installed
    error        why the board could not be read (then the rest may be missing)
"""

from __future__ import annotations

import importlib
from typing import Any

from ..platforms import CHIPS as CHIP_GENERATION   # chip -> NPU generation: the one chip table
from ..platforms import chip_from_compatible       # the one device-tree chip reader

FACT_KEYS = ("serial", "chip", "generation", "rknn_server", "npu_driver", "runtime", "mini_driver", "error")


class BoardLayerMissing(RuntimeError):
    """`rknn_diag.board` (facts, discovery) is not available in this install."""


class BoardsUnavailable(RuntimeError):
    """The board layer is there but could not list boards (no adb server answering, ...)."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.fix = fix


def _serials(listed) -> list:
    """`list_devices` answers (adb_serials, ntb_serials) like the vendor's RKNN.list_devices(),
    or a plain list of serials/devices; NTB devices are not reachable over adb."""
    if isinstance(listed, tuple) and len(listed) == 2 and all(isinstance(x, (list, tuple)) for x in listed):
        return list(listed[0])
    return list(listed)


def default_provider(ctx: Any) -> list[dict]:
    """Ask the board layer: list the devices behind the adb server, read each one's facts."""
    try:
        facts = importlib.import_module("rknn_diag.board.facts")
        discovery = importlib.import_module("rknn_diag.board.discovery")
        read_board_facts, list_devices = facts.read_board_facts, discovery.list_devices
    except (ImportError, AttributeError) as e:
        raise BoardLayerMissing(f"the board layer is not available ({e})") from None
    try:
        listed = _serials(list_devices(ctx.adb_server))
    except Exception as e:  # the board layer's TargetError says what and how to fix
        raise BoardsUnavailable(getattr(e, "message", None) or str(e), getattr(e, "fix", "") or "") from None
    connect = getattr(discovery, "connect", None)
    out = []
    for item in listed:
        serial = item if isinstance(item, str) else (getattr(item, "serial", None) or str(item))
        if ctx.device_ids and serial not in ctx.device_ids:
            continue
        try:
            dev = connect(serial, ctx.adb_server) if isinstance(item, str) and connect else item
            out.append(dict(read_board_facts(dev), serial=serial))
        except Exception as e:  # one broken board must not hide the others
            out.append({"serial": serial, "error": getattr(e, "message", None) or f"{type(e).__name__}: {e}"})
    return out


def normalize(facts: dict) -> dict:
    """Fill missing keys with None; lower-case the chip; derive the generation from the chip."""
    out = {k: facts.get(k) for k in FACT_KEYS}
    out.update({k: v for k, v in facts.items() if k not in out})
    chip = out.get("chip")
    if chip:
        chip = str(chip).lower().replace("rockchip,", "")
        out["chip"] = chip_from_compatible("rockchip," + chip) or chip
    if not out.get("generation") and out.get("chip") in CHIP_GENERATION:
        out["generation"] = CHIP_GENERATION[out["chip"]]
    return out
