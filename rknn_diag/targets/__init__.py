"""Targets by name. Each is imported only when asked for (the vendor toolkit and adb are optional)."""

from __future__ import annotations

from .base import BuildSpec, RunResult, Target

TARGETS = ("simulator", "toolkit2", "board")


def make_target(name: str, **options) -> Target:
    """`simulator`; `toolkit2` (the vendor's simulator); `board` (serial=SERIAL, or serials=[...] for
    a BoardPool; adb_server=HOST:PORT)."""
    if name == "simulator":
        from .simulator import SimulatorTarget
        return SimulatorTarget()
    if name == "toolkit2":
        from .toolkit2 import Toolkit2Target
        return Toolkit2Target(**options)
    if name == "board":
        if "serials" in options:   # several boards: a quarantined one's cases move to another
            from .board_pool import BoardPool
            return BoardPool(**options)
        from .board import BoardTarget
        return BoardTarget(**options)
    raise ValueError(f"unknown target '{name}'; choose one of {', '.join(TARGETS)}")


def preflight(name: str, device_ids: list[str] | None = None, adb_server: str | None = None,
              converter: str = "project") -> None:
    """Can this target be used at all? Raises a TargetError/ConfigError that says why and what to
    do, once, before any case runs (a run against an unusable target must not end as one
    traceback per case). Cheap: it neither locks boards nor starts the vendor's servers."""
    from ..errors import ConfigError, TargetError

    if name == "simulator":
        return
    if name == "toolkit2" or converter == "toolkit2":
        from .toolkit2 import Toolkit2Target
        Toolkit2Target(preload=False).versions()     # ToolkitNotInstalled names the interpreter and the fix
        if name == "toolkit2" and not device_ids:
            return
    if name in ("board", "toolkit2"):   # toolkit2 with --device-id: the vendor's board path
        if not device_ids:
            raise ConfigError("--target board needs --device-id SERIAL (repeatable: one per board)",
                              fix="`adb devices` lists the serials of attached boards", ref="1.7.2")
        try:
            from ..board.discovery import list_devices
        except ImportError:
            raise ConfigError("--target board needs the board extra (adbutils)",
                              fix="pip install 'rknn_diag[board]'") from None
        attached, _ = list_devices(adb_server)
        missing = [d for d in device_ids if d not in attached]
        if missing:
            raise TargetError(f"board(s) {', '.join(missing)} not attached to the adb server "
                              f"(it lists {', '.join(attached) or 'no boards'})",
                              fix="check the cable/network and `adb devices`; pass the serials it lists",
                              ref="1.7.2")
        return
    raise ValueError(f"unknown target '{name}'; choose one of {', '.join(TARGETS)}")


__all__ = ["BuildSpec", "RunResult", "Target", "TARGETS", "make_target", "preflight"]
