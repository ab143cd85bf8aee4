"""A board as a target: convert on the host, push, run the on-board runner, pull.

Every step has a deadline and every infrastructure fault (adb server or board
unreachable, timeout, board gone, runner failure, missing or damaged output)
raises TargetError / TargetTimeout naming the board, the step and the cause.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rknn_diag.board import discovery, health
from rknn_diag.board.facts import read_board_facts
from rknn_diag.board.locks import BoardLock
from rknn_diag.board.steps import DEFAULT_STEP_TIMEOUT, run_step, shell
from rknn_diag.board.versions import server_runtime_mismatch
from rknn_diag.errors import ConfigError, ModelLoadError, RknnDiagError, TargetError, TargetTimeout
from rknn_diag.extras import require
from rknn_diag.targets.base import BuildSpec, RunResult, Target

RUNNER_SOURCE = Path(__file__).resolve().parent.parent / "board" / "runner.py"

# convert(onnx_path, spec, rknn_path, facts) -> None; raises on failure.
Converter = Callable[[str, BuildSpec, str, dict], None]


def convert_with_project_api(model_path: str, spec: BuildSpec, rknn_path: str, facts: dict) -> None:
    """Convert with rknn_diag's own toolchain (the pipeline behind the vendor-style API)."""
    from rknn_diag.pipeline import Toolchain  # imported lazily: boards do not need the converter otherwise

    config = dict(spec.config)
    if facts.get("chip"):
        config.setdefault("target_platform", facts["chip"])
    rknn = Toolchain()
    try:
        steps = [
            ("config", ConfigError, lambda: rknn.config(**config)),
            (spec.load[0], ModelLoadError, lambda: getattr(rknn, spec.load[0])(**spec.load[1])) if spec.load else
            ("load_onnx", ModelLoadError, lambda: rknn.load_onnx(model=model_path, inputs=spec.load_inputs,
                                                                 outputs=spec.load_outputs,
                                                                 input_size_list=spec.input_size_list)),
            ("build", RknnDiagError, lambda: rknn.build(do_quantization=spec.do_quantization, dataset=spec.dataset,
                                                        rknn_batch_size=spec.rknn_batch_size)),
            ("export_rknn", RknnDiagError, lambda: rknn.export_rknn(rknn_path)),
        ]
        for name, error, call in steps:
            try:
                call()
            except RknnDiagError:
                raise
            except Exception as e:   # a bug of ours while converting: typed, naming the step
                raise error(f"{name}() failed while converting {model_path}: internal error "
                            f"{type(e).__name__}: {e}", where=model_path,
                            fix="run the model on the simulator target to get the full traceback") from e
    finally:
        rknn.release()


