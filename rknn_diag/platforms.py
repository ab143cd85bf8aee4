"""Chip facts: which NPU generation a chip is, and the quantized dtypes it has — the one
chip table and the one mode -> chip table; the doctor, the board layer, the suite and the
benches import them (tests/test_platforms.py).

Sources: RKNN-Toolkit 1.x user guide (RKNPU1 chips, v1 dtype names, §1.4.1 of
the troubleshooting guide); rknn-toolkit2 2.5.0 (RKNPU2 chips: the `target_platform` list of its
`RKNN.config()` docstring — rv1103 / rv1103b / rv1106 / rv1106b / rv1126b / rk2118 / rk3562 /
rk3566 / rk3568 / rk3576 / rk3588; `config()` accepts exactly w8a8, w8a16, w16a16i_dfp, w4a16 —
checked, VENDOR_TOOLKIT.md). rv1126b is an RKNPU2 chip despite the name it shares with the
RKNPU1 rv1126.
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


# RKNPU2 chips with a quantized dtype beyond w8a8.
_V2_EXTRA: dict[str, tuple[str, ...]] = {
    "rk3562": ("w8a16",),
    "rv1103": ("w16a16i_dfp",), "rv1106": ("w16a16i_dfp",),
    "rv1103b": ("w16a16i_dfp",), "rv1106b": ("w16a16i_dfp",),
    "rk3576": ("w4a16",), "rv1126b": ("w4a16",),
}
FLOAT16 = "float16"   # the unquantized build (do_quantization=False): every chip has it


def dtypes_for(chip: str) -> tuple[str, ...]:
    """The canonical quantized dtypes `chip` has; the first is its default."""
    if CHIPS[chip] == RKNPU1:
        return V1_DTYPES
    return _V2_COMMON + _V2_EXTRA.get(chip, ())


# The chip a run that takes each mode once builds for: each family's usual board first
# (rk3588, rk1808), then the first chip with each remaining mode.
_PREFERRED = ("rk3588", "rk1808", "rk3562", "rv1106", "rk3576")
QUANTIZED_MODES: tuple[str, ...] = tuple(dict.fromkeys(m for c in (*_PREFERRED, *CHIPS) for m in dtypes_for(c)))
MODE_CHIP: dict[str, str] = {FLOAT16: _PREFERRED[0], **{
    m: next(c for c in (*_PREFERRED, *CHIPS) if m in dtypes_for(c)) for m in QUANTIZED_MODES}}


def generation(platforms: list[str]) -> str:
    gens = {CHIPS[p] for p in platforms}
    return gens.pop() if len(gens) == 1 else "mixed"


def chip_from_compatible(text: str) -> str | None:
    """The chip from /proc/device-tree/compatible ("rockchip,rk1808-evb-v10\\0rockchip,rk1808\\0"):
    the first entry naming a chip of the chip table, longest name first (rv1126b is not rv1126,
    rk3588s-orangepi-5 is an rk3588 board); else the last, most generic rockchip entry; else None."""
    names = [c.split(",", 1)[1].lower() for c in text.replace("\0", "\n").split() if c.lower().startswith("rockchip,")]
    known = sorted(CHIPS, key=len, reverse=True)
    for name in names:
        chip = next((c for c in known if name.startswith(c)), None)
        if chip is not None:
            return chip
    return names[-1] if names else None
