"""The chip table, the mode -> chip table and the target names exist once (rknn_diag.platforms,
rknn_diag.targets); what each target can do is declared on it, not read from its name."""

from __future__ import annotations

import pytest

from rknn_diag import platforms
from rknn_diag.api import RKNN
from rknn_diag.targets import TARGETS, target_class
from rknn_diag.targets.base import Target


@pytest.mark.parametrize("mode", list(platforms.MODE_CHIP))
def test_the_chip_each_mode_runs_on_takes_it_through_config(mode):
    chip = platforms.MODE_CHIP[mode]
    rknn = RKNN()
    kwargs = {} if mode == platforms.FLOAT16 else {"quantized_dtype": mode}
    assert rknn.config(mean_values=[[0, 0, 0]], std_values=[[1, 1, 1]], target_platform=chip, **kwargs) == 0
    if mode != platforms.FLOAT16:
        assert rknn.cfg.dtype == mode


def test_every_quantized_dtype_has_a_chip_and_no_chip_has_an_unknown_one():
    canonical = set(platforms.DTYPE_ALIASES.values())
    assert set(platforms.QUANTIZED_MODES) == canonical
    assert all(set(platforms.dtypes_for(c)) <= canonical for c in platforms.CHIPS)


def test_rv1126b_is_rknpu2_and_refuses_the_rknpu1_modes():
    """rknn-toolkit2 2.5.0 lists rv1126b among its target_platform chips."""
    assert platforms.CHIPS["rv1126b"] == platforms.RKNPU2 and platforms.CHIPS["rv1126"] == platforms.RKNPU1
    rknn = RKNN()
    assert rknn.config(target_platform="rv1126b", quantized_dtype="w4a16") == 0
    assert rknn.config(target_platform="rv1126b", quantized_dtype="asymmetric_quantized-u8") != 0


def test_target_names_are_one_list(pytestconfig, capsys):
    """`pytest --target` and `rknn-diag conformance --target` offer exactly the registered targets."""
    from rknn_diag import conformance_cli

    for parse in (pytestconfig._parser.parse_known_args, conformance_cli.main):
        with pytest.raises((SystemExit, pytest.UsageError)) as refused:
            parse(["--target", "no-such-target"])
        said = capsys.readouterr().err + str(refused.value)
        assert "no-such-target" in said and all(repr(n) in said for n in TARGETS), said


@pytest.mark.parametrize("name", TARGETS)
def test_each_target_declares_its_capabilities(name):
    cls = target_class(name)
    assert issubclass(cls, Target)
    caps = ("vendor", "own_toolchain", "compares_with_simulator", "needs_device_id", "checked_before_use",
            "runs_real_models")
    assert all(isinstance(getattr(cls, c), bool) for c in caps)
    if cls.checked_before_use:
        assert callable(getattr(cls, "health_check", None))
    assert isinstance(cls.timeout_options(1.0, 2.0), dict)


def test_exactly_one_target_is_our_own_toolchain_and_it_is_not_the_vendor():
    own = [n for n in TARGETS if target_class(n).own_toolchain]
    assert len(own) == 1 and not target_class(own[0]).vendor
