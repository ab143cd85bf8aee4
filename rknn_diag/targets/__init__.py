"""Targets by name. Each is imported only when asked for (the vendor toolkit and adb are optional).
What a target can do is declared on its class (`Target`'s capability attributes), never
recognised from its name."""

from __future__ import annotations

import importlib

from .base import BuildSpec, RunResult, Target

# name -> module and class: the one list of target names (CLI choices, pytest --target).
_CLASSES = {"simulator": (".simulator", "SimulatorTarget"),
            "toolkit2": (".toolkit2", "Toolkit2Target"),
            "board": (".board", "BoardTarget")}
TARGETS = tuple(_CLASSES)


def target_class(name: str) -> type[Target]:
    try:
        module, cls = _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown target '{name}'; choose one of {', '.join(TARGETS)}") from None
    return getattr(importlib.import_module(module, __name__), cls)


def make_target(name: str, **options) -> Target:
    """`simulator`; `toolkit2` (the vendor's simulator; device_id=SERIAL: the vendor's board path);
    `board` (serial=SERIAL, or serials=[...] for a BoardPool; adb_server=HOST:PORT)."""
    if "serials" in options:   # several boards: a quarantined one's cases move to another
        from .board_pool import BoardPool
        return BoardPool(**options)
    return target_class(name)(**options)


def preflight(name: str, device_ids: list[str] | None = None, adb_server: str | None = None,
              converter: str = "project") -> None:
    """Can this target be used at all? Raises a TargetError/ConfigError that says why and what to
    do, once, before any case runs (a run against an unusable target must not end as one
    traceback per case). Cheap: it neither locks boards nor starts the vendor's servers."""
    if converter == "toolkit2":   # the host converts with the vendor: it must be installed
        target_class("toolkit2").preflight()
    cls = target_class(name)
    cls.preflight(device_ids, adb_server)
    if cls.board_optional and device_ids:   # the vendor's board path: the boards must be there too
        target_class("board").preflight(device_ids, adb_server)


__all__ = ["BuildSpec", "RunResult", "Target", "TARGETS", "make_target", "preflight", "target_class"]
