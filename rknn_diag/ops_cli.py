"""`rknn-diag ops`: the supported-op list as JSON (the same data the suite and doctor read)."""

from __future__ import annotations

import argparse
import json

from .ops import supported_ops


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rknn-diag ops", description=__doc__)
    parser.add_argument("--names", action="store_true", help="print only the op names, one per line")
    args = parser.parse_args(argv)
    ops = supported_ops()
    print("\n".join(ops) if args.names else json.dumps(ops, indent=2))
    return 0
