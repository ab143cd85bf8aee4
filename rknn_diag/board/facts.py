"""What a board is: chip, NPU generation, and every version that decides whether
a model runs (guide §1.7.2: rknn_server, NPU driver, runtime library, mini driver).

Facts a board cannot answer come back as None, never guessed.
"""

from __future__ import annotations

import re
from typing import Any

from .chips import (COMPATIBLE_FILE, MINI_RUNTIME_LIB, RKNN_SERVER, RKNPU1_MINI_MARK,
                    RKNPU2_DRIVER_VERSION_FILE, RUNTIME_LIB, generation)
from ..platforms import chip_from_compatible
from .steps import DEFAULT_STEP_TIMEOUT, shell

# Version lines as the vendor's published binaries carry them (the fixtures in
# tests/board/vendor_version_lines.py quote each with its source):
#   rknn_server (RKNPU2)   "rknn_server version: 1.5.2 (8babfea build@2023-08-25T10:29:51)"
#   rknn_server (RKNPU1)   "1.7.5 (bb79b30 build: 2023-07-18 10:49:14)"  (no name before it)
#   librknnrt / librknnmrt "librknnrt version: 1.5.2 (c6b7b351a@2023-08-23T15:29:04)", "... 2.0.0b0"
#   librknn_runtime        "librknn_runtime version 1.7.5 (ccb93f1 build: 2023-07-18 10:48:49 base: 1131)"
#   RKNPU2 driver          "RKNPU driver: v0.9.8" (/sys/kernel/debug/rknpu/version)
#   galcore (dmesg)        "Galcore version 6.4.3.p2.336687", Rockchip's "6.4.6.5.351518"
_VERSION = r"v?(\d+(?:\.p?\d+)+(?:b\d+)?)"


def _first(pattern: str, text: str, flags=re.IGNORECASE) -> str | None:
    m = re.search(pattern, text, flags)
    return m.group(1) if m else None


def parse_galcore(dmesg: str) -> str | None:
    lines = [ln for ln in dmesg.splitlines() if "galcore" in ln.lower()]
    return _first(r"version\s*" + _VERSION, "\n".join(lines))


def parse_rknpu2_driver(text: str) -> str | None:
    """The version in /sys/kernel/debug/rknpu/version ("RKNPU driver: v0.9.8")."""
    return _first(r"RKNPU driver:?\s*" + _VERSION, text)


def parse_rknn_server(strings: str) -> str | None:
    """The version from `strings` of rknn_server: RKNPU2's named line, else RKNPU1's bare
    "<version> (<commit> build: <date>)" (what the guide's `grep build` finds)."""
    return (_first(r"rknn_server version:?\s*" + _VERSION, strings)
            or _first(r"^" + _VERSION + r" \([0-9a-f]+ build[:@]", strings, re.IGNORECASE | re.MULTILINE))


def parse_runtime(strings: str) -> tuple[str | None, bool]:
    """(version, mini runtime) from `strings` of librknnrt.so, librknnmrt.so (RKNPU2's mini
    runtime) or librknn_runtime.so. RKNPU1's Mini Driver is not visible here (chips.RKNPU1_MINI_MARK)."""
    m = re.search(r"librknn(rt|mrt|_runtime) version:?\s*" + _VERSION, strings, re.IGNORECASE)
    if not m:
        return None, False
    return m.group(2), m.group(1).lower() == "mrt"


def read_board_facts(device, timeout: float = DEFAULT_STEP_TIMEOUT) -> dict[str, Any]:
    """Read a board's facts over adb; every step bounded by `timeout` seconds."""

    def out(argv: list[str], step: str) -> str | None:
        rc, text = shell(device, argv, step=step, timeout=timeout)
        return text if rc == 0 else None

    facts: dict[str, Any] = {"serial": device.serial}
    compatible = out(["cat", COMPATIBLE_FILE], "read chip") or ""
    chip = chip_from_compatible(compatible)
    gen = generation(chip) if chip else None
    facts["chip"] = chip
    facts["generation"] = gen
    facts["arch"] = (out(["uname", "-m"], "read arch") or "").strip() or None

    os_release = out(["cat", "/etc/os-release"], "read os")
    if os_release:
        facts["os"] = _first(r'^PRETTY_NAME="?([^"\n]*)"?', os_release, re.MULTILINE)
    else:
        android = (out(["getprop", "ro.build.version.release"], "read os") or "").strip()
        facts["os"] = f"Android {android}" if android else None

    if gen == "rknpu1":
        # Run plain `dmesg` and filter here: no pipe through the board's shell.
        facts["npu_driver"] = parse_galcore(out(["dmesg"], "read npu driver") or "")
    elif gen == "rknpu2":
        facts["npu_driver"] = parse_rknpu2_driver(out(["cat", RKNPU2_DRIVER_VERSION_FILE], "read npu driver") or "")
    else:
        facts["npu_driver"] = None

    facts["rknn_server"] = parse_rknn_server(out(["strings", RKNN_SERVER], "read rknn_server version") or "")
    runtime, mini = None, False
    if gen:
        runtime, mini = parse_runtime(out(["strings", RUNTIME_LIB[gen]], "read runtime version") or "")
    if gen == "rknpu2" and runtime is None:     # RV1103/RV1106 carry the mini runtime only
        runtime, mini = parse_runtime(out(["strings", MINI_RUNTIME_LIB], "read mini runtime version") or "")
    elif gen == "rknpu1":
        mini = out(["ls", RKNPU1_MINI_MARK], "check mini driver") is not None
    facts["runtime"] = runtime
    facts["mini_driver"] = mini
    facts["rknn_server_running"] = out(["pidof", "rknn_server"], "check rknn_server") is not None
    # A virtual board runs models on rknn_diag's simulator and says so here;
    # real boards have no such property (or no getprop at all).
    runtime_kind = (out(["getprop", "ro.rknn_diag.runtime"], "read runtime kind") or "").strip()
    facts["simulator"] = runtime_kind == "simulator"
    return facts
