# rknn-toolkit2 examples/onnx/resnet50v2/test.py in shape: float16 build, one image.
import cv2
import numpy as np
import onnxruntime
from rknn.api import RKNN

MEAN, STD = [123.675, 116.28, 103.53], [58.82, 58.82, 58.82]
rknn = RKNN(verbose=True)
rknn.config(mean_values=MEAN, std_values=STD, target_platform='rk3566')
assert rknn.load_onnx(model='resnet50v2.onnx') == 0
assert rknn.build(do_quantization=False) == 0
assert rknn.export_rknn('./resnet50v2.rknn') == 0
img = cv2.cvtColor(cv2.imread('./dog_16x16.jpg'), cv2.COLOR_BGR2RGB)
assert rknn.init_runtime() == 0
outputs = rknn.inference(inputs=[np.expand_dims(img, 0)], data_format=['nhwc'])
rknn.release()
for k, out in enumerate(outputs):
    np.save(f'out_{k}.npy', out)
x = ((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
for k, ref in enumerate(onnxruntime.InferenceSession('resnet50v2.onnx').run(None, {'data': x})):
    np.save(f'ref_{k}.npy', ref)
