"""The report's typed errors (kept beside the report until errors.py takes them)."""

from __future__ import annotations

from rknn_diag.errors import ConfigError, RknnDiagError


class ResultsFileError(RknnDiagError):
    """A results file that is missing, empty or holds a line that is not a result."""


class GateError(ConfigError):
    """A quality-gate TOML file that cannot be read or holds an unknown/ill-typed key."""
