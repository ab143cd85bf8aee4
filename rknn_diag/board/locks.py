"""One holder per board: an exclusive `flock` on a file per (adb server, serial).

flock locks belong to an open file, so two pytest-xdist workers, two processes
or two threads that each open the lock file exclude each other; the kernel
drops the lock when its holder dies, so a crashed worker never wedges a rack.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile
import time
from pathlib import Path

from rknn_diag.errors import TargetError, TargetTimeout


def default_lock_dir() -> Path:
    """RKNN_DIAG_LOCK_DIR (a rack's shared folder, set on purpose), else a folder of this user's
    own in the temp dir: a fixed shared name there could be planted by anyone."""
    shared = os.environ.get("RKNN_DIAG_LOCK_DIR")
    if shared:
        return Path(shared)
    return Path(tempfile.gettempdir()) / f"rknn_diag_board_locks-{os.getuid()}"


def _private_dir(folder: Path) -> None:
    """Create the per-user lock folder 0700, or accept it only if it is a real folder of ours
    that nobody else can write (not a symlink someone planted)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError as exc:
        raise TargetError(f"cannot create the lock folder {folder}: {exc.strerror}", where=str(folder),
                          fix="set RKNN_DIAG_LOCK_DIR to a folder of yours") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise TargetError(f"the lock folder {folder} is not a private folder of this user "
                          f"(a symlink, someone else's, or writable by others)", where=str(folder),
                          fix="remove it, or set RKNN_DIAG_LOCK_DIR to a folder of yours")


class BoardLock:
    def __init__(self, serial: str, adb_server: str | None = None, lock_dir: str | os.PathLike | None = None):
        self.serial = serial
        self.adb_server = adb_server or "local"
        key = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.adb_server}__{serial}")
        self._private = lock_dir is None and not os.environ.get("RKNN_DIAG_LOCK_DIR")
        self.path = Path(lock_dir or default_lock_dir()) / f"{key}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0, poll: float = 0.05) -> "BoardLock":
        """Take the lock, waiting up to `timeout` seconds; TargetTimeout names the holder."""
        if self._fd is not None:
            return self
        if self._private:
            _private_dir(self.path.parent)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:   # O_NOFOLLOW: a symlink planted at the lock's name is refused, its target untouched
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            why = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror
            raise TargetError(f"cannot open the lock file of board {self.serial}: {why}",
                              where=f"lock file {self.path}",
                              fix="remove that file, or set RKNN_DIAG_LOCK_DIR to a folder of yours") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise TargetError(f"the lock file of board {self.serial} is not a regular file",
                              where=f"lock file {self.path}", fix="remove it")
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
