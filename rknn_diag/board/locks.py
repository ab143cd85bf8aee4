"""One holder per board: an exclusive `flock` on a file per (adb server, serial).

flock locks belong to an open file, so two pytest-xdist workers, two processes
or two threads that each open the lock file exclude each other; the kernel
drops the lock when its holder dies, so a crashed worker never wedges a rack.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from pathlib import Path

from rknn_diag.errors import TargetError, TargetTimeout


def default_lock_dir() -> Path:
    return Path(os.environ.get("RKNN_DIAG_LOCK_DIR") or Path(tempfile.gettempdir()) / "rknn_diag_board_locks")


class BoardLock:
    def __init__(self, serial: str, adb_server: str | None = None, lock_dir: str | os.PathLike | None = None):
        self.serial = serial
        self.adb_server = adb_server or "local"
        key = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.adb_server}__{serial}")
        self.path = Path(lock_dir or default_lock_dir()) / f"{key}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0, poll: float = 0.05) -> "BoardLock":
        """Take the lock, waiting up to `timeout` seconds; TargetTimeout names the holder."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise TargetTimeout(
                        f"board {self.serial} is in use by another holder (pid {holder})",
                        where=f"lock file {self.path}",
                        fix="wait for the other run to finish, or give this worker another board") from None
                time.sleep(poll)
            except OSError as exc:
                os.close(fd)
                raise TargetError(f"cannot lock board {self.serial}: {exc}", where=f"lock file {self.path}",
                                  fix="check the lock folder is writable (RKNN_DIAG_LOCK_DIR)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
