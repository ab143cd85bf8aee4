"""Model files edited by hand with the checksum recomputed (anyone can): every edit that would
run differently or fail later is refused at load_rknn with RKNN_ERR_MODEL_INVALID; never run."""

import hashlib
import json
import struct

import onnx
import pytest

from fixtures import models
from fixtures.datasets import npy_dataset
from rknn_diag import modelfile
from rknn_diag.api import RKNN
from rknn_diag.errors import RKNN_ERR_MODEL_INVALID, ModelInvalidError

_PREFIX = struct.Struct("<8sIQ")


def _export(tmp_path, quantized: bool) -> bytes:
    src = tmp_path / "m.onnx"
    onnx.save(models.conv_bn_relu(), str(src))
    r = RKNN()
    assert r.config(mean_values=[[123.7, 116.3, 103.5]], std_values=[[58.4, 57.1, 57.4]],
                    target_platform="rk3588") == 0
    assert r.load_onnx(str(src)) == 0
    ds = npy_dataset(tmp_path / "ds", [[1, 3, 8, 8]], count=4) if quantized else None
    assert r.build(do_quantization=quantized, dataset=str(ds) if ds else None) == 0
    out = tmp_path / "m.rknn"
    assert r.export_rknn(str(out)) == 0
    return out.read_bytes()


def _split(blob: bytes) -> tuple[int, dict, bytes]:
    _, version, n = _PREFIX.unpack_from(blob)
    return version, json.loads(blob[_PREFIX.size:_PREFIX.size + n]), blob[_PREFIX.size + n:-32]


def _seal(header: dict | str, payload: bytes, version: int = modelfile.FORMAT_VERSION) -> bytes:
    head = (header if isinstance(header, str) else json.dumps(header)).encode()
    body = _PREFIX.pack(modelfile.MAGIC, version, len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def _edit(fn):
    def forge(blob):
        version, h, payload = _split(blob)
        out = fn(h)
        return _seal(out if out is not None else h, payload, version)
    return forge


def _set_mode(m):
    def f(h):
        h["mode"] = m
    return f


def _duplicate_mode(blob):
    version, h, payload = _split(blob)
    text = json.dumps(h)
    return _seal(text[:-1] + ', "mode": "float16"}', payload, version)


def _version(v):
    def forge(blob):
        _, h, payload = _split(blob)
        return _seal(h, payload, v)
    return forge


def _swap_dtype(h):
    name = next(iter(h["quant"]["tensors"]))
    h["quant"]["tensors"][name]["dtype"] = "uint8"


def _both_modes(h):       # header and table agree on u8, the parameters are w8a8's int8
    h["mode"] = h["quant"]["mode"] = "asymmetric_quantized-u8"


def _quant_on_float(h):
    h["quant"] = {"mode": "w8a8", "tensors": {"x": {"scale": 1.0, "zero_point": 0, "dtype": "int8"}}}


def _drop_quant(h):
    h["quant"] = {}


def _no_outputs(h):
    h["graph"]["outputs"] = []


def _dangling(h):
    h["graph"]["nodes"][0]["inputs"][0] = "ghost"


def _reverse(h):
    h["graph"]["nodes"].reverse()
    if len(h["graph"]["nodes"]) < 2:
        h["graph"]["nodes"].append(dict(h["graph"]["nodes"][0], name="extra", inputs=["ghost2"], outputs=["z"]))


def _huge_dim(h):
    h["graph"]["inputs"][0]["shape"] = [1, 3, 2 ** 31, 8]


def _bad_attr(h):
    h["graph"]["nodes"][0]["attrs"]["bogus"] = 1


def _unknown_op(h):
    h["graph"]["nodes"][0]["op"] = "NotAnOp"


def _batch_zero(h):
    h["rknn_batch_size"] = 0


def _negative_scale(h):
    name = next(iter(h["quant"]["tensors"]))
    h["quant"]["tensors"][name]["scale"] = -1.0


def _ghost_params(h):
    h["quant"]["tensors"]["ghost"] = next(iter(h["quant"]["tensors"].values()))


FLOAT = {
    "bogus-mode": (_edit(_set_mode("float8")), "unknown model mode 'float8'"),
    "numeric-mode": (_edit(_set_mode(8)), "unknown model mode 8"),
    "duplicated-mode": (_duplicate_mode, "appears twice"),
    "version-0": (_version(0), "format 0 does not exist"),
    "float-says-quantized": (_edit(_set_mode("w8a8")), "quantization table says None"),
    "float-carries-quant": (_edit(_quant_on_float), "float16 model file carries quantization"),
    "no-outputs": (_edit(_no_outputs), "no outputs"),
    "dangling-name": (_edit(_dangling), "dangling"),
    "dim-2^31": (_edit(_huge_dim), "dimension 2147483648"),
    "bad-attribute": (_edit(_bad_attr), "attribute 'bogus'"),
    "unknown-op": (_edit(_unknown_op), "NotAnOp"),
    "batch-0": (_edit(_batch_zero), "rknn_batch_size 0"),
}
QUANT = {
    "quantized-says-float": (_edit(_set_mode("float16")), "float16 model file carries quantization"),
    "mode-disagrees-with-table": (_edit(_set_mode("asymmetric_quantized-u8")), "quantization table says 'w8a8'"),
    "both-modes-edited": (_edit(_both_modes), "which a asymmetric_quantized-u8 model does not use"),
    "dtype-swapped": (_edit(_swap_dtype), "'uint8', which a w8a8 model does not use"),
    "table-dropped": (_edit(_drop_quant), "quantization table says None"),
    "negative-scale": (_edit(_negative_scale), "positive finite"),
    "params-for-a-ghost": (_edit(_ghost_params), "'ghost', which the graph does not have"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return {False: _export(tmp_path_factory.mktemp("f"), False), True: _export(tmp_path_factory.mktemp("q"), True)}


@pytest.mark.parametrize("case", sorted(FLOAT) + sorted(QUANT))
def test_forged_model_file_refused_at_load(case, files, tmp_path, capsys):
    quantized = case in QUANT
    forge, needle = (QUANT if quantized else FLOAT)[case]
    path = tmp_path / f"{case}.rknn"
    path.write_bytes(forge(files[quantized]))
    r = RKNN()
    capsys.readouterr()
    assert r.load_rknn(str(path)) == RKNN_ERR_MODEL_INVALID
    out = capsys.readouterr().out
    assert needle in out and str(path) in out and "internal error" not in out, out
    assert isinstance(r.last_error, ModelInvalidError)
    assert r.init_runtime() != 0          # nothing loaded, nothing runs


@pytest.mark.parametrize("quantized", [False, True])
def test_unedited_files_resealed_still_load_and_run(quantized, files, tmp_path):
    """The forging itself changes nothing: a re-sealed untouched file loads and runs."""
    path = tmp_path / "same.rknn"
    path.write_bytes(_edit(lambda h: None)(files[quantized]))
    r = RKNN()
    assert r.load_rknn(str(path)) == 0 and r.init_runtime() == 0
    import numpy as np
    out = r.inference(inputs=[np.random.default_rng(0).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)])
    assert out is not None and out[0].shape == (1, 8, 8, 8)
