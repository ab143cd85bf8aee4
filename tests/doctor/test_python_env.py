"""Python environment checks: each with a fixture that passes and one that fails."""

from __future__ import annotations

import pytest

from fixtures.doctor import envs

from .conftest import run, statuses


def test_duplicates_ok_when_each_package_is_installed_once(make_ctx, tmp_path):
    a = envs.site(tmp_path / "a", {"numpy": "1.26.4"})
    b = envs.site(tmp_path / "b", {"onnx": "1.18.0"})
    assert statuses(make_ctx(sys_path=[str(a), str(b)]), "python.duplicates") == ["ok"]


def test_duplicates_error_names_both_copies_of_numpy(make_ctx, tmp_path):
    a = envs.site(tmp_path / "a", {"numpy": "1.26.4"})
    b = envs.site(tmp_path / "b", {"numpy": "1.16.2"})
    [f] = run(make_ctx(sys_path=[str(a), str(b)]), "python.duplicates")
    assert f.status == "error" and f.ref == "1.1.1"
    assert "1.26.4" in f.message and "1.16.2" in f.message and str(b) in f.message


def test_duplicates_error_on_a_stray_import_dir_without_metadata(make_ctx, tmp_path):
    a = envs.import_package(tmp_path / "a", "numpy")
    b = envs.import_package(tmp_path / "b", "numpy")
    [f] = run(make_ctx(sys_path=[str(a), str(b)]), "python.duplicates")
    assert f.status == "error" and "import numpy" in f.message


def test_site_writable_ok(make_ctx, tmp_path):
    assert statuses(make_ctx(site_packages=str(tmp_path)), "python.site_writable") == ["ok"]


@pytest.mark.parametrize("user_site, expected", [(True, "warn"), (False, "error")])
def test_site_not_writable(make_ctx, tmp_path, user_site, expected):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    [f] = run(make_ctx(site_packages=str(not_a_dir), user_site_enabled=user_site), "python.site_writable")
    assert f.status == expected
    if expected == "warn":
        assert "--user" in f.fix


@pytest.mark.parametrize("toolkit, numpy, expected", [
    ("0.9.9", "1.16.2", "ok"), ("1.0.0", "1.16.3", "ok"), ("0.9.9", "1.16.3", "error"), ("0.9.8", "1.19.0", "error")])
def test_numpy_pickle(make_ctx, tmp_path, toolkit, numpy, expected):
    s = envs.site(tmp_path / "s", {"numpy": numpy})
    assert statuses(make_ctx(sys_path=[str(s)], toolkit_version=toolkit), "python.numpy_pickle") == [expected]


def test_numpy_pickle_skips_without_toolkit(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"numpy": "1.26.4"})
    assert statuses(make_ctx(sys_path=[str(s)]), "python.numpy_pickle") == ["skip"]


def test_installed_toolkit_is_found_in_metadata(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"rknn-toolkit": "0.9.9", "numpy": "1.17.0"})
    assert statuses(make_ctx(sys_path=[str(s)]), "python.numpy_pickle") == ["error"]


def test_frameworks_ok_within_the_matrix(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"torch": "1.2.0", "mxnet": "1.5.1", "onnx": "1.4.1"})
    found = run(make_ctx(sys_path=[str(s)], toolkit_version="1.4.0"), "python.frameworks")
    assert {f.status for f in found} == {"ok"}
    assert any("TF Lite schema version 3" in f.message for f in found)


def test_frameworks_error_for_torch_outside_the_range(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"torch": "1.5.0"})
    found = run(make_ctx(sys_path=[str(s)], toolkit_version="1.3.0"), "python.frameworks")
    [bad] = [f for f in found if f.status != "ok"]
    assert bad.status == "error" and ">=1.0.0,<=1.2.0" in bad.message


def test_frameworks_warn_for_torch_before_1_3_0(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"torch": "1.2.0"})
    found = run(make_ctx(sys_path=[str(s)], toolkit_version="1.2.1"), "python.frameworks")
    assert [f.status for f in found if "torch" in f.message] == ["warn"]


