"""`rknn-diag`: one command, subcommands dispatched to the module that owns them."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module with main(argv) -> int, one-line help)
SUBCOMMANDS = {
    "conformance": ("rknn_diag.conformance_cli", "run the conformance suite on a target and write a report"),
    "report": ("rknn_diag.report.cli", "build the release qualification report from results files"),
    "virtual-board": ("rknn_diag.board.virtual_cli", "start a virtual board that speaks the adb protocol"),
    "doctor": ("rknn_diag.doctor.cli", "check the environment, boards, datasets and models (same as rknn-doctor)"),
    "ops": ("rknn_diag.ops_cli", "list the supported ops and attributes (a table; --json for programs)"),
    "model": ("rknn_diag.advisor.model_cli", "what is wrong with one model on a chip, and a verified hybrid fix"),
    "convert": ("rknn_diag.advisor.convert_cli", "convert a model described in a YAML config (toolkit2's converter config)"),
    "compare": ("rknn_diag.advisor.compare_cli", "compare two built .rknn models layer by layer on a dataset"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="rknn-diag", description=__doc__)
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), help="; ".join(
        f"{k}: {v[1]}" for k, v in sorted(SUBCOMMANDS.items())))
    if argv and argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"rknn-diag (rknn_diag) {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv[:1])  # prints the usage error and exits 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
