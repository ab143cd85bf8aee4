"""Board checks (guide §1.6.2, §1.7.1, §1.7.2), over the board layer's facts dicts.

Slow (adb round trips): the runner runs them last, in parallel, under --timeout.
"""

from __future__ import annotations

from .. import tables_board as T
from ..board_facts import BoardLayerMissing, BoardsUnavailable
from ..core import NO_TOOLKIT, check, error, ok, skip, warn
from ._util import V, release


def _asked(ctx) -> bool:
    return bool(ctx.device_ids or ctx.adb_server)


def _boards(ctx, unavailable=skip):
    """(facts list, None) or (None, the Result to report instead)."""
    try:
        facts = ctx.board_facts()
    except BoardLayerMissing as e:
        return None, skip(f"{e}; board checks need the rknn_diag.board package")
    except BoardsUnavailable as e:
        if _asked(ctx) and unavailable is error:
            return None, error(f"cannot list boards: {e}", e.fix or "start the adb server (`adb start-server`) or "
                               "give the right --adb-server HOST:PORT")
        return None, skip(f"cannot list boards: {e}")
    return facts, None


def _readable(ctx):
    facts, why = _boards(ctx)
    if facts is None:
        return None, why
    good = [f for f in facts if not f.get("error")]
    if not good:
        return None, skip("no readable board" + (f" among {', '.join(ctx.device_ids)}" if ctx.device_ids else ""))
    return good, None


def _name(f) -> str:
    return f"{f['serial']} ({f.get('chip') or 'unknown chip'})"


def _same(actual: str, wanted: str) -> bool:
    """'6.4.0.227915' matches '6.4.0'; '1.4.0 (a3f2c)' matches '1.4.0'."""
    try:
        a, w = V(actual).release, V(wanted).release
    except ValueError:
        return str(actual).strip().startswith(wanted)
    return a[:len(w)] == w


@check("board.reachable", "boards", "1.7.2 item 2", "boards reachable over adb", slow=True)
def reachable(ctx):
    facts, why = _boards(ctx, unavailable=error)
    if facts is None:
        return why
    out = []
    seen = {f["serial"] for f in facts}
    for serial in ctx.device_ids:
        if serial not in seen:
            out.append(error(f"device {serial} is not listed by adb{' at ' + ctx.adb_server if ctx.adb_server else ''}",
                             "check `adb devices` shows it (cable, `adb connect HOST:PORT`) and the device_id "
                             "given to init_runtime"))
    for f in facts:
        if f.get("error"):
            out.append(error(f"{f['serial']}: listed but cannot be read: {f['error']}",
                             "check `adb -s SERIAL shell true` works; reboot the board if adbd hangs"))
        else:
            out.append(ok(f"{_name(f)} reachable"))
    return out or skip("no boards found (none attached, none given with --device-id)")


@check("board.chip", "boards", "1.7.1 item 3", "board chip against target_platform", slow=True)
def chip(ctx):
    boards, why = _readable(ctx)
    if boards is None:
        return why
    tk = ctx.toolkit()
    targets = [t.lower() for t in ctx.target_platforms]
    out = []
    for f in boards:
        c, gen = f.get("chip"), f.get("generation")
        if not c:
            out.append(warn(f"{f['serial']}: chip unknown (no /proc/device-tree/compatible)", "check the firmware"))
            continue
        if tk is not None and gen and gen != ("rknpu2" if tk.generation == 2 else "rknpu1"):
            out.append(error(f"{_name(f)} is an {gen.upper()} chip; {tk} builds for "
                             f"{'RKNPU2' if tk.generation == 2 else 'RKNPU1'} chips",
                             "use rknn-toolkit2 for RKNPU2 chips and rknn-toolkit 1.x for RKNPU1 chips"))
            continue
        if targets:
            wanted, how = targets, "--target-platform"
        elif tk is not None and tk.generation == 1:
            wanted, how = list(T.TOOLKIT1_DEFAULT_TARGETS), f"{tk}'s default (no target_platform)"
        else:
            out.append(skip(f"{_name(f)}: pass --target-platform to compare it with the board"))
            continue
        if c in wanted:
            out.append(ok(f"{_name(f)} is among {how}: {', '.join(wanted)}"))
        else:
            out.append(error(f"{_name(f)}: models built for {how} ({', '.join(wanted)}) do not run on {c}: "
                             "init_runtime fails with RKNN_ERR_MODEL_INVALID",
                             f"config(target_platform=['{c}']) and build again"))
    return out


