"""Toolkit 1.x custom ops in a TensorFlow graph, as the vendor's common_function_demos/custom_op
examples use them: `register_op('./<op>/<Name>.rknnop')` with the op's folder (op.yml and the
generated Python file, which imports `from rknn.api import ...` and TensorFlow 1.x's `tf`), then
`load_tensorflow` of a frozen graph holding that TF op. Our own graphs, made with TensorFlow."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from fixtures.datasets import _image
from fixtures.frontends import tf_frozen, tf_run
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

tf = pytest.importorskip("tensorflow", reason="the graphs are made with TensorFlow: pip install tensorflow-cpu")

# rknn_custom_op_resize's Python side, as the vendor ships it (TF 1.x API, rknn.api import)
RESIZE_AREA_PY = textwrap.dedent('''
    import tensorflow as tf
    import numpy as np

    from rknn.api import RKNNCustomOP, IoMap, Shape


    class ResizeArea(RKNNCustomOP):
        op = 'ResizeArea'
        def_input = [IoMap('in0', 'in', 'input port')]
        def_output = [IoMap('out0', 'out', 'output port')]

        def load_params_from_tf(self, node_def, tensor_data_map):
            p = dict()
            p['size'] = tensor_data_map['C:out0'].tolist()
            p['align_corners'] = node_def.attr['align_corners'].b
            return p

        def compute_output_shape(self, inputs_shape, params):
            outputs_shape = [Shape() for i in range(len(self.def_output))]
            in_shape = inputs_shape[0].format('nhwc')
            outputs_shape[0].set_shape(shape=[in_shape[0], *params['size'], in_shape[-1]], fmt='nhwc')
            return outputs_shape

        def compute_output_tensor(self, const_tensor, inputs_tensor, params):
            out = tf.image.resize_area(inputs_tensor[0], size=params['size'], align_corners=params['align_corners'])
            return [out]
''')

# the generator's template, compute left as TODO (rknn_custom_op_math: the compiled kernel computes)
TEMPLATE_PY = textwrap.dedent('''
    from rknn.api import RKNNCustomOP, IoMap, Shape


    class {name}(RKNNCustomOP):
        op = '{name}'
        def_input = [IoMap('in%d' % i, 'in', 'input port') for i in range({n_in})]
        def_output = [IoMap('out0', 'out', 'output port 0')]

        def load_params_from_tf(self, node_def, tensor_data_map):
            return dict()

        def compute_output_shape(self, inputs_shape, params):
            outputs_shape = [Shape() for i in range(len(self.def_output))]
            outputs_shape[0].set_shape(inputs_shape[0].format('nhwc'), fmt='nhwc')
            return outputs_shape

        def compute_output_tensor(self, const_tensor, inputs_tensor, params):
            outputs_tensor = list()
            # TODO: compute outputs tensor
            return outputs_tensor
''')


def op_folder(folder, name: str, py: str, params: str = "") -> str:
    d = folder / name.lower()
    d.mkdir()
    (d / f"rknn_op_{name.lower()}.py").write_text(py)
    (d / "op.yml").write_text(f"name: {name}\nop_py_file: rknn_op_{name.lower()}.py\nop_version: 2\n"
                              f"framework: tensorflow\ntarget_platform: rk1808\n{params}")
    (d / f"{name}.rknnop").write_bytes(b"RKNN\0\0\0\0compiled board kernel")
    return f"./{name.lower()}/{name}.rknnop"


def test_1x_resize_area_custom_op_in_tensorflow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pb, inp, out = tf_frozen(tmp_path, "resize_area_test",
                             lambda x: tf.raw_ops.ResizeArea(images=x, size=[24, 16], align_corners=False),
                             [1, 12, 8, 3])
    rknn = RKNN(verbose=False)
    rknn.config(target_platform=["rv1126"])
    assert rknn.register_op(op_folder(tmp_path, "ResizeArea", RESIZE_AREA_PY,
                                      "params:\n  size:\n    type: VX_TYPE_ARRAY\n"
                                      "  align_corners:\n    type: VX_TYPE_BOOL\n")) == 0
    assert rknn.load_tensorflow(tf_pb=str(pb), inputs=[inp], outputs=[out], input_size_list=[[12, 8, 3]]) == 0
    assert rknn.build(do_quantization=False) == 0
    assert rknn.export_rknn("./resize_area.rknn") == 0
    assert rknn.init_runtime() == 0
    img = _image(np.random.default_rng(3), 12, 8, 3)                      # HWC uint8, as cv2.imread gives
    got = rknn.inference(inputs=[img])[0]
    want = tf_run(pb, inp, out, img[None].astype(np.float32))
    assert got.shape == want.shape == (1, 24, 16, 3)                 # TF's layout, from compute_output_shape
    assert metrics(got, want)["cosine"] > 0.9999 and np.abs(got - want).max() < 0.5
    rknn.release()


def test_1x_template_custom_ops_fall_back_to_the_tf_op_with_a_warning(tmp_path, monkeypatch, capsys):
    """rknn_custom_op_math: TruncateDiv and Exp (a built-in op's name) registered with TODO computes."""
    monkeypatch.chdir(tmp_path)
    pb, inp, out = tf_frozen(tmp_path, "custom_op_math",
                             lambda x: tf.exp(tf.truncatediv(x, tf.constant(7.0))), [1, 64])
    rknn = RKNN(verbose=False)
    rknn.config(target_platform=["rv1126"])
    assert rknn.register_op(op_folder(tmp_path, "TruncateDiv", TEMPLATE_PY.format(name="TruncateDiv", n_in=2))) == 0
    assert rknn.register_op(op_folder(tmp_path, "Exp", TEMPLATE_PY.format(name="Exp", n_in=1))) == 0
    assert rknn.load_tensorflow(tf_pb=str(pb), inputs=[inp], outputs=[out], input_size_list=[[1, 64]]) == 0
    log = capsys.readouterr().out
    for op in ("TruncateDiv", "Exp"):
        assert f"custom op '{op}'" in log and f"runs TensorFlow's own {op} instead" in log
    assert rknn.build(do_quantization=False) == 0
    assert rknn.init_runtime() == 0
    x = np.linspace(-40, 40, 64, dtype=np.float32).reshape(1, 64)     # negatives: truncation, not floor
    got = rknn.inference(inputs=[x])[0]
    want = tf_run(pb, inp, out, x)
    assert metrics(got, want)["cosine"] > 0.9999
    assert np.allclose(got, want, rtol=2e-3)                          # float16 build
    rknn.release()


def _resize_area_1x(tmp_path, monkeypatch):
    """A frozen TF graph of one ResizeArea (8x8 -> 16x16) and a toolkit 1.x (rv1126) RKNN."""
    monkeypatch.chdir(tmp_path)
    pb, inp, out = tf_frozen(tmp_path, "resize_area_test",
                             lambda x: tf.raw_ops.ResizeArea(images=x, size=[16, 16], align_corners=False),
                             [1, 8, 8, 3])
    rknn = RKNN()
    rknn.config(target_platform=["rv1126"])
    return rknn, pb, inp, out


def test_1x_template_custom_op_without_a_tf_lowering_is_refused(tmp_path, monkeypatch, capsys):
    rknn, pb, inp, out = _resize_area_1x(tmp_path, monkeypatch)
    assert rknn.register_op(op_folder(tmp_path, "ResizeArea", TEMPLATE_PY.format(name="ResizeArea", n_in=1))) == 0
    assert rknn.load_tensorflow(tf_pb=str(pb), inputs=[inp], outputs=[out], input_size_list=[[8, 8, 3]]) != 0
    log = capsys.readouterr().out
    assert "compute_output_tensor returns no outputs" in log and "implement compute_output_tensor" in log
    rknn.release()


def test_1x_custom_op_model_on_a_board_is_refused_before_running(tmp_path, monkeypatch, capsys):
    rknn, pb, inp, out = _resize_area_1x(tmp_path, monkeypatch)
    assert rknn.register_op(op_folder(tmp_path, "ResizeArea", RESIZE_AREA_PY)) == 0
    assert rknn.load_tensorflow(tf_pb=str(pb), inputs=[inp], outputs=[out], input_size_list=[[8, 8, 3]]) == 0
    assert rknn.build(do_quantization=False) == 0
    assert rknn.init_runtime(target="rv1126") != 0
    log = capsys.readouterr().out
    assert "custom op(s) ['ResizeArea']" in log and "init_runtime() without a target" in log
    rknn.release()
