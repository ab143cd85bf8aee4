"""Tools beside the RKNN API, as the vendor's `rknn.utils`: `onnx_edit`."""

from .onnx_transform import onnx_edit

__all__ = ["onnx_edit"]
