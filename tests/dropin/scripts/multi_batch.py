# rknn-toolkit2 examples/functions/multi_batch/test.py in shape: rknn_batch_size=4, RGB2BGR.
import cv2
import numpy as np
import onnxruntime
from rknn.api import RKNN

MEAN, STD = [103.94, 116.78, 123.68], [58.82, 58.82, 58.82]
rknn = RKNN(verbose=True)
rknn.config(mean_values=MEAN, std_values=STD, quant_img_RGB2BGR=True, target_platform='rk3566')
assert rknn.load_onnx(model='resnet50v2.onnx') == 0
assert rknn.build(do_quantization=True, dataset='./dataset.txt', rknn_batch_size=4) == 0
assert rknn.export_rknn('./mobilenet_v2.rknn') == 0
names = open('dataset.txt').read().split()
imgs = [cv2.imread(names[i]) for i in (0, 1, 2, 0)]       # BGR, as the example reads them
assert rknn.init_runtime() == 0
outputs = rknn.inference(inputs=[np.stack(imgs)], data_format=['nhwc'])
rknn.release()
for k, out in enumerate(outputs):
    np.save(f'out_{k}.npy', out)
# quant_img_RGB2BGR makes the calibration images BGR; at inference the script passes BGR itself
x = np.stack([((im.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1) for im in imgs]).astype(np.float32)
sess = onnxruntime.InferenceSession('resnet50v2.onnx')
np.save('ref_0.npy', np.concatenate([sess.run(None, {'data': x[i:i + 1]})[0] for i in range(4)]))
