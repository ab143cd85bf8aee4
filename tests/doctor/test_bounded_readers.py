"""The doctor's readers are bounded: a hostile prototxt or archive ends as a finding within
512 MB of memory (enforced with RLIMIT_AS in a child process), never a MemoryError or a hang."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from fixtures.doctor import models
from rknn_diag.doctor import prototxt
from rknn_diag.doctor.core import Context, all_checks, run_one

ROOT = Path(__file__).resolve().parents[2]


def _under_512mb(code: str) -> str:
    """Run `code` in a child limited to 512 MB of address space; return what it printed."""
    prog = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    """) + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_unterminated_string_in_a_30mb_line_is_refused_within_512mb():
    out = _under_512mb("""
        from rknn_diag.doctor import prototxt
        text = 'name: "' + 'a' * (30 << 20)
        try:
            prototxt.parse(text, "big.prototxt")
        except prototxt.PrototxtError as e:
            print("refused:", e)
    """)
    assert "refused: unterminated string (at big.prototxt:1)" in out


def test_millions_of_valid_fields_are_refused_within_512mb():
    out = _under_512mb("""
        from rknn_diag.doctor import prototxt
        text = 'a: 1\\n' * (1 << 20)          # 4 MB, 1 M fields: under the byte cap, over the field cap
        try:
            prototxt.parse(text, "many.prototxt")
        except prototxt.PrototxtError as e:
            print("refused:", e)
    """)
    assert f"refused: over {prototxt.MAX_FIELDS} fields" in out


def test_a_file_over_the_byte_cap_is_refused_without_reading_it_whole(tmp_path):
    p = tmp_path / "huge.prototxt"
    with open(p, "wb") as f:
        f.truncate(prototxt.MAX_BYTES + 10)
    with pytest.raises(prototxt.PrototxtError, match="over 32 MiB"):
        prototxt.read(p)


def test_deep_nesting_is_a_prototxt_error_not_a_recursion_crash():
    with pytest.raises(prototxt.PrototxtError, match="nested"):
        prototxt.parse("a {" * 5000 + "}" * 5000)


def test_escapes_and_single_quotes_still_read():
    msg = prototxt.parse("name: 'it\\'s' \ntype: \"a\\\"b\" # c\nlayer { top: x }")
    assert msg.get("name") == "it's" and msg.get("type") == 'a"b' and msg.messages("layer")[0].line == 3


def _bomb(path: Path, inflated: int, declared: int | None = None) -> Path:
    """A TorchScript-shaped archive whose code member inflates to `inflated` bytes; with
    `declared`, both headers claim that size instead (the CRC is left as it is)."""
    models.torchscript(path)
    top = path.stem
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(f"{top}/code/bomb.py", "w", force_zip64=True) as f:
            chunk = b"x.view(torch.size(x, 0), -1)\n" + b" " * (1 << 20)
            for _ in range(inflated // len(chunk)):
                f.write(chunk)
    if declared is not None:
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(f"{top}/code/bomb.py")
        name = info.filename.encode()
        local = info.header_offset
        raw[local + 22:local + 26] = declared.to_bytes(4, "little")    # local header: uncompressed size
        idx = raw.find(b"PK\x01\x02")
        while raw[idx + 46:idx + 46 + len(name)] != name:
            idx = raw.find(b"PK\x01\x02", idx + 4)
        raw[idx + 24:idx + 28] = declared.to_bytes(4, "little")        # central directory: the same
        path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("declared", [None, 1000], ids=["honest-size", "lying-size"])
def test_zip_member_that_inflates_past_the_cap_is_reported_within_512mb(tmp_path, declared):
    p = _bomb(tmp_path / "bomb.pt", 600 << 20, declared)
    assert p.stat().st_size < 4 << 20
    out = _under_512mb(f"""
        from pathlib import Path
        from rknn_diag.doctor.core import Context, all_checks, run_one
        ctx = Context(models=[Path({str(p)!r})], sys_path=[], environ={{}}, board_facts_provider=lambda c: [])
        for f in run_one(all_checks()["model.pytorch.view_size"], ctx):
            print(f.status, f.message)
    """)
    assert out.startswith("warn ") and "bomb.py" in out and "crash" not in out


def test_bzip2_members_are_not_inflated(tmp_path):
    p = models.torchscript(tmp_path / "m.pt")
    with zipfile.ZipFile(p, "a", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr(f"{p.stem}/code/b.py", "x = 1\n")
    ctx = Context(models=[p], sys_path=[], environ={}, board_facts_provider=lambda c: [])
    found = run_one(all_checks()["model.pytorch.view_size"], ctx)
    assert [f.status for f in found] == ["warn"] and "code/b.py (NotImplementedError)" in found[0].message


@pytest.mark.parametrize("suffix,check", [(".onnx", "model.onnx.load"), (".pb", "model.tf.explicit_paddings")])
def test_protobuf_models_over_the_cap_are_reported_not_parsed(tmp_path, suffix, check):
    from rknn_diag.doctor.modelinfo import MAX_GRAPH_BYTES
    p = tmp_path / f"huge{suffix}"
    with open(p, "wb") as f:
        f.truncate(MAX_GRAPH_BYTES + 1)       # sparse: costs no disk
    ctx = Context(models=[p], sys_path=[], environ={}, board_facts_provider=lambda c: [])
    found = run_one(all_checks()[check], ctx)
    assert found and all(f.status != "crash" for f in found)
    assert any("over the 256 MiB" in f.message for f in found), [f.message for f in found]


def test_a_huge_tflite_is_mapped_not_read(tmp_path):
    p = tmp_path / "huge.tflite"
    with open(p, "wb") as f:
        f.write(b"\x10\x00\x00\x00TFL3")
        f.truncate(1 << 30)
    out = _under_512mb(f"""
        from pathlib import Path
        from rknn_diag.doctor.core import Context, all_checks, run_one
        ctx = Context(models=[Path({str(p)!r})], sys_path=[], environ={{}}, board_facts_provider=lambda c: [])
        for f in run_one(all_checks()["model.tflite.schema"], ctx):
            print(f.status, f.message)
    """)
    assert out and "crash" not in out and "MemoryError" not in out
