"""rknn-doctor: every checkable item of the troubleshooting guide, as small independent checks.

    core.py           findings, the check registry, the context, the runner
    checks/           the checks, one module per subject (registered on import)
    tables_*.py       version tables (frameworks §1.3.1, board firmware §1.7.2, ONNX releases)
    board_facts.py    the doctor's view of a board, read through rknn_diag.board
    prototxt.py       protobuf text format reader (Caffe)
    tf_graph.py       GraphDef message classes without TensorFlow
    render.py, cli.py the summary, -v, --json (schema.json), --report; `rknn-doctor`
"""

from .core import Context, Finding, all_checks, run_checks

__all__ = ["Context", "Finding", "all_checks", "run_checks"]