class BoardTarget(Target):
    compares_with_simulator = True
    needs_device_id = True
    checked_before_use = True
    runs_real_models = False   # real models check conversion, not the board path

    @classmethod
    def timeout_options(cls, step_timeout: float | None, run_timeout: float | None) -> dict[str, Any]:
        return {k: v for k, v in (("step_timeout", step_timeout), ("run_timeout", run_timeout)) if v is not None}

    @classmethod
    def preflight(cls, device_ids: list[str] | None = None, adb_server: str | None = None) -> None:
        if not device_ids:
            raise ConfigError("--target board needs --device-id SERIAL (repeatable: one per board)",
                              fix="`adb devices` lists the serials of attached boards", ref="1.7.2")
        require("adbutils", "--target board")
        attached, _ = discovery.list_devices(adb_server)
        missing = [d for d in device_ids if d not in attached]
        if missing:
            raise TargetError(f"board(s) {', '.join(missing)} not attached to the adb server "
                              f"(it lists {', '.join(attached) or 'no boards'})",
                              fix="check the cable/network and `adb devices`; pass the serials it lists",
                              ref="1.7.2")

    def __init__(self, serial: str, adb_server: str | None = None, workdir: str | None = None, *,
                 board_dir: str | None = None, step_timeout: float = DEFAULT_STEP_TIMEOUT,
                 run_timeout: float = 300.0, convert: Converter | None = None,
                 lock: bool = True, lock_dir: str | None = None, lock_timeout: float = 0.0,
                 share_lock: bool = False, python: str = "python3"):
        self.serial = serial
        self.adb_server = adb_server
        self.name = f"board:{serial}"
        self.step_timeout = step_timeout
        self.run_timeout = run_timeout
        self.python = python
        self._convert = convert
        # a board running models built by the vendor's converter: its wrong answers are the vendor's
        self.vendor = bool(getattr(convert, "vendor", False))
        self._board_dir = board_dir
        self._owned_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="rknn_diag_board_"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._cases = itertools.count()
        self._runner_pushed = False
        self._facts: dict[str, Any] | None = None
        # A timeout makes the board suspect; the next case first probes it (one step timeout)
        # and, when it does not answer, quarantines it: every later case ends at once.
        self.suspect: str | None = None
        self.quarantined: str | None = None
        self._lock = BoardLock(serial, adb_server, lock_dir) if lock else None
        # share_lock: hold the board's lock per run, not for this target's life, so a board can
        # take the cases of a quarantined one while it keeps running its own (BoardPool).
        self.share_lock = share_lock
        if self._lock and not share_lock:
            self._lock.acquire(lock_timeout)
        try:
            self.device = run_step(serial, "connect",
                                   lambda: discovery.connect(serial, adb_server, step_timeout), step_timeout)
        except BaseException:
            self.close()
            raise

    # -- facts ---------------------------------------------------------------------------
    def facts(self, refresh: bool = False) -> dict[str, Any]:
        if self._facts is None or refresh:
            self._facts = read_board_facts(self.device, timeout=self.step_timeout)
        return self._facts

    def info(self) -> dict[str, Any]:
        facts = self.facts()
        versions = {k: facts.get(k) for k in ("rknn_server", "runtime", "npu_driver")}
        return {"name": self.name, "adb_server": discovery.server_text(self.adb_server), **facts,
                "versions": versions}

    def check_versions(self) -> None:
        """TargetError when the board's firmware parts do not belong together (guide §1.7.2)."""
        facts = self.facts()
        why = server_runtime_mismatch(facts.get("rknn_server"), facts.get("runtime"))
        if why:
            raise TargetError(f"board {self.serial}: {why}", where=f"board {self.serial}, step check versions",
                              fix="flash one firmware release onto the board (rknn_server and the runtime "
                                  "library together) and match the toolkit to it", ref="1.7.2")
        if not facts.get("chip"):
            raise TargetError(f"board {self.serial}: cannot tell its chip from /proc/device-tree/compatible",
                              where=f"board {self.serial}, step read chip",
                              fix="check it is a Rockchip board and the device tree is readable")

    @property
    def board_dir(self) -> str:
        if self._board_dir is None:
            os_name = (self.facts().get("os") or "").lower()
            self._board_dir = "/data/local/tmp/rknn_diag" if os_name.startswith("android") else "/tmp/rknn_diag"
        return self._board_dir

    # -- running ---------------------------------------------------------------------------
    def convert(self, model_path: str, spec: BuildSpec, rknn_path: str) -> None:
        facts = self.facts()
        if self._convert is not None:
            self._convert(model_path, spec, rknn_path, facts)
        elif facts.get("simulator"):
            convert_with_project_api(model_path, spec, rknn_path, facts)
        else:
            raise TargetError(
                f"board {self.serial} runs the vendor's runtime; a model for it must be converted with "
                "the vendor's rknn-toolkit2 converter", where=f"board {self.serial}, step convert",
                fix="pass convert= from rknn_diag.targets.toolkit2 (needs rknn-toolkit2 installed), "
                    "or bring a .rknn built by the vendor toolkit")

    def run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        self._admit()
        try:
            with self._held_for_run():
                return self._run(model_path, spec, inputs)
        except TargetTimeout as e:
            self.suspect = e.message
            raise

    @contextlib.contextmanager
    def _held_for_run(self):
        if self._lock is None or not self.share_lock:
            yield
            return
        # Another worker's run on this board takes at most its run timeout plus its adb steps.
        self._lock.acquire(self.run_timeout + 8 * self.step_timeout)
        try:
            yield
        finally:
            self._lock.release()

    def _admit(self) -> None:
        """Quarantine: refuse at once on a quarantined board; probe a suspect one first."""
        if self.quarantined is None and self.suspect is not None:
            try:
                self._shell_ok(["echo", "ok"], "probe after a timeout")
                self.suspect = None          # it answers: that case was slow, the board is fine
            except TargetError as e:
                self.quarantined = f"{self.suspect}; then {e.message}"
        if self.quarantined is not None:
            raise TargetError(f"board {self.serial} is quarantined, case not run ({self.quarantined})",
                              where=f"board {self.serial}, quarantine",
                              fix="reboot or reconnect the board, then rerun with --skip-passed; "
                                  "raise --step-timeout/--run-timeout if the board is only slow",
                              ref="1.7.2")

    def _run(self, model_path: str, spec: BuildSpec, inputs: list[np.ndarray]) -> RunResult:
        self.check_versions()
        case = f"case{os.getpid()}-{next(self._cases)}"   # unique when two targets share the board
        local = self.workdir / case
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir(parents=True)
        rknn_path = local / "model.rknn"
        self.convert(model_path, spec, str(rknn_path))
        input_files = []
        for i, array in enumerate(inputs):
            path = local / f"in{i}.npy"
            np.save(path, np.asarray(array), allow_pickle=False)
            input_files.append(path)

        remote = posixpath.join(self.board_dir, case)
        remote_out = posixpath.join(remote, "out")
        self._shell_ok(["rm", "-rf", remote], "clean case folder")
        self._shell_ok(["mkdir", "-p", remote_out], "make case folder")
        runner = posixpath.join(self.board_dir, "runner.py")
        if not self._runner_pushed:
            self._push(RUNNER_SOURCE, runner, "push runner")
            self._runner_pushed = True
        self._push(rknn_path, posixpath.join(remote, "model.rknn"), "push model")
        remote_inputs = []
        for path in input_files:
            remote_inputs.append(posixpath.join(remote, path.name))
            self._push(path, remote_inputs[-1], f"push {path.name}")

        argv = [self.python, runner, "--model", posixpath.join(remote, "model.rknn")]
        for path in remote_inputs:
            argv += ["--input", path]
        argv += ["--outdir", remote_out, "--data-format", spec.data_format]
        if spec.inputs_pass_through and any(spec.inputs_pass_through):
            argv += ["--pass-through", ",".join(str(int(bool(f))) for f in spec.inputs_pass_through)]
        rc, text = shell(self.device, argv, step="run runner", timeout=self.run_timeout)
        if rc != 0:
            tail = "\n".join(text.strip().splitlines()[-5:])
            raise TargetError(f"board {self.serial}: the on-board runner exited with {rc}: {tail}",
                              where=f"board {self.serial}, step run runner",
                              fix="see the runner's output; check rknn-toolkit-lite2 and the runtime on the board",
                              ref="1.7.2")

        result_path = local / "result.json"
        self._pull(posixpath.join(remote_out, "result.json"), result_path, "pull result.json")
        try:
            result = json.loads(result_path.read_text())
            described = result["outputs"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(f"board {self.serial}: the runner's result.json is unreadable ({exc})",
                              where=f"board {self.serial}, step pull result.json",
                              fix="rerun; if it repeats, the board's storage or the link damages files") from None
        outputs = [self._pull_output(remote_out, local, item) for item in described]
        self._shell_ok(["rm", "-rf", remote], "clean case folder")
        return RunResult(outputs=outputs, info=self.info(), latency_ms=result.get("latency_ms"))

    def health_check(self) -> dict[str, Any]:
        """Run a known tiny model (y = relu(2x - 1)) and compare with numpy.

        Returns {"ok", "max_abs_error", "latency_ms", "info"}; infrastructure
        faults raise TargetError/TargetTimeout like any run.
        """
        model = self.workdir / "health.onnx"
        health.write_model(str(model))
        x = health.make_input()
        result = self.run(str(model), BuildSpec(), [x])
        want = health.expected(x)
        got = result.outputs[0] if result.outputs else None
        if got is None or got.shape != want.shape:
            shape = None if got is None else got.shape
            return {"ok": False, "reason": f"output shape {shape}, expected {want.shape}",
                    "max_abs_error": None, "latency_ms": result.latency_ms, "info": result.info}
        err = float(np.max(np.abs(got.astype(np.float64) - want)))
        return {"ok": err <= health.TOLERANCE, "max_abs_error": err, "latency_ms": result.latency_ms,
                "info": result.info,
                "reason": None if err <= health.TOLERANCE else f"max abs error {err:g} > {health.TOLERANCE}"}

    # -- steps -------------------------------------------------------------------------------
    def _shell_ok(self, argv: list[str], step: str) -> str:
        rc, text = shell(self.device, argv, step=step, timeout=self.step_timeout)
        if rc != 0:
            raise TargetError(f"board {self.serial}: `{' '.join(argv)}` exited with {rc}: {text.strip()}",
                              where=f"board {self.serial}, step {step}",
                              fix="check the board's scratch folder is writable and not full")
        return text

    def _push(self, local: Path, remote: str, step: str) -> None:
        run_step(self.serial, step, lambda: self.device.sync.push(str(local), remote, check=True),
                 self.step_timeout)

    def _pull(self, remote: str, local: Path, step: str) -> None:
        # Into a side file first: a pull cut short never leaves a partial file under the real name.
        partial = local.with_name(local.name + ".partial")
        try:
            run_step(self.serial, step, lambda: self.device.sync.pull_file(remote, str(partial)),
                     self.step_timeout)
            os.replace(partial, local)
        finally:
            partial.unlink(missing_ok=True)

    def _pull_output(self, remote_out: str, local: Path, item: dict) -> np.ndarray:
        name = str(item.get("file", ""))
        step = f"pull {name}"
        if not name or "/" in name or name.startswith("."):
            raise TargetError(f"board {self.serial}: result.json names a bad output file {name!r}",
                              where=f"board {self.serial}, step {step}")
        path = local / name
        self._pull(posixpath.join(remote_out, name), path, step)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != item.get("sha256"):
            raise TargetError(f"board {self.serial}: output file {name} arrived damaged "
                              f"(sha256 {digest[:12]}… differs from the runner's {str(item.get('sha256'))[:12]}…)",
                              where=f"board {self.serial}, step {step}",
                              fix="rerun the case; if it repeats, check the link and the board's storage")
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise TargetError(f"board {self.serial}: output file {name} is not a readable .npy ({exc})",
                              where=f"board {self.serial}, step {step}") from None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
        if self._owned_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
