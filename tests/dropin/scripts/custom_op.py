# rknn-toolkit2 examples/functions/custom_op/convert_custom_onnx_to_rknn/test.py in shape:
# reg_custom_op with a class (op_type, shape_infer, compute), then the simulator runs it.
import numpy as np
from rknn.api import RKNN
from rknn.api.custom_op import get_node_attr


class cstDualResidual:
    op_type = 'cstDualResidual'

    def shape_infer(self, node, in_shapes, in_dtypes):
        return in_shapes.copy(), in_dtypes.copy()

    def compute(self, node, inputs):
        x, y = inputs
        alpha = get_node_attr(node, 'alpha')
        return [x * alpha - y, y * alpha - x]


rknn = RKNN(verbose=True)
rknn.config(target_platform='rk3588')
assert rknn.reg_custom_op(cstDualResidual()) == 0
assert rknn.load_onnx(model='dual_residual.onnx') == 0
assert rknn.build(do_quantization=False) == 0
assert rknn.export_rknn('dual_residual_custom.rknn') == 0
in0 = np.load('dual_residual_input_0.npy')
in1 = np.load('dual_residual_input_1.npy')
assert rknn.init_runtime() == 0
outputs = rknn.inference(inputs=[np.transpose(in0, (0, 2, 3, 1)), np.transpose(in1, (0, 2, 3, 1))])
rknn.release()
for k, (out, ref) in enumerate(zip(outputs, [in0 * 0.75 - in1, in1 * 0.75 - in0])):
    np.save(f'out_{k}.npy', out)
    np.save(f'ref_{k}.npy', ref)
