"""Model file names for pre-compilation (guide §1.6.3 item 2)."""

from __future__ import annotations

import re

from ..core import check, error, ok, skip, warn
from ..tables_frameworks import PRECOMPILE_NAME_FIXED
from ._util import V

SAFE = re.compile(r"[A-Za-z0-9_]+")


@check("model.name_chars", "models", "1.6.3", "model file names of letters, digits and '_' for pre_compile")
def name_chars(ctx):
    if not ctx.models:
        return skip("no --model given")
    tk = ctx.toolkit()
    if tk is not None and tk.generation == 2:
        return skip("rknn-toolkit2 has no pre_compile")
    out = []
    for p in ctx.models:
        stem = p.name.split(".")[0]
        if SAFE.fullmatch(stem):
            out.append(ok(f"{p.name}: name is safe for pre_compile"))
            continue
        msg = f"{p.name}: characters other than letters, digits and '_' in '{stem}' break build(pre_compile=True)"
        fix = f"rename the file (e.g. {re.sub(r'[^A-Za-z0-9_]', '_', stem)}), or use rknn-toolkit {PRECOMPILE_NAME_FIXED} or later"
        if tk is None:
            out.append(warn(msg + " with rknn-toolkit before " + PRECOMPILE_NAME_FIXED, fix))
        elif V(tk.version) < V(PRECOMPILE_NAME_FIXED):
            out.append(error(msg + f" with {tk}", fix))
        else:
            out.append(ok(f"{p.name}: {tk} handles the special characters in the name"))
    return out
