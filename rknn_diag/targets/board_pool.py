"""Several boards behind one target: cases run on the first; when it is quarantined (it hung
and then did not answer), the remaining cases move to another board of the same chip.

With more than one board every board's lock is held per run (`BoardTarget(share_lock=True)`),
so the board that takes over keeps running its own worker's cases too, one run at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rknn_diag.errors import TargetError
from rknn_diag.targets.base import BuildSpec, RunResult, Target
from rknn_diag.targets.board import BoardTarget


class BoardPool(Target):
    # what a board can do (the pool is boards)
    compares_with_simulator = BoardTarget.compares_with_simulator
    needs_device_id = BoardTarget.needs_device_id
    checked_before_use = BoardTarget.checked_before_use
    runs_real_models = BoardTarget.runs_real_models

    def __init__(self, serials: list[str], adb_server: str | None = None, **options):
        if not serials:
            raise ValueError("BoardPool needs at least one board serial")
        self.adb_server = adb_server
        self._options = options
        self.spares = list(serials[1:])
        self.moved_from: list[str] = []        # quarantined boards whose cases moved here
        self.board = BoardTarget(serials[0], adb_server, share_lock=bool(self.spares), **options)

    @property
    def name(self) -> str:
        return self.board.name

    @property
    def vendor(self) -> bool:
        return self.board.vendor

    @property
    def serial(self) -> str:
        return self.board.serial

    def facts(self, refresh: bool = False) -> dict[str, Any]:
        return self.board.facts(refresh)

    def info(self) -> dict[str, Any]:
        info = self.board.info()
        if self.moved_from:
            info["moved_from"] = list(self.moved_from)
        return info

    def health_check(self) -> dict[str, Any]:
        return self.board.health_check()

    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        try:
            return self.board.run(model_path, spec, inputs)
        except TargetError as e:
            if self.board.quarantined is None:
                raise                      # the case's own trouble; the board is not (yet) written off
            if not self._move():
                e.message += f"; no other board of chip {self.board.facts().get('chip')} took its cases"
                raise
        return self.board.run(model_path, spec, inputs)

    def _move(self) -> bool:
        """Switch to the first spare of the same chip that passes a health check."""
        chip = self.board.facts().get("chip")
        while self.spares:
            serial = self.spares.pop(0)
            try:
                spare = BoardTarget(serial, self.adb_server, share_lock=True, **self._options)
            except TargetError:
                continue
            try:
                if spare.facts().get("chip") == chip and spare.health_check()["ok"]:
                    self.moved_from.append(self.board.serial)
                    self.board.close()
                    self.board = spare
                    return True
            except TargetError:
                pass
            spare.close()
        return False

    def close(self) -> None:
        self.board.close()
