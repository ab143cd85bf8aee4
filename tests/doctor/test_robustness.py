"""Bad input never crashes a check: garbage model files, prototxts and graphs end as findings."""

from __future__ import annotations

import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.doctor import models
from rknn_diag.doctor import prototxt
from rknn_diag.doctor.checks.model_files import tflite_schema
from rknn_diag.doctor.core import Context, all_checks, run_one

MODEL_CHECKS = [c for c in all_checks().values() if c.category in ("models", "performance")]
SUFFIXES = (".onnx", ".pt", ".pth", ".prototxt", ".pb", ".tflite")
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _no_crash(path):
    ctx = Context(models=[path], sys_path=[], environ={}, board_facts_provider=lambda c: [])
    for c in MODEL_CHECKS:
        for f in run_one(c, ctx):
            assert f.status != "crash", f"{c.id} crashed on {path.name}: {f.detail}"


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_never_crash_a_model_check(tmp_path, data, suffix):
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(data)
    _no_crash(p)


@FUZZ
@given(names=st.lists(st.sampled_from(["m/code/__torch__.py", "m/data.pkl", "m/constants.pkl", "m/code/x.py",
                                       "m/data/0", "code/y.py", "weird"]), max_size=5),
       text=st.text(max_size=200))
def test_random_archives_never_crash(tmp_path, names, text):
    p = tmp_path / "fuzz.pt"
    with zipfile.ZipFile(p, "w") as z:
        for n in dict.fromkeys(names):
            z.writestr(n, text)
    _no_crash(p)


def test_a_damaged_torchscript_member_is_reported_not_crashed(tmp_path):
    p = models.torchscript(tmp_path / "m.pt", models.TRACED_VIEW_SIZE * 20)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("m/code/__torch__.py")
    start = info.header_offset + 30 + len(info.filename)
    raw[start + 5] ^= 0xFF      # break the member's bytes: its CRC no longer matches
    p.write_bytes(bytes(raw))
    ctx = Context(models=[p], sys_path=[], environ={}, board_facts_provider=lambda c: [])
    found = run_one(all_checks()["model.pytorch.view_size"], ctx)
    assert [f.status for f in found] == ["warn"] and "damaged" in found[0].message


@FUZZ
@given(st.text(alphabet='layer{}<>:;,[]"\'#\n name: type 1.5 -x_/', max_size=200))
def test_prototxt_reader_raises_only_its_own_error(text):
    try:
        prototxt.parse(text)
    except prototxt.PrototxtError:
        pass


@FUZZ
@given(st.binary(max_size=64))
def test_tflite_reader_raises_only_value_or_struct_errors(data):
    import struct
    try:
        tflite_schema(data)
    except (ValueError, struct.error):
        pass


def test_malformed_onnx_is_reported_by_the_load_check_and_crashes_nothing(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    bad = helper.make_node("Relu", [], ["y"], name="relu_without_input")
    g = helper.make_graph([bad], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    p = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(p))
    ctx = Context(models=[p], sys_path=[], environ={}, board_facts_provider=lambda c: [])
    [f] = run_one(all_checks()["model.onnx.load"], ctx)
    assert f.status == "warn" and "checker rejects" in f.message
    _no_crash(p)
