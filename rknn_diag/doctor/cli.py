"""`rknn-doctor` (also `rknn-diag doctor`): find the troubleshooting guide's causes before they bite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import render
from .core import Context, all_checks, parse_toolkit, run_checks


def _version() -> str:
    from .. import __version__
    return f"rknn-doctor (rknn_diag) {__version__}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rknn-doctor", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="every finding with its fix, guide section and traceback")
    p.add_argument("--version", action="version", version=_version())
    p.add_argument("--json", action="store_true", help='print {"checks": [...]} (see rknn_diag/doctor/schema.json)')
    p.add_argument("--list-checks", action="store_true", help="list the checks and exit")
    p.add_argument("--check", action="append", default=[], metavar="ID", help="run only this check (repeatable)")
    p.add_argument("--report", action="store_true", help="print an environment block to paste into a bug report")
    p.add_argument("--dataset", type=Path, help="calibration dataset .txt")
    p.add_argument("--model", type=Path, action="append", default=[],
                   help="model file: .onnx, .pt/.pth, .prototxt, .pb (repeatable)")
    p.add_argument("--device-id", action="append", default=[], metavar="SERIAL", help="board serial (repeatable)")
    p.add_argument("--adb-server", metavar="HOST:PORT", help="adb server to ask for boards (default: adb's own)")
    p.add_argument("--toolkit-version", metavar="V",
                   help="check against this toolkit: 1.4.0 (rknn-toolkit), 2.5.0 or rknn-toolkit2==1.6.0")
    p.add_argument("--target-platform", action="append", default=[], metavar="CHIP",
                   help="the target_platform models are built for (repeatable)")
    p.add_argument("--batch-size", type=int, help="config(batch_size=...) used for quantization (toolkit 1.x)")
    p.add_argument("--epochs", type=int, help="config(epochs=...) used for quantization (toolkit 1.x)")
    p.add_argument("--npu-conv-kernels", type=int, metavar="N", help="the NPU's convolution kernel count (§6 item 4)")
    p.add_argument("--root", type=Path, default=Path("/"), help="read /etc, /sys and /proc under this folder")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds for all board checks together (default 20)")
    return p


def context_from(args: argparse.Namespace) -> Context:
    return Context(root=args.root, dataset=args.dataset, models=list(args.model), toolkit_version=args.toolkit_version,
                   device_ids=list(args.device_id), adb_server=args.adb_server,
                   target_platforms=list(args.target_platform), batch_size=args.batch_size, epochs=args.epochs,
                   npu_conv_kernels=args.npu_conv_kernels, timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # a console that cannot show ✓/✗ (cp1252 on Windows) gets '?' rather than a UnicodeEncodeError
        sys.stdout.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    if args.toolkit_version:
        try:
            parse_toolkit(args.toolkit_version)
        except ValueError as e:
            parser.error(str(e))
    checks = all_checks()
    if args.list_checks:
        print(render.list_checks(checks.values()))
        return 0
    unknown = [c for c in args.check if c not in checks]
    if unknown:
        parser.error(f"unknown check id(s): {', '.join(unknown)} (see --list-checks)")
    ctx = context_from(args)
    if args.report:
        print(render.report(ctx))
        return 0
    findings = run_checks(ctx, args.check or None)
    print(render.to_json(findings) if args.json else render.summary(findings, args.verbose))
    sys.stdout.flush()
    return 1 if any(f.status in ("error", "crash") for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
