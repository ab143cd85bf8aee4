"""`from rknn_diag.api import RKNN`: a drop-in for the vendor's `from rknn.api import RKNN`.

Same method names, parameters and return values (0 on success, a negative
RKNN_ERR_* code on failure, `None` from inference() on failure), vendor-style
E/W/I/D log lines. Thin: the work is `rknn_diag.pipeline.Toolchain`, whose steps raise
typed errors; this facade logs them and returns their codes (and refuses the vendor methods
that cannot exist here).
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any

from .errors import RKNN_ERR_FAIL, RknnDiagError
from .pipeline import Toolchain
from .dropin import custom_op as custom_op_mod, vendor_args
from .dropin.custom_op import IoMap, RKNNCustomOP, Shape  # noqa: F401  (1.x: from rknn.api import RKNNCustomOP)

# toolkit2 scripts import `from rknn.api.custom_op import get_node_attr`: the same path here.
custom_op = custom_op_mod
sys.modules[__name__ + ".custom_op"] = custom_op_mod


def _api(failure: Any = RKNN_ERR_FAIL):
    """Run a method; turn library errors into a logged message and the vendor return value."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self: "RKNN", *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except RknnDiagError as e:
                self.log.e(f"{fn.__name__}: {e}")
                self.last_error = e
                return failure if failure is not RKNN_ERR_FAIL else e.code
            except Exception as e:  # a bug of ours: say so, never crash the user's script
                self.log.e(f"{fn.__name__}: internal error {type(e).__name__}: {e}")
                self.log.d(traceback.format_exc())
                self.last_error = e
                return failure
        return wrapper

    return deco


def _refused_method(name: str):
    """A vendor method that cannot exist here: an E line saying why and what to do instead."""
    why, instead = vendor_args.REFUSED_METHODS[name]

    def method(self: "RKNN", *args: Any, **kwargs: Any) -> int:
        raise vendor_args.refuse(name, why, instead)

    method.__name__ = name      # before _api wraps it: its E line is headed by this name
    return _api()(method)


class RKNN(Toolchain):
    def __init__(self, verbose: bool = False, verbose_file: str | None = None):
        super().__init__(verbose, verbose_file)
        self.last_error: Exception | None = None

    # Each step of the pipeline, its typed errors turned into the vendor's return value.
    config = _api()(Toolchain.config)
    load_onnx = _api()(Toolchain.load_onnx)
    load_pytorch = _api()(Toolchain.load_pytorch)
    load_tensorflow = _api()(Toolchain.load_tensorflow)
    load_tflite = _api()(Toolchain.load_tflite)
    load_caffe = _api()(Toolchain.load_caffe)
    load_darknet = _api()(Toolchain.load_darknet)
    reg_custom_op = _api()(Toolchain.reg_custom_op)
    register_op = _api()(Toolchain.register_op)
    build = _api()(Toolchain.build)
    export_rknn = _api()(Toolchain.export_rknn)
    load_rknn = _api()(Toolchain.load_rknn)
    init_runtime = _api()(Toolchain.init_runtime)
    inference = _api(failure=None)(Toolchain.inference)
    accuracy_analysis = _api()(Toolchain.accuracy_analysis)
    hybrid_quantization_step1 = _api()(Toolchain.hybrid_quantization_step1)
    hybrid_quantization_step2 = _api()(Toolchain.hybrid_quantization_step2)
    eval_memory = _api(failure=None)(Toolchain.eval_memory)
    eval_perf = _api(failure=None)(Toolchain.eval_perf)

    def _board_runtime(self, target: str, device_id: str | None, adb_server: str | None, model):
        """init_runtime(target=CHIP, device_id=SERIAL) (and accuracy_analysis(target=...)): `model` on that board."""
        from .targets.board_runtime import BoardRuntime
        open_on_board = self.runtime if getattr(self.runtime, "on_board", False) else None
        return BoardRuntime(model, target, device_id, adb_server, share=open_on_board)

    # Vendor methods that cannot exist here: refused with why and what to do instead.
    codegen = _refused_method("codegen")
    export_encrypted_rknn_model = _refused_method("export_encrypted_rknn_model")
    export_rknn_precompile_model = _refused_method("export_rknn_precompile_model")
    load_mxnet = _refused_method("load_mxnet")
    load_keras = _refused_method("load_keras")
    load_firmware = _refused_method("load_firmware")
    direct_build = _refused_method("direct_build")

    def list_devices(self, adb_server: str | None = None) -> tuple[list[str], list[str]]:
        """(adb_devices, ntb_devices), like the vendor's; empty lists with an E line when no
        adb server answers (guide §1.7.2 items 2-3)."""
        try:
            from .board.discovery import list_devices
            adb, ntb = list_devices(adb_server)
            # printed as the vendor's does: scripts call it for the listing (npu_device_test)
            self.log.i(f"list_devices: adb: {', '.join(adb) or 'no device'}; ntb: {', '.join(ntb) or 'no device'}")
            return adb, ntb
        except ImportError:
            self.log.e("list_devices: the board layer needs adbutils (pip install 'rknn_diag[board]')")
        except RknnDiagError as e:
            self.log.e(f"list_devices: {e}")
            self.last_error = e
        return [], []
