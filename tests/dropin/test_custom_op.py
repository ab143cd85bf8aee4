"""Custom operators as both generations' examples use them: toolkit2's reg_custom_op
(functions/custom_op: a class with op_type, shape_infer, compute) and 1.x's register_op
(an op folder with op.yml and an RKNNCustomOP subclass). The simulator calls the user's code."""

from __future__ import annotations

import textwrap

import numpy as np
import onnx
import onnxruntime as ort

from fixtures.dropin import conv_custom_conv, dual_residual
from fixtures.datasets import npy_dataset
from rknn_diag.api import RKNN
from rknn_diag.api.custom_op import get_node_attr
from rknn_diag.compare import metrics


class cstDualResidual:
    op_type = "cstDualResidual"

    def shape_infer(self, node, in_shapes, in_dtypes):
        return in_shapes.copy(), in_dtypes.copy()

    def compute(self, node, inputs):
        x, y = inputs
        alpha = get_node_attr(node, "alpha")
        return [x * alpha - y, y * alpha - x]


class cstSigmoid:
    op_type = "cstSigmoid"
    calls = 0

    def shape_infer(self, node, in_shapes, in_dtypes):
        return in_shapes.copy(), in_dtypes.copy()

    def compute(self, node, inputs):
        cstSigmoid.calls += 1
        return [1.0 / (1.0 + np.exp(np.negative(inputs[0])))]


def test_toolkit2_convert_custom_onnx_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onnx.save(dual_residual(8, alpha=0.75), "dual_residual.onnx")
    rng = np.random.default_rng(0)
    in0, in1 = (rng.standard_normal((1, 3, 8, 8)).astype(np.float32) for _ in range(2))
    rknn = RKNN(verbose=True)
    rknn.config(target_platform="rk3588")
    assert rknn.reg_custom_op(cstDualResidual()) == 0
    assert rknn.load_onnx(model="dual_residual.onnx") == 0
    assert rknn.build(do_quantization=False) == 0
    assert rknn.export_rknn("dual_residual_custom.rknn") == 0
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[np.transpose(in0, (0, 2, 3, 1)), np.transpose(in1, (0, 2, 3, 1))])
    golden = [in0 * 0.75 - in1, in1 * 0.75 - in0]
    for got, want in zip(outputs, golden):
        assert got.shape == want.shape and metrics(got, want)["cosine"] > 0.9999
    assert [v.shape for v in rknn.model.graph.outputs] == [(1, 3, 8, 8)] * 2     # from shape_infer
    other = RKNN()       # a second object registering the same op keeps it past the first's release()
    assert other.reg_custom_op(cstDualResidual()) == 0
    rknn.release()
    assert other.load_onnx(model="dual_residual.onnx") == 0
    other.release()
    again = RKNN()       # released: the registration went with it
    again.config(target_platform="rk3588")
    assert again.load_onnx(model="dual_residual.onnx") != 0


