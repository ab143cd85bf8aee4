"""Host and USB checks (guide §1.7.2 items 4-6), read from /etc, /sys and /proc under --root."""

from __future__ import annotations

import re
from pathlib import Path

from ..core import check, error, ok, skip, warn
from ..udev import evaluate, rule_files

ROCKCHIP_VID = "2207"          # USB vendor id of Rockchip (guide §1.7.2 item 4: update_rk1808_usb_rule.sh)
ADB_INTERFACE = ("ff", "42", "01")   # class/subclass/protocol of an adb interface (AOSP usb_vendors)
PROXY_NAMES = ("npu_transfer_proxy", "npn_transfer_proxy")   # the guide spells it both ways
RULE_DIRS = ("/etc/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d")


def _linux(ctx) -> bool:
    return ctx.platform.startswith("linux") or str(ctx.root) != "/"


def _read(p: Path) -> str:
    try:
        return p.read_text(errors="replace").strip()
    except OSError:
        return ""


def rockchip_usb(ctx) -> list[dict]:
    """Rockchip devices in sysfs: {'path', 'product', 'adb'} each."""
    base = ctx.path("/sys/bus/usb/devices")
    if not base.is_dir():
        return []
    entries = sorted(base.iterdir())
    out = []
    for dev in entries:
        if _read(dev / "idVendor").lower() != ROCKCHIP_VID:
            continue
        adb = False
        for intf in entries:
            if intf.name.startswith(dev.name + ":"):
                cls = tuple(_read(intf / k).lower() for k in ("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"))
                adb = adb or cls == ADB_INTERFACE
        out.append({"path": dev.name, "product": _read(dev / "idProduct").lower(),
                    "name": _read(dev / "product"), "adb": adb})
    return out


def _describe(devs: list[dict]) -> str:
    return ", ".join(f"{d['path']} (2207:{d['product']}{' ' + d['name'] if d['name'] else ''}, "
                     f"{'adb' if d['adb'] else 'no adb interface'})" for d in devs)


@check("host.udev_rule", "host", "1.7.2 item 4", "udev rule giving access to Rockchip USB devices")
def udev_rule(ctx):
    if not _linux(ctx):
        return skip("udev rules are Linux only")
    files = rule_files([ctx.path(d) for d in RULE_DIRS])
    root = ctx.path("/")
    acc = evaluate([("/" + str(f.relative_to(root)), _read(f)) for f in files])
    where = ", ".join(dict.fromkeys(acc.where[-3:]))
    if acc.granted:
        how = ("the logged-in user (TAG+=\"uaccess\")" if acc.uaccess else
               f"members of group '{acc.group}' (check with `id -nG`)" if acc.group_rw else "every user")
        return ok(f"vendor 2207 USB devices are opened by {how} ({where})")
    fix = ('add /etc/udev/rules.d/51-rockchip.rules with SUBSYSTEM=="usb", ATTRS{idVendor}=="2207", '
           'MODE="0660", GROUP="plugdev", TAG+="uaccess" and add yourself to plugdev (`sudo usermod -aG plugdev '
           '$USER`, then log in again); then `udevadm control --reload` and replug. Do not make the device '
           "world-writable (0666): any local user could then reflash the board")
    if acc.mentions:
        return warn(f"udev rules name vendor 2207 ({', '.join(acc.mentions[:3])}"
                    f"{', ...' if len(acc.mentions) > 3 else ''}) but grant no user access (mode "
                    f"{oct(acc.mode) if acc.mode is not None else 'default'}, no group, no uaccess tag): "
                    "init_runtime then fails with RKNN_ERR_DEVICE_UNAVAILABLE", fix)
    if rockchip_usb(ctx):
        return error("Rockchip USB devices are connected but no udev rule grants access to vendor 2207", fix)
    return warn("no udev rule for vendor 2207: a compute stick or NTB-mode RK1808 will not be usable", fix)


@check("host.usb_devices", "host", "1.7.2 item 2", "Rockchip devices on USB")
def usb_devices(ctx):
    if not _linux(ctx):
        return skip("sysfs is Linux only")
    devs = rockchip_usb(ctx)
    if devs:
        return ok(f"{len(devs)} Rockchip USB device(s): {_describe(devs)}")
    usb_ids = [d for d in ctx.device_ids if ":" not in d]   # HOST:PORT serials are network boards
    if not usb_ids:
        return ok("no Rockchip (vendor 2207) device on USB, and no USB --device-id asked for")
    return warn(f"no Rockchip (vendor 2207) device on USB, but --device-id {', '.join(usb_ids)} was given",
                "connect the board with a data cable to its OTG port; boards reached over the network "
                "(adb connect HOST:PORT) need no USB")


@check("host.adb_and_ntb", "host", "1.7.2 item 5", "ADB and NTB devices not connected at the same time")
def adb_and_ntb(ctx):
    if not _linux(ctx):
        return skip("sysfs is Linux only")
    devs = rockchip_usb(ctx)
    adb = [d for d in devs if d["adb"]]
    ntb = [d for d in devs if not d["adb"]]
    if adb and ntb:
        return warn(f"both ADB devices ({_describe(adb)}) and NTB/other devices ({_describe(ntb)}) are connected",
                    "use one kind at a time; for ADB devices stop npu_transfer_proxy first")
    return ok(f"{len(adb)} ADB and {len(ntb)} non-ADB Rockchip device(s); not mixed")


def _processes(ctx) -> list[tuple[str, str]]:
    out = []
    proc = ctx.path("/proc")
    if proc.is_dir():
        for p in proc.iterdir():
            if p.name.isdigit():
                comm = _read(p / "comm")
                cmd = _read(p / "cmdline").replace("\0", " ")
                out.append((p.name, comm + " " + cmd))
    return out


@check("host.npu_transfer_proxy", "host", "1.7.2 items 5-6", "a stale npu_transfer_proxy")
def npu_transfer_proxy(ctx):
    if not _linux(ctx) and not ctx.platform == "darwin":
        return skip("process table read from /proc (Linux) only")
    running = [pid for pid, text in _processes(ctx) if any(n in text for n in PROXY_NAMES)]
    if not running:
        return ok("no npu_transfer_proxy running")
    devs = rockchip_usb(ctx)
    pids = ", ".join(running)
    if any(d["adb"] for d in devs):
        return error(f"npu_transfer_proxy is running (pid {pids}) while an ADB device is connected: "
                     "init_runtime fails with RKNN_ERR_DEVICE_UNAVAILABLE", f"kill {' '.join(running)}")
    if not devs:
        return warn(f"npu_transfer_proxy is running (pid {pids}) with no Rockchip device connected (stale)",
                    f"kill {' '.join(running)}")
    return ok(f"npu_transfer_proxy (pid {pids}) serves the connected NTB device")
