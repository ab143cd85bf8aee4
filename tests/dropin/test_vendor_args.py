"""No vendor argument is silently ignored: each one acts, warns naming itself, or is refused
with what to do instead (rknn_diag.dropin.vendor_args)."""

from __future__ import annotations

import numpy as np
import pytest

from rknn_diag.api import RKNN
from rknn_diag.dropin.vendor_args import CONFIG, METHODS, REFUSED_METHODS, Refused, Warned


def _built(example, capsys, **config):
    example()
    r = RKNN()
    assert r.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]], target_platform="rk3588", **config) == 0
    assert r.load_onnx("resnet50v2.onnx") == 0
    assert r.build(do_quantization=True, dataset="./dataset.txt") == 0
    return r


def _non_default(rule):
    d = rule.default
    if isinstance(d, bool):
        return not d
    if isinstance(d, (int, float)):
        return d + 7
    if isinstance(d, str):
        return d + "_other"
    return [1, 2]


@pytest.mark.parametrize("key", sorted(CONFIG))
def test_every_ignored_config_setting_warns_naming_it(example, capsys, key):
    example()
    r = RKNN()
    assert r.config(target_platform="rk3588", **{key: _non_default(CONFIG[key])}) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("W ") and f"'{key}'" in line for line in out.splitlines()), out


def test_config_setting_at_its_default_is_not_a_warning(example, capsys):
    example()
    r = RKNN()
    assert r.config(target_platform="rk3588", single_core_mode=False, compress_weight=False) == 0
    assert not [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("W ")]


CALLS = {
    "build": lambda r, kw: r.build(do_quantization=True, dataset="./dataset.txt", **kw),
    "init_runtime": lambda r, kw: r.init_runtime(**kw),
    "inference": lambda r, kw: (r.init_runtime(), r.inference(inputs=[np.zeros((1, 16, 16, 3), np.uint8)], **kw))[1],
    "eval_perf": lambda r, kw: (r.init_runtime(), r.eval_perf(**kw))[1],
    "accuracy_analysis": lambda r, kw: r.accuracy_analysis(inputs=["./dog_16x16.jpg"], output_dir="snap", **kw),
    "hybrid_quantization_step1": lambda r, kw: r.hybrid_quantization_step1(dataset="./dataset.txt", **kw),
    "load_rknn": lambda r, kw: (r.export_rknn("m.rknn"), r.load_rknn("m.rknn", **kw))[1],
    "export_rknn": lambda r, kw: r.export_rknn("m.rknn", **kw),
}
CASES = [(m, k) for m, table in METHODS.items() for k in table if m in CALLS]


@pytest.mark.parametrize("method,key", CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_every_method_argument_acts_warns_or_is_refused(example, capsys, method, key):
    r = _built(example, capsys)
    capsys.readouterr()
    rule = METHODS[method][key]
    ret = CALLS[method](r, {key: _non_default(rule)})
    out = capsys.readouterr().out
    named = [ln for ln in out.splitlines() if f"'{key}'" in ln]
    if isinstance(rule, Refused):
        assert ret is None or (isinstance(ret, int) and ret < 0), ret
        assert named and named[0].startswith("E ") and "Fix:" in named[0], out
    else:
        assert isinstance(rule, Warned)
        assert ret is not None and not (isinstance(ret, int) and ret < 0), out
        assert named and named[0].startswith("W "), out


def test_an_argument_the_vendor_does_not_have_is_refused(example, capsys):
    r = _built(example, capsys)
    capsys.readouterr()
    assert r.build(do_quantization=True, dataset="./dataset.txt", quantise=True) < 0
    out = capsys.readouterr().out
    assert "unexpected argument 'quantise'" in out


@pytest.mark.parametrize("name", sorted(REFUSED_METHODS))
def test_impossible_methods_are_refused_with_what_to_do(example, capsys, name):
    r = _built(example, capsys)
    capsys.readouterr()
    ret = getattr(r, name)("./whatever")
    out = capsys.readouterr().out
    assert isinstance(ret, int) and ret < 0
    line = next(ln for ln in out.splitlines() if ln.startswith("E "))
    assert name in line and "not available" in line and "Fix:" in line
