"""Model checks: ONNX, PyTorch archives, Caffe prototxts, TensorFlow graphs, file names."""

from __future__ import annotations

import pytest

from fixtures.doctor import models
from rknn_diag.ops import registry

from .conftest import run, statuses


# --- ONNX ---

def test_onnx_load(make_ctx, tmp_path):
    good = models.conv_model(tmp_path / "m.onnx")
    assert statuses(make_ctx(models=[good]), "model.onnx.load") == ["ok"]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff not a protobuf")
    [f] = run(make_ctx(models=[bad]), "model.onnx.load")
    assert f.status == "error" and "bad.onnx" in f.message


@pytest.mark.parametrize("toolkit, opset, ir, expected", [
    ("1.4.0", 9, 4, "ok"), ("1.4.0", 13, 4, "error"), ("1.4.0", 9, 7, "error"), ("1.1.0", 9, 3, "error"),
    ("2.5.0", 19, 8, "ok"), ("2.5.0", 21, 8, "error")])
def test_onnx_opset_ir(make_ctx, tmp_path, toolkit, opset, ir, expected):
    m = models.conv_model(tmp_path / "m.onnx", opset=opset, ir_version=ir)
    assert statuses(make_ctx(models=[m], toolkit_version=toolkit), "model.onnx.opset_ir") == [expected]


@pytest.fixture
def test_ops(monkeypatch):
    """A registry holding exactly two test kernels, whatever the build registers."""
    registry._load_all()   # real kernel modules register into the real dict first
    monkeypatch.setattr(registry, "_REGISTRY", {})

    @registry.register("Conv", values={"group": (1,)})
    def conv(x, w, b=None, *, kernel_shape=None, strides=None, pads=None, dilations=None, group=1, auto_pad="NOTSET"):
        """test conv"""

    @registry.register("Relu")
    def relu(x):
        """test relu"""

    @registry.register("Identity", dtypes=registry.ANY)
    def identity(x):
        """test identity"""


def test_onnx_ops_ok(make_ctx, tmp_path, test_ops):
    m = models.conv_model(tmp_path / "m.onnx")
    assert statuses(make_ctx(models=[m]), "model.onnx.ops") == ["ok"]


def test_onnx_ops_unsupported_op(make_ctx, tmp_path, test_ops):
    m = models.conv_model(tmp_path / "m.onnx", extra_op="Sigmoid")
    [f] = run(make_ctx(models=[m]), "model.onnx.ops")
    assert f.status == "error" and "'extra': Sigmoid" in f.message


def test_onnx_ops_unsupported_attribute_value(make_ctx, tmp_path, test_ops):
    m = models.conv_model(tmp_path / "m.onnx", cin=4, group=2)
    [f] = run(make_ctx(models=[m]), "model.onnx.ops")
    assert f.status == "error" and "group=2" in f.message and "'conv'" in f.message


def test_onnx_ops_skips_on_an_empty_registry(make_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "supported_ops", lambda: {})
    m = models.conv_model(tmp_path / "m.onnx")
    assert statuses(make_ctx(models=[m]), "model.onnx.ops") == ["skip"]


def test_onnx_dynamic(make_ctx, tmp_path):
    fixed = models.conv_model(tmp_path / "f.onnx")
    assert statuses(make_ctx(models=[fixed]), "model.onnx.dynamic") == ["ok"]
    dyn = models.conv_model(tmp_path / "d.onnx", dynamic_batch=True)
    [f] = run(make_ctx(models=[dyn]), "model.onnx.dynamic")
    assert f.status == "warn" and "x ['?', 3, 16, 16]" in f.message and "input_size_list" in f.fix


# --- PyTorch ---

def test_pytorch_archive(make_ctx, tmp_path):
    assert statuses(make_ctx(models=[models.torchscript(tmp_path / "net.pt")]), "model.pytorch.archive") == ["ok"]
    [f] = run(make_ctx(models=[models.weights_only(tmp_path / "w.pth")]), "model.pytorch.archive")
    assert f.status == "error" and "weights only" in f.message and "torch.jit.trace" in f.fix
    [f] = run(make_ctx(models=[models.not_a_zip(tmp_path / "old.pt")]), "model.pytorch.archive")
    assert f.status == "error" and "not a zip" in f.message


def test_pytorch_view_size(make_ctx, tmp_path):
    ok_ = models.torchscript(tmp_path / "ok.pt")
    assert statuses(make_ctx(models=[ok_]), "model.pytorch.view_size") == ["ok"]
    bad = models.torchscript(tmp_path / "bad.pt", models.TRACED_VIEW_SIZE)
    [f] = run(make_ctx(models=[bad]), "model.pytorch.view_size")
    assert f.status == "error" and "code/__torch__.py:5" in f.message and "int(x.size(0))" in f.fix


def test_pytorch_view_size_skips_weights_only(make_ctx, tmp_path):
    assert statuses(make_ctx(models=[models.weights_only(tmp_path / "w.pth")]), "model.pytorch.view_size") == ["skip"]


# --- Caffe ---

