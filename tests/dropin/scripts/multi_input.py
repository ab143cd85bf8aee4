# rknn-toolkit2 examples/functions/multi_input/test.py in shape: two inputs, one data_format
# entry per input (one NHWC image, one NCHW array).
import numpy as np
import onnxruntime
from rknn.api import RKNN

rknn = RKNN(verbose=True)
rknn.config(mean_values=[[0, 0, 0], [0, 0, 0]], std_values=[[255, 255, 255], [1, 1, 1]], target_platform='rk3588')
assert rknn.load_onnx(model='two_inputs.onnx') == 0
assert rknn.build(do_quantization=False) == 0
assert rknn.export_rknn('./two_inputs.rknn') == 0
rng = np.random.default_rng(7)
a = rng.integers(0, 256, (1, 8, 8, 3)).astype(np.float32)            # an image, NHWC pixels
b = rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)              # an NCHW tensor
assert rknn.init_runtime() == 0
outputs = rknn.inference(inputs=[a, b], data_format=['nhwc', 'nchw'])
rknn.release()
np.save('out_0.npy', outputs[0])
ref = onnxruntime.InferenceSession('two_inputs.onnx').run(None, {'a': (a / 255).transpose(0, 3, 1, 2).astype(np.float32), 'b': b})
np.save('ref_0.npy', ref[0])
