# rknn-toolkit2 examples/functions/dynamic_shape/test.py in shape: dynamic_input with three
# input shapes, inference at each.
import cv2
import numpy as np
import onnxruntime
from rknn.api import RKNN

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]
shapes = [[[1, 3, 16, 16]], [[1, 3, 24, 24]], [[1, 3, 32, 32]]]
rknn = RKNN(verbose=True)
rknn.config(mean_values=MEAN, std_values=STD, target_platform='rk3566', dynamic_input=shapes)
assert rknn.load_onnx(model='resnet50v2.onnx') == 0
assert rknn.build(do_quantization=False) == 0
assert rknn.export_rknn('./mobilenet_v2.rknn') == 0
assert rknn.init_runtime() == 0
img = cv2.cvtColor(cv2.imread('./dog_16x16.jpg'), cv2.COLOR_BGR2RGB)
sess = onnxruntime.InferenceSession('resnet50v2.onnx')
for k, (_, _, h, w) in enumerate(s[0] for s in shapes):
    im = cv2.resize(img, (w, h))
    out = rknn.inference(inputs=[np.expand_dims(im, 0)], data_format=['nhwc'])[0]
    np.save(f'out_{k}.npy', out)
    x = ((im.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    np.save(f'ref_{k}.npy', sess.run(None, {'data': x})[0])
rknn.release()
