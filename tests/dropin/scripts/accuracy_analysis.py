# rknn-toolkit2 examples/functions/accuracy_analysis/test.py in shape: the script reads the
# simulator's and the golden output tensors back from snapshot/.
import numpy as np
import onnxruntime
from rknn.api import RKNN

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]
rknn = RKNN(verbose=True)
rknn.config(mean_values=MEAN, std_values=STD, target_platform='rk3588')
assert rknn.load_onnx(model='resnet50v2.onnx') == 0
assert rknn.build(do_quantization=True, dataset='./dataset.txt') == 0
assert rknn.accuracy_analysis(inputs=['./dog_16x16.jpg'], output_dir='./snapshot') == 0
rknn.release()
np.save('out_0.npy', np.loadtxt('./snapshot/golden/resnetv24_dense0_fwd.txt', dtype=np.float32))
np.save('out_1.npy', np.loadtxt('./snapshot/simulator/resnetv24_dense0_fwd.txt', dtype=np.float32))
assert 'resnetv24_dense0_fwd' in open('./snapshot/error_analysis.txt').read()
import cv2
img = cv2.cvtColor(cv2.imread('./dog_16x16.jpg'), cv2.COLOR_BGR2RGB)
x = ((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
ref = onnxruntime.InferenceSession('resnet50v2.onnx').run(None, {'data': x})[0].ravel()
np.save('ref_0.npy', ref)
np.save('ref_1.npy', ref)
