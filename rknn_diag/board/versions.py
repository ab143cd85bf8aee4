"""Which rknn_server goes with which runtime library.

Source: guide §1.7.2's table (RKNN Toolkit 1.x firmware sets). From 1.2.1 on,
rknn_server and librknn_runtime carry the same number; the earlier releases
paired differently numbered builds, listed here as they appear in the table.
RKNPU2 releases ship rknn_server and librknnrt with the same number too.
"""

from __future__ import annotations

# (rknn_server, librknn_runtime) pairs from the guide table where the numbers differ.
_OLD_PAIRS = {("0.9.6", "0.9.8"), ("0.9.6", "0.9.9"), ("0.9.7", "0.9.8"), ("0.9.7", "0.9.9"),
              ("0.9.8", "1.0.0"), ("0.9.9", "1.1.0")}


def _triple(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:3])


def server_runtime_mismatch(rknn_server: str | None, runtime: str | None) -> str | None:
    """A sentence saying why the pair does not match, or None when it does (or is unknown)."""
    if not rknn_server or not runtime:
        return None
    if _triple(rknn_server) == _triple(runtime) or (rknn_server, runtime) in _OLD_PAIRS:
        return None
    return (f"rknn_server {rknn_server} does not match the runtime library {runtime} "
            "(they come from one firmware release)")
