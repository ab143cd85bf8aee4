"""`rknn-diag ops`: the supported ops (the same registry the suite and the doctor read).

By default a table for people, grouped by family: each op's inputs ([optional],
...variadic), the input dtypes it takes and its attributes (=default; the values it
handles in parentheses when it handles only some; no default: required or derived).
`--json` prints the registry's full description for programs; `--names` one name a line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from .ops import registry, supported_ops

_DTYPE_SETS = {registry.ANY: "any", registry.NUMERIC: "numeric", registry.FLOAT: "f32 f16"}


def _inputs(spec: registry.OpSpec) -> str:
    names = [i.rstrip("_") for i in spec.inputs]
    if spec.variadic:
        return ", ".join(names[:-1] + [f"{names[-1]}..."])
    return ", ".join(n if i < spec.required_inputs else f"[{n}]" for i, n in enumerate(names))


def _attributes(spec: registry.OpSpec) -> list[str]:
    out = []
    for name, default in spec.attrs.items():
        text = name if default is registry.REQUIRED or default is None else f"{name}={_short(default)}"
        if name in spec.values:
            text += " (" + "|".join(_short(v) for v in spec.values[name]) + ")"
        out.append(text)
    return out


def _pack(items: list[str], width: int, first: str, rest: str) -> list[str]:
    """Items joined by ', ' into lines of at most `width` (an item is never split)."""
    lines, line = [], first
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if line.strip() and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = rest + piece
        else:
            line += ("" if not line.strip() else " ") + piece
    return lines + [line]


def _short(v) -> str:
    if isinstance(v, float) and abs(v) > 1e30:
        return "-max" if v < 0 else "max"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def table(names: list[str], width: int) -> str:
    """Ops grouped by family: a line of op, inputs and dtypes, then its attributes
    indented below (wrapped to `width`)."""
    specs = [registry.get(n) for n in names]
    width = max(width, 60)
    lines = []
    families = sorted({s.family for s in specs})
    for family in families:
        group = [s for s in specs if s.family == family]
        w_op = max(len("op"), *(len(s.op_type) for s in group)) + 2
        w_in = max(len("inputs"), *(len(_inputs(s)) for s in group)) + 2
        lines += [f"{family} ({len(group)} op{'s' if len(group) != 1 else ''})",
                  "  " + "op".ljust(w_op) + "inputs".ljust(w_in) + "dtypes"]
        for s in group:
            lines.append(("  " + s.op_type.ljust(w_op) + _inputs(s).ljust(w_in) + _dtypes(s)).rstrip())
            if s.attrs:
                lines += _pack(_attributes(s), width, " " * 6, " " * 8)
        lines.append("")
    return (f"{len(specs)} supported op{'s' if len(specs) != 1 else ''} in {len(families)} "
            f"famil{'ies' if len(families) != 1 else 'y'} (--json for programs).\n"
            "Inputs: [optional], name... variadic. Attributes (indented): =default, (the values handled).\n\n"
            + "\n".join(lines))


_DTYPE_SHORT = {"float32": "f32", "float16": "f16", "float64": "f64", "int8": "i8", "uint8": "u8", "int16": "i16",
                "int32": "i32", "int64": "i64"}


def _dtypes(spec: registry.OpSpec) -> str:
    return _DTYPE_SETS.get(spec.dtypes) or " ".join(_DTYPE_SHORT.get(d, d) for d in spec.dtypes)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rknn-diag ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("op", nargs="*", help="only these ops (default: all)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the full description as JSON, for programs")
    out.add_argument("--names", action="store_true", help="print only the op names, one per line")
    args = parser.parse_args(argv)
    ops = supported_ops()
    unknown = [o for o in args.op if o not in ops]
    if unknown:
        print(f"rknn-diag ops: not supported: {', '.join(unknown)} (`rknn-diag ops --names` lists the "
              "supported ones)", file=sys.stderr)
        return 2
    if args.op:
        ops = {k: v for k, v in ops.items() if k in args.op}
    if args.json:
        print(json.dumps(ops, indent=2))
    elif args.names:
        print("\n".join(ops))
    else:
        sys.stdout.write(table(list(ops), shutil.get_terminal_size((100, 24)).columns))
    return 0
