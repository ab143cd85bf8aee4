"""Board checks with injected board facts (the board layer is another branch's)."""

from __future__ import annotations

import sys
import types

import pytest

from fixtures.doctor import boards
from rknn_diag.doctor import board_facts
from rknn_diag.platforms import CHIPS, RKNPU2, chip_from_compatible

from .conftest import run, statuses


def ctx_with(make_ctx, *facts, **kw):
    return make_ctx(board_facts_provider=boards.provider(*facts), **kw)


def test_reachable(make_ctx):
    ctx = ctx_with(make_ctx, boards.facts("a"), device_ids=["a"])
    assert statuses(ctx, "board.reachable") == ["ok"]


def test_reachable_missing_device_and_unreadable_board(make_ctx):
    ctx = ctx_with(make_ctx, boards.facts("a"), {"serial": "b", "error": "adbd closed the stream"},
                   device_ids=["a", "b", "zz"])
    found = run(ctx, "board.reachable")
    assert sorted(f.status for f in found) == ["error", "error", "ok"]
    assert any("zz is not listed" in f.message for f in found)
    assert any("adbd closed the stream" in f.message for f in found)


def test_no_boards_skip(make_ctx):
    assert statuses(make_ctx(), "board.reachable") == ["skip"]


def test_board_layer_missing_skips_every_board_check(make_ctx, monkeypatch):
    def no_board(name):
        raise ImportError(f"No module named '{name}'")
    monkeypatch.setattr(board_facts, "importlib", types.SimpleNamespace(import_module=no_board))
    ctx = make_ctx(board_facts_provider=None)
    for cid in ("board.reachable", "board.chip", "board.versions", "board.precompile", "board.mini_driver"):
        [f] = run(ctx, cid)
        assert f.status == "skip" and "board layer is not available" in f.message


def test_default_provider_uses_the_board_layer(make_ctx, monkeypatch):
    class Dev:
        def __init__(self, serial):
            self.serial = serial

    calls = []
    discovery = types.SimpleNamespace(list_devices=lambda server: calls.append(server) or [Dev("x"), Dev("y")])
    facts = types.SimpleNamespace(read_board_facts=lambda d: {"chip": "rockchip,rk1808-evb", "rknn_server": "1.4.0"})
    monkeypatch.setitem(sys.modules, "rknn_diag.board.facts", facts)
    monkeypatch.setitem(sys.modules, "rknn_diag.board.discovery", discovery)
    ctx = make_ctx(board_facts_provider=None, adb_server="127.0.0.1:5037", device_ids=["y"])
    got = ctx.board_facts()
    assert calls == ["127.0.0.1:5037"]
    assert [(f["serial"], f["chip"], f["generation"]) for f in got] == [("y", "rk1808", "rknpu1")]


@pytest.mark.parametrize("text, chip", [("rockchip,rv1126-evb-ddr3-v13\0rockchip,rv1126\0", "rv1126"),
                                        ("rockchip,rk3588s-orangepi-5\0rockchip,rk3588\0", "rk3588"),
                                        ("rockchip,rk3399pro-toybrick\0", "rk3399pro"), ("brcm,bcm2711\0", None)])
def test_chip_from_compatible(text, chip):
    assert chip_from_compatible(text) == chip


@pytest.mark.parametrize("toolkit, board, targets, expected", [
    ("1.4.0", boards.facts(chip="rk1808"), [], "ok"),
    ("1.4.0", boards.facts(chip="rv1126"), [], "error"),           # §1.7.1 item 3: default targets
    ("1.4.0", boards.facts(chip="rv1126"), ["rv1109", "rv1126"], "ok"),
    ("2.5.0", boards.rk3588(), ["rk3588"], "ok"),
    ("2.5.0", boards.rk3588(), ["rk3566"], "error"),
    ("2.5.0", boards.facts(chip="rk1808"), ["rk1808"], "error"),    # RKNPU1 board, toolkit2
    ("2.5.0", boards.rk3588(), [], "skip"),
])
def test_chip_against_target_platform(make_ctx, toolkit, board, targets, expected):
    ctx = ctx_with(make_ctx, board, toolkit_version=toolkit, target_platforms=targets)
    assert statuses(ctx, "board.chip") == [expected]


def test_versions_toolkit1_matching_firmware(make_ctx):
    assert statuses(ctx_with(make_ctx, boards.facts(), toolkit_version="1.4.0"), "board.versions") == ["ok"]
    ctx = ctx_with(make_ctx, boards.facts(rknn_server="0.9.7", npu_driver="6.3.3.2", runtime="0.9.9"),
                   toolkit_version="1.0.0")
    assert statuses(ctx, "board.versions") == ["ok"]


def test_versions_toolkit1_mismatch_names_each_component(make_ctx):
    ctx = ctx_with(make_ctx, boards.facts(rknn_server="1.3.0", runtime="1.2.0"), toolkit_version="1.4.0")
    [f] = run(ctx, "board.versions")
    assert f.status == "error" and "rknn_server 1.3.0 (needs 1.4.0)" in f.message
    assert "librknn_runtime 1.2.0" in f.message and "NPU driver" not in f.message


