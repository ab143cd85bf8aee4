"""Performance advice (guide chapter 6) over generated ONNX models."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.doctor import models

from .conftest import run, statuses


def test_kernel_size_3x3_ok(make_ctx, tmp_path):
    assert statuses(make_ctx(models=[models.conv_model(tmp_path / "m.onnx")]), "perf.kernel_size") == ["ok"]


def test_kernel_size_not_3x3_warns(make_ctx, tmp_path):
    [f] = run(make_ctx(models=[models.conv_model(tmp_path / "m.onnx", k=5)]), "perf.kernel_size")
    assert f.status == "warn" and "'conv' 5x5" in f.message


@pytest.mark.parametrize("k, stride, beyond", [(11, 1, True), (13, 2, False), (23, 2, True)])
def test_kernel_size_beyond_11_stride_minus_1(make_ctx, tmp_path, k, stride, beyond):
    found = run(make_ctx(models=[models.conv_model(tmp_path / "m.onnx", k=k, stride=stride, hw=32)]), "perf.kernel_size")
    assert any("beyond 11*stride-1" in f.message for f in found) == beyond
    assert {f.status for f in found} == {"warn"}


FUSABLE = [dict(kernel_shape=[2, 2], strides=[2, 2]), dict(kernel_shape=[3, 3], strides=[2, 2])]
NOT_FUSABLE = [
    (dict(kernel_shape=[2, 2], strides=[1, 1]), 16, "stride 1x1"),
    (dict(kernel_shape=[4, 4], strides=[2, 2]), 16, "pool size 4x4"),
    (dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1]), 16, "padding"),
    (dict(kernel_shape=[2, 2], strides=[2, 2]), 15, "not even"),
    (dict(kernel_shape=[3, 3], strides=[2, 2]), 16, "not odd"),
    (dict(kernel_shape=[3, 3], strides=[2, 2]), 65, "8-bit mode"),
]


@pytest.mark.parametrize("pool, hw", [(FUSABLE[0], 16), (FUSABLE[1], 15)])
def test_fusion_ok(make_ctx, tmp_path, pool, hw):
    m = models.conv_model(tmp_path / "m.onnx", hw=hw, post=("BatchNormalization", "Relu"), pool=pool)
    assert statuses(make_ctx(models=[m]), "perf.fusion") == ["ok"]


@pytest.mark.parametrize("pool, hw, why", NOT_FUSABLE, ids=[w for _, _, w in NOT_FUSABLE])
def test_fusion_pool_rules(make_ctx, tmp_path, pool, hw, why):
    m = models.conv_model(tmp_path / "m.onnx", hw=hw, pool=pool)
    [f] = run(make_ctx(models=[m]), "perf.fusion")
    assert f.status == "warn" and why in f.message


def test_fusion_relu_not_after_conv(make_ctx, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx", post=("AddRelu",))
    [f] = run(make_ctx(models=[m]), "perf.fusion")
    assert f.status == "warn" and "'relu_after_add' after Add" in f.message


def test_depthwise_plain_ok(make_ctx, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx", cin=8, cout=8, group=8, post=())
    [f] = run(make_ctx(models=[m]), "perf.depthwise")
    assert f.status == "ok" and "1 depthwise" in f.message


@pytest.mark.parametrize("post, needle", [(("Relu6",), "ReLU6"), (("BatchNormalization",), "BatchNormalization"),
                                          (("Relu",), "Relu")])
def test_depthwise_followed_by_bn_or_activation(make_ctx, tmp_path, post, needle):
    m = models.conv_model(tmp_path / "m.onnx", cin=8, cout=8, group=8, post=post)
    [f] = run(make_ctx(models=[m]), "perf.depthwise")
    assert f.status == "warn" and needle in f.message


def test_regular_conv_with_relu6_is_not_depthwise_advice(make_ctx, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx", post=("Relu6",))
    assert statuses(make_ctx(models=[m]), "perf.depthwise") == ["ok"]


def test_out_channels(make_ctx, tmp_path):
    m8 = models.conv_model(tmp_path / "m8.onnx", cout=16)
    m10 = models.conv_model(tmp_path / "m10.onnx", cout=10)
    assert statuses(make_ctx(models=[m8]), "perf.out_channels") == ["skip"]
    assert statuses(make_ctx(models=[m8], npu_conv_kernels=8), "perf.out_channels") == ["ok"]
    [f] = run(make_ctx(models=[m10], npu_conv_kernels=8), "perf.out_channels")
    assert f.status == "warn" and "'conv' 10" in f.message


def test_sparsity(make_ctx, tmp_path):
    dense = models.conv_model(tmp_path / "dense.onnx")
    assert statuses(make_ctx(models=[dense]), "perf.sparsity") == ["ok"]
    w = np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32)
    w[:4] *= 1e-5   # half the filters are near zero but not zero
    sparse = models.conv_model(tmp_path / "sparse.onnx", weight=w)
    [f] = run(make_ctx(models=[sparse]), "perf.sparsity")
    assert f.status == "warn" and "'conv' 50%" in f.message
    w[:4] = 0       # already exactly zero: nothing more to gain
    pruned = models.conv_model(tmp_path / "pruned.onnx", weight=w)
    assert statuses(make_ctx(models=[pruned]), "perf.sparsity") == ["ok"]
