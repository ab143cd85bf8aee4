"""rknn_diag.utils.onnx_edit in the shape of toolkit2's functions/onnx_edit example: inputs and
outputs reshaped/transposed by equations, the dataset converted with them, both models built."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fixtures.datasets import npy_dataset
from fixtures.dropin import concat_block
from rknn_diag.api import RKNN
from rknn_diag.errors import ConfigError
from rknn_diag.utils import onnx_edit
from rknn_diag.utils.onnx_transform import parse


def _run(path, feeds):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def test_onnx_edit_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    onnx.save(concat_block(), "concat_block.onnx")
    ds = npy_dataset(tmp_path, [[2, 4, 3, 5], [2, 4, 1, 5]], count=4)
    assert ds.name == "dataset.txt"
    rknn = RKNN(verbose=True)
    rknn.config(target_platform="rk3588")
    assert rknn.load_onnx("./concat_block.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./concat_block.rknn") == 0

    ret = onnx_edit(model="./concat_block.onnx", export_path="./concat_block_edited.onnx",
                    inputs_transform={"k_cache.1": "a,b,c,d->1,ad,b,c"},
                    outputs_transform={"k_cache": "a,b,c,d->1,ab,c,d"}, dataset="./dataset.txt")
    assert ret == 0
    rng = np.random.default_rng(3)
    cache, k = rng.standard_normal((2, 4, 3, 5)).astype(np.float32), rng.standard_normal((2, 4, 1, 5)).astype(np.float32)
    want = _run("concat_block.onnx", {"k_cache.1": cache, "k": k}).reshape(1, 8, 4, 5)
    edited_in = cache.transpose(0, 3, 1, 2).reshape(1, 10, 4, 3)                 # a,b,c,d -> 1,ad,b,c
    got = _run("concat_block_edited.onnx", {"k_cache.1": edited_in, "k": k})
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # the dataset went through the same input transform
    line = open("dataset_for_concat_block_edited.txt").read().split("\n")[0].split()
    first = open("dataset.txt").read().split("\n")[0].split()
    np.testing.assert_array_equal(np.load(line[0]), np.load(first[0]).transpose(0, 3, 1, 2).reshape(1, 10, 4, 3))
    np.testing.assert_array_equal(np.load(line[1]), np.load(first[1]))

    rknn = RKNN(verbose=True)
    rknn.config(target_platform="rk3588")
    assert rknn.load_onnx("./concat_block_edited.onnx") == 0
    assert rknn.build(do_quantization=True, dataset="./dataset_for_concat_block_edited.txt") == 0
    assert rknn.export_rknn("./concat_block_edited.rknn") == 0
    assert rknn.init_runtime() == 0
    out = rknn.inference(inputs=[edited_in, k], data_format=["nchw", "nchw"])[0]
    assert out.shape == (1, 8, 4, 5) and np.corrcoef(out.ravel(), want.ravel())[0, 1] > 0.99


@pytest.mark.parametrize("eq,shape,x_to_y", [
    ("a,b,c->a,b,1,c", [2, 3, 4], lambda x: x.reshape(2, 3, 1, 4)),
    ("a,b,c,d->a,d,b,c", [1, 2, 3, 4], lambda x: x.transpose(0, 3, 1, 2)),
    ("a,bc,de,f[b=2,d=4]->ab,fe,dc,1", [1, 6, 8, 3],
     lambda x: x.reshape(1, 2, 3, 4, 2, 3).transpose(0, 1, 5, 4, 3, 2).reshape(2, 6, 12, 1)),
])
def test_equations_follow_the_documented_examples(eq, shape, x_to_y):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    np.testing.assert_array_equal(parse(eq, shape, "t").forward(x), x_to_y(x))


@pytest.mark.parametrize("eq,needle", [
    ("a,b,c->a,b", "every left letter once"),
    ("a,b->a,b", "has 2 dims"),
    ("ab,c,d[a=5]->a,b,c,d", "cannot be split"),
    ("a,B,c->a", "not '<dims> -> <dims>'"),
])
def test_bad_equations_are_refused(eq, needle):
    with pytest.raises(ConfigError, match=needle):
        parse(eq, [6, 2, 3], "t")