@check("board.versions", "boards", "1.7.2 item 1", "toolkit, rknn_server, NPU driver and runtime versions match",
       slow=True)
def versions(ctx):
    boards, why = _readable(ctx)
    if boards is None:
        return why
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    out = []
    if tk.generation == 2:
        # §1.7.1 / §1.7.2 item 1 for RKNPU2: the board's librknnrt must not be older than the toolkit.
        for f in boards:
            rt = f.get("runtime")
            if not rt:
                out.append(warn(f"{_name(f)}: runtime (librknnrt.so) version unknown", "check /usr/lib/librknnrt.so"))
            elif V(release(rt)) < V(release(tk.version)):
                out.append(error(f"{_name(f)}: librknnrt {rt} is older than {tk}: init_runtime may fail "
                                 "(RKNN_ERR_MODEL_INVALID / DEVICE_UNAVAILABLE)",
                                 f"update librknnrt.so and rknn_server on the board to {release(tk.version)} or newer"))
            else:
                out.append(ok(f"{_name(f)}: librknnrt {rt} is not older than {tk}"))
        return out
    row = T.TOOLKIT1_FIRMWARE.get(tk.version)
    if row is None:
        return skip(f"{tk} is not in the guide's §1.7.2 table ({', '.join(T.TOOLKIT1_FIRMWARE)})")
    for f in boards:
        bad, unknown = [], []
        for key, label in (("rknn_server", "rknn_server"), ("npu_driver", "NPU driver"), ("runtime", "librknn_runtime")):
            have = f.get(key)
            if not have:
                unknown.append(label)
            elif not any(_same(str(have), w) for w in row[key]):
                bad.append(f"{label} {have} (needs {' or '.join(row[key])})")
        if bad:
            out.append(error(f"{_name(f)}: firmware does not match {tk}: {'; '.join(bad)}",
                             "upgrade the toolkit and the board firmware to matching releases (guide §1.7.2 table)"))
        elif unknown:
            out.append(warn(f"{_name(f)}: {', '.join(unknown)} version unknown", "check the board's firmware"))
        else:
            out.append(ok(f"{_name(f)}: rknn_server, NPU driver and librknn_runtime match {tk}"))
    return out


@check("board.precompile", "boards", "1.6.2", "pre-compiled models against the board's driver", slow=True)
def precompile(ctx):
    boards, why = _readable(ctx)
    if boards is None:
        return why
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 2:
        return skip("rknn-toolkit2 has no pre_compile")
    new_tk = V(release(tk.version)) >= V(T.PRECOMPILE_TOOLKIT_SPLIT)
    out = []
    for f in boards:
        drv = f.get("rknn_server")   # get_sdk_version's DRV version is rknn_server's (§1.7.2)
        if not drv:
            out.append(warn(f"{_name(f)}: driver (rknn_server) version unknown", "check the board's firmware"))
            continue
        new_drv = V(release(drv)) >= V(T.PRECOMPILE_DRIVER_SPLIT)
        if new_tk != new_drv:
            out.append(warn(f"{_name(f)}: models pre-compiled by {tk} do not run on driver {drv} "
                            f"({'>=' if new_tk else '<'} {T.PRECOMPILE_TOOLKIT_SPLIT} toolkits need drivers "
                            f"{'>=' if new_tk else '<'} {T.PRECOMPILE_DRIVER_SPLIT})",
                            "build without pre_compile, or upgrade the board firmware and toolkit together"))
        else:
            out.append(ok(f"{_name(f)}: driver {drv} runs models pre-compiled by {tk}"))
    return out


@check("board.mini_driver", "boards", "1.7.2 item 9", "no Mini Driver on RV1109/RV1126 for online debugging",
       slow=True)
def mini_driver(ctx):
    boards, why = _readable(ctx)
    if boards is None:
        return why
    rv = [f for f in boards if f.get("chip") in T.MINI_DRIVER_CHIPS]
    if not rv:
        return skip("no RV1109/RV1126 board")
    out = []
    for f in rv:
        if f.get("mini_driver"):
            out.append(error(f"{_name(f)} runs the Mini Driver, which does not support online debugging "
                             "(init_runtime from the PC fails with RKNN_ERR_DEVICE_UNAVAILABLE)",
                             "flash firmware with the full NPU driver, or run the model on the board with the C API"))
        elif f.get("mini_driver") is None:
            out.append(warn(f"{_name(f)}: cannot tell whether the Mini Driver is installed", "check the firmware"))
        else:
            out.append(ok(f"{_name(f)} has the full NPU driver"))
    return out
