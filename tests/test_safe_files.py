"""Files on disk: exports are atomic and never follow planted links, concurrent writers and
readers never see a half file, board locks refuse planted links, failures leave no temp
folders behind."""

import os
import socket
import tempfile
import threading

import numpy as np
import pytest

from fixtures import models
from rknn_diag import errors, fileio
from rknn_diag.api import RKNN
from rknn_diag.board.locks import BoardLock, default_lock_dir


@pytest.fixture
def built_rknn(save):
    r = RKNN()
    assert r.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]]) == 0
    assert r.load_onnx(save(models.conv_bn_relu())) == 0
    assert r.build(do_quantization=False) == 0
    return r


def test_export_never_follows_a_link_planted_at_the_temp_or_final_name(built_rknn, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "m.rknn"
    os.symlink(victim, tmp_path / "m.rknn.tmp")      # the old fixed temp name
    assert built_rknn.export_rknn(str(out)) == 0
    assert victim.read_text() == "precious"
    link = tmp_path / "other.rknn"
    os.symlink(victim, link)                          # the final name itself is a link
    assert built_rknn.export_rknn(str(link)) == 0
    assert victim.read_text() == "precious" and not link.is_symlink()
    assert RKNN().load_rknn(str(link)) == 0


def test_export_into_a_missing_folder_is_a_typed_error(built_rknn, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "m.rknn"
    assert built_rknn.export_rknn(str(target)) == errors.RKNN_ERR_PARAM_INVALID
    out = capsys.readouterr().out
    assert "folder" in out and str(target.parent) in out and "internal error" not in out
    assert isinstance(built_rknn.last_error, errors.ConfigError)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(built_rknn, tmp_path, monkeypatch):
    out = tmp_path / "m.rknn"
    assert built_rknn.export_rknn(str(out)) == 0
    before = out.read_bytes()

    def boom(*a):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileio.os, "replace", boom)
    assert built_rknn.export_rknn(str(out)) != 0
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".onnx") == ["m.rknn"]


def test_concurrent_exports_and_loads_never_see_a_half_file(built_rknn, tmp_path):
    out = tmp_path / "m.rknn"
    assert built_rknn.export_rknn(str(out)) == 0
    failures = []

    def writer():
        for _ in range(8):
            if built_rknn.export_rknn(str(out)) != 0:
                failures.append(("export", built_rknn.last_error))

    def reader():
        for _ in range(15):
            r = RKNN()
            if r.load_rknn(str(out)) != 0:
                failures.append(("load", r.last_error))

    threads = [threading.Thread(target=writer) for _ in range(4)] + [threading.Thread(target=reader) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert failures == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.rknn")] == []


def test_exported_file_has_ordinary_permissions(built_rknn, tmp_path):
    out = tmp_path / "m.rknn"
    assert built_rknn.export_rknn(str(out)) == 0
    assert out.stat().st_mode & 0o777 == 0o666 & ~fileio._umask()   # as open() would make it, not 0600


def test_lock_file_planted_as_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    locks = tmp_path / "locks"
    locks.mkdir()
    lock = BoardLock("SERIAL1", lock_dir=locks)
    os.symlink(victim, lock.path)
    with pytest.raises(errors.TargetError, match="symlink"):
        lock.acquire()
    assert victim.read_text() == "precious"


def test_default_lock_folder_is_per_user_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("RKNN_DIAG_LOCK_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = default_lock_dir()
    assert str(os.getuid()) in folder.name
    with BoardLock("SERIAL2"):
        assert folder.is_dir() and folder.stat().st_mode & 0o077 == 0


def test_default_lock_folder_planted_as_a_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("RKNN_DIAG_LOCK_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    os.symlink(elsewhere, default_lock_dir())
    with pytest.raises(errors.TargetError, match="not a private folder"):
        BoardLock("SERIAL3").acquire()
    assert list(elsewhere.iterdir()) == []


def test_unreachable_board_leaves_no_temp_folder(built_rknn, tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("RKNN_DIAG_LOCK_DIR", str(tmp_path / "locks"))
    assert built_rknn.init_runtime(target="rk3588", device_id="abc",
                                   adb_server=f"127.0.0.1:{free}") == errors.RKNN_ERR_DEVICE_UNAVAILABLE
    assert list(tmp.iterdir()) == []
