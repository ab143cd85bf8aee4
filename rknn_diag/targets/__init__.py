"""Targets by name. Each is imported only when asked for (the vendor toolkit and adb are optional)."""

from __future__ import annotations

from .base import BuildSpec, RunResult, Target

TARGETS = ("simulator", "toolkit2", "board")


def make_target(name: str, **options) -> Target:
    """`simulator`; `toolkit2` (the vendor's simulator); `board` (device_id=SERIAL, adb_server=HOST:PORT)."""
    if name == "simulator":
        from .simulator import SimulatorTarget
        return SimulatorTarget()
    if name == "toolkit2":
        from .toolkit2 import Toolkit2Target
        return Toolkit2Target(**options)
    if name == "board":
        from .board import BoardTarget
        return BoardTarget(**options)
    raise ValueError(f"unknown target '{name}'; choose one of {', '.join(TARGETS)}")


__all__ = ["BuildSpec", "RunResult", "Target", "TARGETS", "make_target"]
