"""ONNX release <-> opset <-> IR version, and what each toolkit reads: one table, sources inline."""

from __future__ import annotations

from .tables_frameworks import TOOLKIT1


def release_table() -> dict[str, tuple[int, int]]:
    """ONNX release -> (IR version, ai.onnx opset).

    Source: onnx's own `onnx.helper.VERSION_TABLE` (the table of onnx/docs/Versioning.md,
    which guide §1.3.1 note 4 points to). Note: the guide's note-4 table says IR 3 for
    release 1.4.1; onnx's table says 4 (1.4.1 writes IR 4 models), and we follow onnx.
    """
    from onnx import helper
    return {_three(row[0]): (int(row[1]), int(row[2])) for row in helper.VERSION_TABLE}


def _three(release: str) -> str:
    """onnx names some releases '1.3'; the tables here say '1.3.0'."""
    parts = [int(x) for x in release.split(".")]
    return ".".join(map(str, (parts + [0, 0])[:3]))


# rknn-toolkit2: highest opset it loads, measured on 2.5.0 ("Unsupport onnx opset 22,
# need <= 19!"; /work/shared/VENDOR_TOOLKIT.md); its onnx pin is <=1.18.0 (same source).
TOOLKIT2 = {"2.5.0": {"max_opset": 19, "onnx_release": "1.18.0"}}


def limits(toolkit_name: str, version: str) -> dict | None:
    """{'max_opset', 'max_ir', 'onnx_release', 'source'} for a toolkit, or None if unknown."""
    rel = release_table()
    if toolkit_name == "rknn-toolkit":
        row = TOOLKIT1.get(version)
        if not row:
            return None
        ir, opset = rel[_three(row["onnx"])]
        return {"max_opset": opset, "max_ir": ir, "onnx_release": row["onnx"],
                "source": f"guide §1.3.1: toolkit {version} reads ONNX release {row['onnx']}"}
    row = TOOLKIT2.get(version)
    if not row:
        return None
    ir, _ = rel[_three(row["onnx_release"])]
    return {"max_opset": row["max_opset"], "max_ir": ir, "onnx_release": row["onnx_release"],
            "source": f"rknn-toolkit2 {version}: refuses opset > {row['max_opset']}, pins onnx<={row['onnx_release']}"}
