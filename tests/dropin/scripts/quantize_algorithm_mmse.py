# rknn-toolkit2 examples/functions/quantize_algorithm_mmse/test.py in shape: mmse, then
# accuracy_analysis(output_dir=None), then inference.
import cv2
import numpy as np
import onnxruntime
from rknn.api import RKNN

rknn = RKNN(verbose=True)
rknn.config(mean_values=[128, 128, 128], std_values=[128, 128, 128], target_platform='rk3566',
            quantized_algorithm='mmse')
assert rknn.load_onnx(model='resnet50v2.onnx') == 0
assert rknn.build(do_quantization=True, dataset='./dataset.txt') == 0
assert rknn.export_rknn('./mobilenet_v1.rknn') == 0
assert rknn.accuracy_analysis(inputs=['./dog_16x16.jpg'], output_dir=None) == 0
img = cv2.cvtColor(cv2.imread('./dog_16x16.jpg'), cv2.COLOR_BGR2RGB)
assert rknn.init_runtime() == 0
outputs = rknn.inference(inputs=[np.expand_dims(img, 0)], data_format=['nhwc'])
rknn.release()
np.save('out_0.npy', outputs[0])
# output_dir=None: both write the summary under ./snapshot (the vendor writes no tensor files then)
assert 'resnetv24_dense0_fwd' in open('snapshot/error_analysis.txt').read()
x = ((img.astype(np.float32) - 128) / 128).transpose(2, 0, 1)[None].astype(np.float32)
np.save('ref_0.npy', onnxruntime.InferenceSession('resnet50v2.onnx').run(None, {'data': x})[0])
