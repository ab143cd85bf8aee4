from __future__ import annotations

from pathlib import Path

import pytest

from rknn_diag.doctor.core import Context, all_checks, run_one


@pytest.fixture
def make_ctx(tmp_path):
    """A Context that reads only fixtures: an empty root, an empty site-packages, no boards."""
    def make(**kw) -> Context:
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        empty_site = tmp_path / "empty-site"
        empty_site.mkdir(exist_ok=True)
        defaults = dict(root=root, sys_path=[str(empty_site)], environ={"PATH": ""}, platform="linux",
                        site_packages=str(empty_site), user_site_enabled=False,
                        board_facts_provider=lambda ctx: [], timeout=10.0)
        defaults.update(kw)
        return Context(**defaults)
    return make


def run(ctx: Context, check_id: str):
    """The findings of one check."""
    return run_one(all_checks()[check_id], ctx)


def statuses(ctx: Context, check_id: str) -> list[str]:
    return [f.status for f in run(ctx, check_id)]


@pytest.fixture
def fx(tmp_path) -> Path:
    d = tmp_path / "fx"
    d.mkdir()
    return d
