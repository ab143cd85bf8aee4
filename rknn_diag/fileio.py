"""Writing files safely: the one place for it.

`atomic_write` puts the bytes in a fresh temp file (tempfile, same folder, so `os.replace`
is a rename on one file system), flushes it to disk and renames it over the target. A
reader never sees a half file under the final name, concurrent writers never share a temp
name, and a symlink planted at a predictable temp name is never followed (mkstemp uses
O_CREAT|O_EXCL). A failure leaves the old file as it was and no temp file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError


def atomic_write(path: str | os.PathLike, data: bytes | str, *, what: str = "file") -> Path:
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"cannot write the {what} {path}: folder {folder} does not exist",
                          where=str(path), fix=f"create it first (mkdir -p {folder}) or choose another path")
    if path.is_dir():
        raise ConfigError(f"cannot write the {what} {path}: it is a folder", where=str(path),
                          fix="give a file name, e.g. model.rknn")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise ConfigError(f"cannot write the {what} {path}: {e.strerror}", where=str(path),
                          fix="check the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a saved model is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    """The process umask, read without os.umask() (setting it races other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
