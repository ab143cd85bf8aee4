"""`RKNN.init_runtime(target=CHIP, device_id=SERIAL)`: run an already built model on a board.

The built model file is pushed as is (the board runner loads it like the simulator does),
so inference() on a board and on the simulator run the very same model; preprocessing
(layout, reorder, mean/std) happens inside it, on the board.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import modelfile, platforms
from ..errors import ConfigError, RknnDiagError, TargetError
from ..model import BuiltModel
from .base import BuildSpec


class BoardRuntime:
    on_board = True   # the API hands it raw inputs: preprocessing runs inside the model, on the board
    def __init__(self, model: BuiltModel, target: str, device_id: str | None, adb_server: str | None = None,
                 share: "BoardRuntime | None" = None):
        """`share`: a runtime already open on the board this one would open (same chip, and the
        same serial or none given) lends its connection: a board has one holder (board.locks)."""
        from ..board.discovery import list_devices
        from .board import BoardTarget

        chip = str(target).lower()
        if chip not in platforms.CHIPS:
            raise ConfigError(f"unknown target '{target}'", fix=f"use one of {', '.join(sorted(platforms.CHIPS))}")
        if chip not in model.target_platform:
            raise RknnDiagError(
                f"the model was built for {model.target_platform}, not for target '{chip}'",
                fix=f"config(target_platform=['{chip}']) and build again", ref="1.7.1")
        if share is not None and (device_id in (None, share.serial)) and share.facts().get("chip") == chip:
            device_id = share.serial
        else:
            share = None
        if device_id is None:
            devices, _ = list_devices(adb_server)
            if len(devices) != 1:
                raise TargetError(f"device_id not given and {len(devices)} boards are attached "
                                  f"({', '.join(devices) or 'none'})",
                                  fix="pass init_runtime(device_id=SERIAL); `adb devices` lists them", ref="1.7.2")
            device_id = devices[0]
        self._dir = Path(tempfile.mkdtemp(prefix="rknn_diag_board_"))
        self.board = None
        self._owns_board = share is None
        try:   # any failure from here on (board unreachable, wrong chip) leaves no temp folder
            self._model = self._dir / "model.rknn"
            modelfile.save(model, self._model)
            if share is not None:
                self.board = share.board
                return
            self.board = BoardTarget(device_id, adb_server, workdir=str(self._dir / "work"),
                                     convert=self._copy_model)
            board_chip = self.board.facts().get("chip")
            if board_chip != chip:
                raise TargetError(f"board {device_id} is a {board_chip}, not the requested target '{chip}'",
                                  fix=f"init_runtime(target='{board_chip}') with a model built for it",
                                  ref="1.7.1")
        except BaseException:
            self.close()
            raise

    @property
    def serial(self) -> str:
        return self.board.serial

    def facts(self) -> dict:
        """The board's facts (chip, os, rknn_server, runtime, npu_driver versions)."""
        return self.board.facts()

    @staticmethod
    def _copy_model(model_path, spec, rknn_path, facts) -> None:
        # the built model file each run names (a runtime sharing the board runs its own)
        shutil.copyfile(model_path, rknn_path)

    def infer(self, inputs: list[np.ndarray], data_format: str,
              inputs_pass_through: list[int] | None = None) -> list[np.ndarray]:
        spec = BuildSpec(data_format=data_format, inputs_pass_through=inputs_pass_through)
        return self.board.run(str(self._model), spec, list(inputs)).outputs

    def timed(self, inputs: list[np.ndarray], data_format: str) -> float:
        """One run on the board; the board runner's time for it in ms (load, init, one inference)."""
        ms = self.board.run(str(self._model), BuildSpec(data_format=data_format), list(inputs)).latency_ms
        if ms is None:
            raise TargetError("the board runner reported no time for the run",
                              fix="update the board runner (rknn_diag.board.runner writes latency_ms)")
        return float(ms)

    def close(self) -> None:
        if self.board is not None and self._owns_board:
            self.board.close()
        shutil.rmtree(self._dir, ignore_errors=True)
