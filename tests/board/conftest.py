import pytest


@pytest.fixture
def lock_dir(tmp_path):
    return str(tmp_path / "locks")
