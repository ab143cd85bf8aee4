"""Float kernels, one registry. See `registry.py` for the kernel contract."""

from .registry import FLOAT, NUMERIC, ANY, REQUIRED, OpSpec, check_node, check_tensor_type, get, register, run, run_node, supported_ops

__all__ = ["FLOAT", "NUMERIC", "ANY", "REQUIRED", "OpSpec", "check_node", "check_tensor_type", "get", "register", "run", "run_node", "supported_ops"]
