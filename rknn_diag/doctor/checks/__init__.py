"""Every check module; importing this package registers them (in this order; boards run last)."""

from . import python_env, host, dataset, model_files, model_onnx, model_torch, model_caffe, model_tf, model_name, perf  # noqa: F401
from . import boards  # noqa: F401
