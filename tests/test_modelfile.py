"""The model file: round trip, and every damaged or foreign file refused with its cause."""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures import models
import hashlib

from rknn_diag import modelfile
from rknn_diag.errors import RKNN_ERR_MODEL_INVALID, ModelInvalidError
from rknn_diag.config import parse
from rknn_diag.frontends.onnx_loader import load
from rknn_diag.model import BuiltModel
from rknn_diag.passes import optimize

MODEL = BuiltModel(optimize(load(models.conv_bn_relu())), parse(mean_values=[[1, 2, 3]], std_values=[[4, 5, 6]]),
                   build={"do_quantization": False})
GOOD = modelfile.dumps(MODEL)


def test_round_trip_keeps_everything():
    back = modelfile.loads(GOOD)
    assert back.config == MODEL.config and back.mode == "float16" and back.build == MODEL.build
    assert [n.name for n in back.graph.nodes] == [n.name for n in MODEL.graph.nodes]
    assert back.graph.nodes[0].source == MODEL.graph.nodes[0].source
    for k, v in MODEL.graph.constants.items():
        np.testing.assert_array_equal(back.graph.constants[k], v)
        assert back.graph.constants[k].dtype == v.dtype
    assert modelfile.dumps(back) == GOOD  # deterministic: same model, same bytes


def test_no_pickle_in_the_format():
    assert b"pickle" not in GOOD and b"\x80\x04\x95" not in GOOD


@pytest.mark.parametrize("data,needle", [
    (b"", "empty"),
    (GOOD[:10], "truncated"),
    (GOOD[:-1], "checksum"),
    (b"RKNN\x00\x00\x00\x00" + b"\x00" * 64, "vendor RKNN model file"),
    (b"PK\x03\x04" + b"\x00" * 64, "bad magic"),
], ids=["empty", "short", "last-byte-cut", "vendor", "zip"])
def test_refusals_name_the_cause(data, needle):
    with pytest.raises(ModelInvalidError) as e:
        modelfile.loads(data, "m.rknn")
    assert needle in str(e.value) and "m.rknn" in str(e.value)
    assert e.value.code == RKNN_ERR_MODEL_INVALID


def test_future_version_refused():
    magic, _, head_len = struct.unpack_from("<8sIQ", GOOD)
    data = struct.pack("<8sIQ", magic, modelfile.FORMAT_VERSION + 1, head_len) + GOOD[20:]
    with pytest.raises(ModelInvalidError, match="newer than this toolkit"):
        modelfile.loads(data)


def test_save_is_atomic(tmp_path):
    path = tmp_path / "m.rknn"
    path.write_bytes(b"old")
    modelfile.save(MODEL, path)
    assert path.read_bytes() == GOOD
    assert not list(tmp_path.glob("*.tmp"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_files_only_ever_raise_model_invalid(data):
    """Truncate and flip bytes anywhere: load never raises anything else and never hangs."""
    blob = bytearray(GOOD)
    cut = data.draw(st.integers(0, len(blob)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255)), max_size=4))
    for pos, xor in flips:
        blob[pos] ^= xor
    blob = bytes(blob[:cut]) if data.draw(st.booleans()) else bytes(blob)
    if blob == GOOD:
        return
    with pytest.raises(ModelInvalidError):
        modelfile.loads(blob)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_forged_files_with_valid_checksum_only_ever_raise_model_invalid(data):
    """Damage the header or payload and re-seal the checksum, so the parser itself is
    exercised: it either reads a (different) model or refuses it as invalid."""
    body = bytearray(GOOD[:-32])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(body) - 1))
        body[pos] = data.draw(st.integers(0, 255))
    body = bytes(body[:data.draw(st.integers(20, len(body)))])
    try:
        modelfile.loads(body + hashlib.sha256(body).digest())
    except ModelInvalidError:
        pass