CAFFE_CASES = [
    ("model.caffe.input", models.DEPRECATED_INPUT, "input"),
    ("model.caffe.round_mode", models.ROUND_MODE, "round_mode"),
    ("model.caffe.scope_names", models.BAD_SCOPE, "_plus0_17"),
    ("model.caffe.detection_output", models.DETECTION_OUTPUT, "detection_out"),
    ("model.caffe.proposal", models.proposal(models.PROPOSAL_FIELDS.replace("    min_size: 16\n", "")), "min_size"),
    ("model.caffe.proposal", models.PYTHON_PROPOSAL, "Python layer"),
    ("model.caffe.layer_version", models.V1_LAYERS, "V1"),
    ("model.caffe.layer_version", models.V0_LAYERS, "V0"),
    ("model.caffe.parse", models.BROKEN_PROTOTXT, "missing '}'"),
]


@pytest.mark.parametrize("check_id", sorted({c for c, _, _ in CAFFE_CASES}))
def test_caffe_good_prototxt_passes(make_ctx, tmp_path, check_id):
    m = models.write(tmp_path / "net.prototxt", models.GOOD_PROTOTXT)
    assert statuses(make_ctx(models=[m]), check_id) == ["ok"]


def test_caffe_complete_proposal_passes(make_ctx, tmp_path):
    m = models.write(tmp_path / "net.prototxt", models.proposal())
    [f] = run(make_ctx(models=[m]), "model.caffe.proposal")
    assert f.status == "ok" and "1 proposal" in f.message


@pytest.mark.parametrize("check_id, text, needle", CAFFE_CASES, ids=[f"{c}-{n}" for c, _, n in CAFFE_CASES])
def test_caffe_bad_prototxt_fails(make_ctx, tmp_path, check_id, text, needle):
    m = models.write(tmp_path / "net.prototxt", text)
    [f] = run(make_ctx(models=[m]), check_id)
    assert f.status == "error" and needle in f.message


# --- TensorFlow ---

def test_tf_explicit_paddings(make_ctx, tmp_path):
    plain = models.tf_graph(tmp_path / "old.pb")
    assert statuses(make_ctx(models=[plain], toolkit_version="1.4.0"), "model.tf.explicit_paddings") == ["ok"]
    new = models.tf_graph(tmp_path / "new.pb", explicit_paddings=True)
    [f] = run(make_ctx(models=[new], toolkit_version="1.4.0"), "model.tf.explicit_paddings")
    assert f.status == "error" and "conv" in f.message
    assert statuses(make_ctx(models=[new], toolkit_version="2.5.0"), "model.tf.explicit_paddings") == ["ok"]


def test_tf_explicit_paddings_against_installed_tensorflow(make_ctx, tmp_path):
    from fixtures.doctor import envs
    s = envs.site(tmp_path / "s", {"tensorflow": "1.13.2"})
    new = models.tf_graph(tmp_path / "new.pb", explicit_paddings=True)
    [f] = run(make_ctx(models=[new], sys_path=[str(s)]), "model.tf.explicit_paddings")
    assert f.status == "error" and "tensorflow 1.13.2" in f.message


def test_tf_not_a_graph(make_ctx, tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\xff\xff\xff\xff\xff")
    assert statuses(make_ctx(models=[bad]), "model.tf.explicit_paddings") == ["error"]


def test_tf_dilated_conv(make_ctx, tmp_path):
    atrous = models.tf_graph(tmp_path / "atrous.pb", atrous=True)
    assert statuses(make_ctx(models=[atrous], toolkit_version="1.4.0"), "model.tf.dilated_conv") == ["ok"]
    dilated = models.tf_graph(tmp_path / "dil.pb", dilations=(1, 2, 2, 1))
    [f] = run(make_ctx(models=[dilated], toolkit_version="1.4.0"), "model.tf.dilated_conv")
    assert f.status == "error" and "[1, 2, 2, 1]" in f.message and "atrous_conv2d" in f.fix


# --- file names ---

@pytest.mark.parametrize("name, toolkit, expected", [
    ("mobilenet_v1.onnx", "1.2.0", "ok"), ("mobilenet-v1.onnx", "1.2.0", "error"),
    ("mobilenet-v1.onnx", "1.3.0", "ok"), ("mobilenet v1.onnx", None, "warn")])
def test_name_chars(make_ctx, tmp_path, name, toolkit, expected):
    m = models.conv_model(tmp_path / name)
    assert statuses(make_ctx(models=[m], toolkit_version=toolkit), "model.name_chars") == [expected]


# --- the files themselves ---

def test_model_files(make_ctx, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx")
    assert statuses(make_ctx(models=[m]), "model.files") == ["ok"]
    odd = tmp_path / "m.rknn"
    odd.write_bytes(b"RKNN")
    assert statuses(make_ctx(models=[m, odd, tmp_path / "gone.onnx"]), "model.files") == ["ok", "warn", "error"]


def test_missing_model_is_reported_once_not_as_a_broken_archive(make_ctx, tmp_path):
    ctx = make_ctx(models=[tmp_path / "gone.pt"])
    assert statuses(ctx, "model.files") == ["error"]
    assert statuses(ctx, "model.pytorch.archive") == ["skip"]


def test_tflite_schema(make_ctx, tmp_path):
    assert statuses(make_ctx(models=[models.tflite(tmp_path / "ok.tflite")]), "model.tflite.schema") == ["ok"]
    [f] = run(make_ctx(models=[models.tflite(tmp_path / "new.tflite", version=4)]), "model.tflite.schema")
    assert f.status == "error" and "schema version 4" in f.message
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"abc")
    assert statuses(make_ctx(models=[junk]), "model.tflite.schema") == ["error"]