def test_custom_op_between_standard_ops_in_a_quantized_build(tmp_path):
    onnx.save(conv_custom_conv(), str(tmp_path / "m.onnx"))
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 8, 8]], count=6)
    r = RKNN()
    r.config(target_platform="rk3566")
    assert r.reg_custom_op(cstSigmoid()) == 0
    assert r.load_onnx(str(tmp_path / "m.onnx")) == 0
    assert r.build(do_quantization=True, dataset=str(ds)) == 0
    assert r.model.graph.outputs[0].shape == (1, 4, 8, 8)      # shapes flowed through the custom op
    assert r.init_runtime() == 0
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    before = cstSigmoid.calls
    got = r.inference(inputs=[x], data_format="nchw")[0]
    assert cstSigmoid.calls == before + 1                       # the user's compute ran
    ref = ort.InferenceSession(conv_custom_conv("Sigmoid", domain="").SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert metrics(got, ref)["cosine"] > 0.99
    r.release()


def test_custom_op_errors_say_what_to_do(tmp_path, capsys):
    onnx.save(conv_custom_conv(), str(tmp_path / "m.onnx"))
    r = RKNN()
    r.config(target_platform="rk3588")

    class Relu(cstSigmoid):
        op_type = "Relu"

    assert r.reg_custom_op(Relu()) != 0
    assert "name of a built-in op" in capsys.readouterr().out
    assert r.reg_custom_op(object()) != 0
    assert "op_type (str), shape_infer and compute" in capsys.readouterr().out

    class Broken(cstSigmoid):
        def compute(self, node, inputs):
            return []

    assert r.reg_custom_op(Broken()) == 0
    assert r.load_onnx(str(tmp_path / "m.onnx")) == 0
    assert r.build(do_quantization=False) == 0 and r.init_runtime() == 0
    assert r.inference(inputs=[np.zeros((1, 3, 8, 8), np.float32)], data_format="nchw") is None
    assert "compute of custom op 'cstSigmoid' returned no outputs" in capsys.readouterr().out
    r.release()


OP_PY = textwrap.dedent('''
    import numpy as np
    from rknn_diag.api import RKNNCustomOP, IoMap, Shape


    class ReverseChannels(RKNNCustomOP):
        op = 'ReverseChannels'
        def_input = [IoMap('in0', 'in', 'input port 0')]
        def_output = [IoMap('out0', 'out', 'output port 0')]

        def compute_output_shape(self, inputs_shape, params):
            outputs_shape = [Shape() for i in range(len(self.def_output))]
            outputs_shape[0].set_shape(inputs_shape[0].format('nhwc'), fmt='nhwc')
            return outputs_shape

        def compute_output_tensor(self, const_tensor, inputs_tensor, params):
            return [inputs_tensor[0][..., ::-1] * params.get('gain', 1.0)]   # TF layout: channels last
''')


def test_1x_register_op_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    op_dir = tmp_path / "reverse"
    op_dir.mkdir()
    (op_dir / "rknn_op_reverse.py").write_text(OP_PY)
    (op_dir / "op.yml").write_text("name: ReverseChannels\nop_py_file: rknn_op_reverse.py\nop_version: 2\n"
                                   "inputs:\n  input:\n    type: VX_TYPE_TENSOR\n"
                                   "outputs:\n  output:\n    type: VX_TYPE_TENSOR\n"
                                   "target_platform: rv1126\nframework: tensorflow\n")
    (op_dir / "ReverseChannels.rknnop").write_bytes(b"RKNN\0\0\0\0compiled board kernel")
    model = conv_custom_conv("ReverseChannels")
    model.graph.node[1].attribute.append(onnx.helper.make_attribute("gain", 2.0))
    onnx.save(model, "custom_op.onnx")
    rknn = RKNN(verbose=False)
    rknn.config(target_platform=["rv1126"])
    assert rknn.register_op("./reverse/ReverseChannels.rknnop") == 0
    assert rknn.load_onnx(model="custom_op.onnx") == 0
    assert rknn.build(do_quantization=False) == 0
    assert rknn.init_runtime() == 0
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    got = rknn.inference(inputs=[x], data_format="nchw")[0]
    g = onnx.load("custom_op.onnx").graph
    w1, w2 = (onnx.numpy_helper.to_array(t) for t in g.initializer)
    conv1 = ort.InferenceSession(onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
        [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w1, "w1")]), opset_imports=[onnx.helper.make_opsetid("", 13)],
        ir_version=8).SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    s = conv1[:, ::-1] * 2.0                                         # channels reversed (NCHW axis 1)
    want = np.einsum("oc,nchw->nohw", w2[:, :, 0, 0], s)
    assert metrics(got, want)["cosine"] > 0.9999
    rknn.release()


def test_1x_register_op_without_its_python_side_is_refused(tmp_path, capsys):
    (tmp_path / "Exp.rknnop").write_bytes(b"RKNN")
    r = RKNN()
    assert r.register_op(str(tmp_path / "Exp.rknnop")) != 0
    assert "no op.yml next to" in capsys.readouterr().out
