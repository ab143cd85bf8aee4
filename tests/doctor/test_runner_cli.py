"""The runner (crash isolation, slow checks last, timeouts), the CLI and the JSON schema."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import jsonschema
import pytest

from fixtures.doctor import boards, datasets, models
from rknn_diag.doctor import cli, core
from rknn_diag.doctor.core import Context, all_checks, check, ok, run_checks

SCHEMA = json.loads((Path(core.__file__).parent / "schema.json").read_text())


@pytest.fixture
def extra_checks(monkeypatch):
    """Register temporary checks; the registry is restored afterwards."""
    all_checks()
    monkeypatch.setattr(core, "REGISTRY", dict(core.REGISTRY))
    release = threading.Event()

    @check("test.crash", "python", "1.1.1", "raises")
    def crash(ctx):
        raise RuntimeError("boom in a check")

    @check("test.fine", "python", "1.1.1", "passes")
    def fine(ctx):
        return ok("fine")

    @check("test.hang", "boards", "1.7.2", "never answers", slow=True)
    def hang(ctx):
        release.wait()
        return ok("late")

    @check("test.slow_ok", "boards", "1.7.2", "answers", slow=True)
    def slow_ok(ctx):
        return ok("quick board")

    yield
    release.set()


def test_a_crash_is_reported_with_its_traceback_and_others_still_run(make_ctx, extra_checks):
    found = run_checks(make_ctx(), ["test.crash", "test.fine"])
    by_id = {f.id: f for f in found}
    assert by_id["test.crash"].status == "crash" and "boom in a check" in by_id["test.crash"].message
    assert "Traceback" in by_id["test.crash"].detail and "RuntimeError" in by_id["test.crash"].detail
    assert by_id["test.fine"].status == "ok"


def test_slow_checks_run_last_and_time_out(make_ctx, extra_checks):
    found = run_checks(make_ctx(timeout=0.2), ["test.hang", "test.crash", "test.slow_ok", "test.fine"])
    assert [f.id for f in found] == ["test.crash", "test.fine", "test.hang", "test.slow_ok"]
    by_id = {f.id: f for f in found}
    assert by_id["test.hang"].status == "error" and "timed out" in by_id["test.hang"].message
    assert by_id["test.slow_ok"].status == "ok"


def test_unknown_check_id_is_refused():
    with pytest.raises(KeyError, match="no.such.check"):
        run_checks(Context(), ["no.such.check"])


def test_every_check_has_a_known_category_and_a_section():
    for c in all_checks().values():
        assert c.category in core.CATEGORIES and c.ref and c.title, c.id


def test_parse_toolkit():
    assert (core.parse_toolkit("1.4.0").name, core.parse_toolkit("1.4.0").generation) == ("rknn-toolkit", 1)
    assert core.parse_toolkit("2.5.0").name == "rknn-toolkit2"
    assert core.parse_toolkit("rknn-toolkit2==1.6.0").generation == 2
    with pytest.raises(ValueError, match="expected a version"):
        core.parse_toolkit("latest")


def _main(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_json_of_a_full_run_validates(capsys, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx", k=5)
    ds = datasets.npys(tmp_path / "d", 2, (1, 16, 16, 3))
    code, out = _main(capsys, "--json", "--root", str(tmp_path), "--model", str(m), "--dataset", str(ds),
                      "--toolkit-version", "2.5.0")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    statuses = {c["id"]: c["status"] for c in doc["checks"]}
    assert set(statuses) == set(all_checks())
    assert statuses["dataset.npy_layout"] == "error" and code == 1


def test_json_with_a_crash_validates_and_exits_non_zero(capsys, make_ctx, extra_checks):
    code, out = _main(capsys, "--json", "--check", "test.crash", "--check", "test.fine")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert [c["status"] for c in doc["checks"]] == ["crash", "ok"] and code == 1


def test_schema_rejects_a_bad_status():
    bad = {"checks": [{"id": "a.b", "category": "python", "status": "fine", "message": "m", "fix": "", "ref": "1"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_summary_and_verbose(capsys, tmp_path, extra_checks):
    code, out = _main(capsys, "--check", "test.crash", "--check", "test.fine")
    assert "[✗] Python environment" in out and "1 issue in 1 category." in out and "Traceback" not in out
    code, out = _main(capsys, "-v", "--check", "test.crash", "--check", "test.fine")
    assert "Traceback" in out and "✓ test.fine: fine" in out and "ref: guide §1.1.1" in out


def test_no_issues_exits_zero(capsys, tmp_path):
    m = models.conv_model(tmp_path / "m.onnx")
    code, out = _main(capsys, "--model", str(m), "--check", "model.onnx.load", "--check", "perf.kernel_size")
    assert code == 0 and out.rstrip().endswith("No issues found.")


def test_list_checks_names_every_check(capsys):
    code, out = _main(capsys, "--list-checks")
    assert code == 0
    for cid in all_checks():
        assert cid in out


def test_report_block(capsys, monkeypatch):
    monkeypatch.setattr(Context, "board_facts", lambda self: [boards.facts("rk1808-07")])
    code, out = _main(capsys, "--report", "--toolkit-version", "1.4.0")
    assert code == 0
    for needle in ("OS:", "Python:", "Toolkit: rknn-toolkit 1.4.0", "Packages:", "numpy", "Boards:", "rk1808-07"):
        assert needle in out


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--check", "no.such"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["--toolkit-version", "newest"])
    assert e.value.code == 2


def test_every_check_is_named_in_a_test():
    """Each check needs its passing and failing fixture; at least its id must appear in the tests."""
    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    missing = [cid for cid in all_checks() if f'"{cid}"' not in text]
    assert not missing, f"checks without tests: {missing}"


def _doctor(*args, env=None):
    import os
    import subprocess
    import sys
    from pathlib import Path
    return subprocess.run([sys.executable, "-m", "rknn_diag.doctor.cli", *args], capture_output=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=120,
                          env={**os.environ, **(env or {})})


def test_plain_output_falls_back_to_ascii_on_a_non_utf8_terminal(tmp_path):
    done = _doctor("--root", str(tmp_path), env={"PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"})
    out = done.stdout.decode("ascii")          # would raise on any ✓/✗ byte
    assert "[?]" not in out and "\\u" not in out and "[-] Dataset" in out and "Traceback" not in done.stderr.decode()


def test_plain_output_says_why_checks_were_skipped(tmp_path):
    out = _doctor("--root", str(tmp_path)).stdout.decode()
    assert "skipped: no --dataset given (dataset.file)" in out
    assert "skipped: no ONNX --model given (model.onnx.load)" in out


def test_version_flags():
    from rknn_diag import __version__
    assert _doctor("--version").stdout.decode().strip() == f"rknn-doctor (rknn_diag) {__version__}"
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "rknn_diag.cli", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"rknn-diag (rknn_diag) {__version__}"
