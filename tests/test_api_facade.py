"""The facade only translates: every step of the pipeline is reachable through `RKNN` with the
vendor's return values, and the pipeline itself raises the typed errors."""

from __future__ import annotations

import inspect

import pytest

from rknn_diag.api import RKNN
from rknn_diag.errors import RknnDiagError, StateError
from rknn_diag.pipeline import Toolchain

# Steps that cannot fail (facts, clean-up): the facade exposes them as they are.
PLAIN = {"get_sdk_version", "release"}


def test_every_pipeline_step_is_translated_by_the_facade():
    steps = {n for n, f in inspect.getmembers(Toolchain, inspect.isfunction) if not n.startswith("_")}
    untranslated = sorted(n for n in steps - PLAIN if getattr(getattr(RKNN, n), "__wrapped__", None)
                          is not getattr(Toolchain, n))
    assert not untranslated, f"pipeline steps the facade does not translate into return codes: {untranslated}"


def test_the_same_mistake_is_a_typed_error_in_the_pipeline_and_a_code_in_the_facade(capsys):
    with pytest.raises(StateError) as typed:
        Toolchain().build(do_quantization=False)
    rknn = RKNN()
    code = rknn.build(do_quantization=False)
    assert code == typed.value.code < 0
    assert isinstance(rknn.last_error, RknnDiagError) and "build" in capsys.readouterr().out
    assert rknn.inference(inputs=[]) is None and isinstance(rknn.last_error, StateError)
