"""Chip facts: which NPU generation a chip is, and the quantized dtypes it has.

Sources: RKNN-Toolkit 1.x user guide (RKNPU1 chips, v1 dtype names, §1.4.1 of
the troubleshooting guide); rknn-toolkit2 2.5.0 (RKNPU2 chips; `config()`
accepts exactly w8a8, w8a16, w16a16i_dfp, w4a16 — checked, VENDOR_TOOLKIT.md).
"""

from __future__ import annotations

RKNPU1 = "rknpu1"
RKNPU2 = "rknpu2"

# chip -> generation
CHIPS: dict[str, str] = {
    **{c: RKNPU1 for c in ("rk1806", "rk1808", "rk3399pro", "rv1109", "rv1126")},
    **{c: RKNPU2 for c in ("rk3562", "rk3566", "rk3568", "rk3576", "rk3588", "rv1103", "rv1106",
                           "rv1103b", "rv1106b", "rv1126b", "rk2118")},
}

# Canonical quantized dtype names, and the spellings accepted for each.
DTYPE_ALIASES: dict[str, str] = {
    "asymmetric_quantized-u8": "asymmetric_quantized-u8",
    "asymmetric_affine-u8": "asymmetric_quantized-u8",
    "dynamic_fixed_point-i8": "dynamic_fixed_point-i8",
    "dynamic_fixed_point-8": "dynamic_fixed_point-i8",
    "dynamic_fixed_point-i16": "dynamic_fixed_point-i16",
    "dynamic_fixed_point-16": "dynamic_fixed_point-i16",
    "w8a8": "w8a8",
    "asymmetric_quantized-8": "w8a8",
    "w8a16": "w8a16",
    "w16a16i_dfp": "w16a16i_dfp",
    "w16a16i": "w16a16i_dfp",   # older toolkit2 docs; same 16-bit dynamic fixed point meaning
    "w4a16": "w4a16",
}

V1_DTYPES = ("asymmetric_quantized-u8", "dynamic_fixed_point-i8", "dynamic_fixed_point-i16")
_V2_COMMON = ("w8a8",)


def dtypes_for(chip: str) -> tuple[str, ...]:
    """The canonical quantized dtypes `chip` has; the first is its default."""
    if CHIPS[chip] == RKNPU1:
        return V1_DTYPES
    extra = {
        "rk3562": ("w8a16",),
        "rv1103": ("w16a16i_dfp",), "rv1106": ("w16a16i_dfp",),
        "rv1103b": ("w16a16i_dfp",), "rv1106b": ("w16a16i_dfp",),
        "rk3576": ("w4a16",), "rv1126b": ("w4a16",),
    }.get(chip, ())
    return _V2_COMMON + extra


def generation(platforms: list[str]) -> str:
    gens = {CHIPS[p] for p in platforms}
    return gens.pop() if len(gens) == 1 else "mixed"
