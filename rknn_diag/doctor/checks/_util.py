"""Small helpers shared by the checks."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version


def V(text: str) -> Version:
    """A comparable version; tolerates a leading 'v' and trailing build words ('1.4.0 (build 5)')."""
    s = str(text).strip().lstrip("vV").split()[0]
    try:
        return Version(s)
    except InvalidVersion:
        raise ValueError(f"not a version: {text!r}") from None


def within(version: str, spec: str) -> bool:
    return SpecifierSet(spec).contains(V(version), prereleases=True)


def release(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0'."""
    return ".".join(str(p) for p in V(version).release)