def test_frameworks_warn_for_a_newer_onnx_release(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"onnx": "1.8.0"})
    found = run(make_ctx(sys_path=[str(s)], toolkit_version="1.4.0"), "python.frameworks")
    assert [f.status for f in found if "onnx" in f.message] == ["warn"]


def test_frameworks_toolkit2_pins_from_the_table(make_ctx, tmp_path):
    good = envs.site(tmp_path / "g", {"numpy": "1.26.4", "onnx": "1.18.0"})
    bad = envs.site(tmp_path / "b", {"numpy": "2.4.6", "onnx": "1.18.0"})
    assert set(statuses(make_ctx(sys_path=[str(good)], toolkit_version="2.5.0"), "python.frameworks")) == {"ok"}
    assert "error" in statuses(make_ctx(sys_path=[str(bad)], toolkit_version="2.5.0"), "python.frameworks")


@pytest.mark.parametrize("torch, expected", [("1.2.0", "ok"), ("1.2.0+cpu", "ok"), ("1.4.0", "warn")])
def test_torch_version(make_ctx, tmp_path, torch, expected):
    s = envs.site(tmp_path / "s", {"torch": torch})
    assert statuses(make_ctx(sys_path=[str(s)], toolkit_version="1.4.0"), "python.torch_version") == [expected]


@pytest.mark.parametrize("tf, expected", [("1.13.1", "ok"), ("1.14.0", "error"), ("2.4.0", "error")])
def test_tensorflow_version(make_ctx, tmp_path, tf, expected):
    s = envs.site(tmp_path / "s", {"tensorflow": tf})
    assert statuses(make_ctx(sys_path=[str(s)], toolkit_version="1.4.0"), "python.tensorflow_version") == [expected]


@pytest.mark.parametrize("toolkit, environ, expected", [
    ("1.2.0", {}, "error"), ("1.2.0", {"PYTHONLEGACYWINDOWSSTDIO": "1"}, "ok"), ("1.2.1", {}, "ok")])
def test_windows_stdio(make_ctx, toolkit, environ, expected):
    ctx = make_ctx(platform="win32", environ=environ, toolkit_version=toolkit)
    assert statuses(ctx, "python.windows_stdio") == [expected]


def test_windows_stdio_skips_elsewhere(make_ctx):
    assert statuses(make_ctx(toolkit_version="1.2.0"), "python.windows_stdio") == ["skip"]


def test_gcc(make_ctx, tmp_path):
    bins = envs.bin_dir(tmp_path / "bin", "gcc")
    assert statuses(make_ctx(environ=envs.path_env(bins)), "python.gcc") == ["ok"]
    assert statuses(make_ctx(environ=envs.path_env(tmp_path / "nothing")), "python.gcc") == ["warn"]


TK2_PINS = {"rknn-toolkit2": ["numpy<=1.26.4", "onnx<=1.18.0", "torch>=1.10.1,<=2.4.0; extra == 'torch'"]}


def test_toolkit2_pins_ok(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"rknn-toolkit2": "2.5.0", "numpy": "1.26.4", "onnx": "1.18.0"}, TK2_PINS)
    [f] = run(make_ctx(sys_path=[str(s)]), "python.toolkit2_pins")
    assert f.status == "ok" and "all 2 requirements" in f.message


def test_toolkit2_pins_errors_for_a_clash_and_a_missing_package(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"rknn-toolkit2": "2.5.0", "numpy": "2.4.6"}, TK2_PINS)
    found = run(make_ctx(sys_path=[str(s)]), "python.toolkit2_pins")
    assert [f.status for f in found] == ["error", "error"]
    assert "numpy 2.4.6" in found[0].message and "onnx is not installed" in found[1].message


def test_frameworks_defers_to_the_installed_toolkit2_pins(make_ctx, tmp_path):
    s = envs.site(tmp_path / "s", {"rknn-toolkit2": "2.5.0", "numpy": "2.4.6"})
    assert statuses(make_ctx(sys_path=[str(s)]), "python.frameworks") == ["skip"]
