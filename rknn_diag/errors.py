"""Typed errors. Each says what was wrong, where, and what to do.

The API facade (`rknn_diag.api.RKNN`) catches these and returns `code`, the
vendor-style return value (modelled on `rknn_api.h`'s RKNN_ERR_*).
"""

from __future__ import annotations

# Return codes as in the vendor's rknn_api.h.
RKNN_SUCC = 0
RKNN_ERR_FAIL = -1
RKNN_ERR_TIMEOUT = -2
RKNN_ERR_DEVICE_UNAVAILABLE = -3
RKNN_ERR_MALLOC_FAIL = -4
RKNN_ERR_PARAM_INVALID = -5
RKNN_ERR_MODEL_INVALID = -6
RKNN_ERR_CTX_INVALID = -7
RKNN_ERR_INPUT_INVALID = -8
RKNN_ERR_OUTPUT_INVALID = -9
RKNN_ERR_DEVICE_UNMATCH = -10
RKNN_ERR_TARGET_PLATFORM_UNMATCH = -13


class RknnDiagError(Exception):
    """Base class. `where` names the file/line/node/input; `fix` says what to do."""

    code = RKNN_ERR_FAIL
    # Who is to blame when one of these ends a conformance case is decided by its type in
    # rknn_diag.outcome, not here.

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None, ref: str | None = None):
        self.message = message
        self.where = where
        self.fix = fix
        self.ref = ref  # troubleshooting-guide section, e.g. "1.4.3"
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.message]
        if self.where:
            parts.append(f"(at {self.where})")
        text = " ".join(parts)
        if self.fix:
            text += f". Fix: {self.fix}"
        if self.ref:
            text += f" [guide §{self.ref}]"
        return text


class ConfigError(RknnDiagError):
    """An unknown, malformed or contradictory setting in config()/build()."""

    code = RKNN_ERR_PARAM_INVALID


class ModelLoadError(RknnDiagError):
    """A source model (ONNX, ...) that cannot be read or converted."""

    code = RKNN_ERR_MODEL_INVALID


class UnsupportedOpError(ModelLoadError):
    """An op, or an attribute value of an op, that the toolkit does not support."""



class ModelInvalidError(RknnDiagError):
    """A built model file that is truncated, corrupted, foreign or from a future version."""

    code = RKNN_ERR_MODEL_INVALID


class InputError(RknnDiagError):
    """Inference inputs of the wrong count, shape, dtype or layout."""

    code = RKNN_ERR_INPUT_INVALID


class DatasetError(RknnDiagError):
    """A calibration dataset file or sample that cannot be used."""

    code = RKNN_ERR_PARAM_INVALID


class StateError(RknnDiagError):
    """An API call made out of order (e.g. inference before init_runtime)."""

    code = RKNN_ERR_CTX_INVALID


class TargetError(RknnDiagError):
    """A target (board, vendor toolkit) that cannot be reached or used.

    Infrastructure, not product: reports count these as errors, not failures.
    """

    code = RKNN_ERR_DEVICE_UNAVAILABLE


class TargetTimeout(TargetError):
    code = RKNN_ERR_TIMEOUT


class ResultsFileError(RknnDiagError):
    """A results file that is missing, empty or holds a line that is not a result."""


class GateError(ConfigError):
    """A quality-gate TOML file that cannot be read or holds an unknown/ill-typed key."""


# The vendor toolkit (target toolkit2). All are TargetErrors: trouble with the vendor,
# never our product's.
class ToolkitNotInstalled(TargetError):
    """The interpreter meant to run the vendor has no rknn-toolkit2."""


class VendorError(TargetError):
    """The vendor toolkit failed a case (returned non-zero or raised)."""

    code = RKNN_ERR_FAIL

    def __init__(self, message: str, *, stage: str | None = None, log: str = "",
                 returncode: int | None = None, **kw):
        self.stage = stage          # config | load_onnx | build | init_runtime | inference | ...
        self.log = log              # the vendor's whole log for the case, ANSI codes stripped
        self.returncode = returncode
        self.repro = ""             # a command that reruns the case alone, when one was kept
        super().__init__(message, **kw)


class VendorUnsupported(VendorError):
    """The vendor refused the case (opset, op, dtype, setting): outside what it supports."""

    code = RKNN_ERR_PARAM_INVALID


class VendorCrash(VendorError):
    """The worker process died (signal, native crash) without reporting an outcome."""


class VendorTimeout(VendorError, TargetTimeout):
    """The worker did not finish in time and was killed with its process group."""


class PreloadServerError(TargetError):
    """The preload server (preload=True) could not start, refused to fork, or died."""


class MissingExtra(ConfigError):
    """An optional dependency (an extra of the package) is not installed."""
