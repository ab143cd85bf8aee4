# rknn-toolkit2 examples/functions/hybrid_quant/step1.py then step2.py in shape: step 1 writes
# <name>.model/.data/.quantization.cfg, the user moves a layer to float16, step 2 builds.
import cv2
import numpy as np
import onnxruntime
from rknn.api import RKNN

MEAN, STD = [127.5, 127.5, 127.5], [127.5, 127.5, 127.5]
rknn = RKNN(verbose=True)
rknn.config(mean_values=MEAN, std_values=STD, target_platform='rk3566')
assert rknn.load_onnx(model='./ssd_mobilenet_v2.onnx') == 0
assert rknn.hybrid_quantization_step1(dataset='./dataset.txt', proposal=False) == 0
rknn.release()
cfg = open('./ssd_mobilenet_v2.quantization.cfg').read()
assert 'custom_quantize_layers' in cfg
open('./ssd_mobilenet_v2.quantization.cfg', 'w').write(
    cfg.replace('custom_quantize_layers: {}', 'custom_quantize_layers:\n  r2: float16'))
rknn = RKNN(verbose=True)
assert rknn.hybrid_quantization_step2(model_input='./ssd_mobilenet_v2.model', data_input='./ssd_mobilenet_v2.data',
                                      model_quantization_cfg='./ssd_mobilenet_v2.quantization.cfg') == 0
assert rknn.export_rknn('./ssd_mobilenet_v2.rknn') == 0
img = cv2.cvtColor(cv2.imread('./dog_16x16.jpg'), cv2.COLOR_BGR2RGB)
assert rknn.init_runtime() == 0
out = rknn.inference(inputs=[np.expand_dims(img, 0)], data_format=['nhwc'])[0]
rknn.release()
np.save('out_0.npy', out)
x = ((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
np.save('ref_0.npy', onnxruntime.InferenceSession('ssd_mobilenet_v2.onnx').run(None, {'data': x})[0])