def test_versions_toolkit2_runtime_not_older(make_ctx):
    assert statuses(ctx_with(make_ctx, boards.rk3588(runtime="2.5.0"), toolkit_version="2.5.0"),
                    "board.versions") == ["ok"]
    assert statuses(ctx_with(make_ctx, boards.rk3588(runtime="2.6.1"), toolkit_version="2.5.0"),
                    "board.versions") == ["ok"]
    [f] = run(ctx_with(make_ctx, boards.rk3588(runtime="2.3.0"), toolkit_version="2.5.0"), "board.versions")
    assert f.status == "error" and "older" in f.message


@pytest.mark.parametrize("toolkit, drv, expected", [
    ("1.4.0", "1.4.0", "ok"), ("1.0.0", "0.9.6", "ok"), ("0.9.8", "0.9.5", "ok"),
    ("1.0.0", "0.9.5", "warn"), ("0.9.9", "0.9.6", "warn")])
def test_precompile_against_driver(make_ctx, toolkit, drv, expected):
    ctx = ctx_with(make_ctx, boards.facts(rknn_server=drv), toolkit_version=toolkit)
    assert statuses(ctx, "board.precompile") == [expected]


def test_mini_driver(make_ctx):
    assert statuses(ctx_with(make_ctx, boards.facts(chip="rv1126", mini_driver=False)), "board.mini_driver") == ["ok"]
    [f] = run(ctx_with(make_ctx, boards.facts(chip="rv1109", mini_driver=True)), "board.mini_driver")
    assert f.status == "error" and "Mini Driver" in f.message
    assert statuses(ctx_with(make_ctx, boards.facts(chip="rk1808")), "board.mini_driver") == ["skip"]


def _layer(monkeypatch, list_devices, read_board_facts, connect=None):
    discovery = types.SimpleNamespace(list_devices=list_devices)
    if connect:
        discovery.connect = connect
    monkeypatch.setitem(sys.modules, "rknn_diag.board.facts", types.SimpleNamespace(read_board_facts=read_board_facts))
    monkeypatch.setitem(sys.modules, "rknn_diag.board.discovery", discovery)


def test_default_provider_with_serials_like_rknn_list_devices(make_ctx, monkeypatch):
    """list_devices -> (adb_serials, ntb_serials); each serial is connected, then read."""
    def read(dev):
        if dev["serial"] == "bad":
            raise RuntimeError("adbd went away")
        return {"serial": dev["serial"], "chip": "rk3588", "runtime": "2.5.0"}
    _layer(monkeypatch, lambda server: (["a", "bad"], []), read,
           connect=lambda serial, server: {"serial": serial, "server": server})
    got = make_ctx(board_facts_provider=None).board_facts()
    assert [(f["serial"], f["chip"], f["error"]) for f in got] == [("a", "rk3588", None),
                                                                    ("bad", None, "RuntimeError: adbd went away")]


class _TargetError(Exception):
    def __init__(self, message, fix):
        super().__init__(message)
        self.message, self.fix = message, fix


def _no_server(server):
    raise _TargetError("cannot reach the adb server at 127.0.0.1:5037", "start it with `adb start-server`")


def test_no_adb_server_skips_when_no_board_was_asked_for(make_ctx, monkeypatch):
    _layer(monkeypatch, _no_server, dict)
    for cid in ("board.reachable", "board.versions"):
        [f] = run(make_ctx(board_facts_provider=None), cid)
        assert f.status == "skip" and "cannot reach the adb server" in f.message


def test_no_adb_server_is_an_error_when_a_board_was_asked_for(make_ctx, monkeypatch):
    _layer(monkeypatch, _no_server, dict)
    [f] = run(make_ctx(board_facts_provider=None, device_ids=["a"]), "board.reachable")
    assert f.status == "error" and f.fix == "start it with `adb start-server`"
    assert statuses(make_ctx(board_facts_provider=None, device_ids=["a"]), "board.chip") == ["skip"]


@pytest.mark.parametrize("chip", sorted(CHIPS))
def test_every_chip_of_the_chip_table_is_read_from_its_compatible_string(chip):
    """The doctor reads chips with the one chip table: no chip is taken for another whose name
    is a prefix of its own (rv1126b is not rv1126, rv1103b is not rv1103)."""
    assert chip_from_compatible(f"rockchip,{chip}-evb-v10\0rockchip,{chip}\0") == chip
    assert board_facts.normalize({"chip": chip})["generation"] == CHIPS[chip]


def test_rv1126b_is_an_rknpu2_chip_for_toolkit2(make_ctx):
    """rknn-toolkit2 2.5.0 lists rv1126b among its target_platform chips (its RKNN.config()
    docstring): an RKNPU2 board, right for toolkit2 and without RV1126's Mini Driver question."""
    board = dict(boards.rk3588(serial="rv1126b-01"), chip="rockchip,rv1126b-evb-v10\0rockchip,rv1126b\0")
    ctx = ctx_with(make_ctx, board, toolkit_version="2.5.0", target_platforms=["rv1126b"])
    assert statuses(ctx, "board.chip") == ["ok"]
    assert statuses(ctx, "board.mini_driver") == ["skip"]
    assert board_facts.normalize(board)["generation"] == RKNPU2
