import shutil

import pytest

from fixtures.boards import ADB_MISSING, AdbServer


def require_adb() -> str:
    """Board tests need the real adb server: fail (not skip) when it is missing."""
    adb = shutil.which("adb")
    if adb is None:
        pytest.fail(ADB_MISSING, pytrace=False)
    return adb


@pytest.fixture(scope="session")
def adb_server():
    """One private adb server per test session (per xdist worker), on a free port."""
    require_adb()
    server = AdbServer().start()
    yield server
    server.stop()


@pytest.fixture
def lock_dir(tmp_path):
    return str(tmp_path / "locks")
