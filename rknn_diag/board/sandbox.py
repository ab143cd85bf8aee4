"""The virtual board's file system: board paths mapped into one host folder.

Every board path is normalised and mapped under the sandbox root; a path whose
`..` would climb above `/`, or that resolves (through a link) outside the root,
is refused. Only the board's scratch folders are writable.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat as statmod
import tempfile
from pathlib import Path

WRITABLE_ROOTS = ("/tmp", "/data/local/tmp")


class SandboxError(Exception):
    """A board path the sandbox will not serve; the message reads like the tool's error."""


class Sandbox:
    def __init__(self, files: dict[str, bytes], root: str | None = None):
        self._owned = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="rknn_diag_vboard_")).resolve()
        for board_path, data in files.items():
            host = self.host_path(board_path)
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_bytes(data)
        for board_path in WRITABLE_ROOTS:
            self.host_path(board_path).mkdir(parents=True, exist_ok=True)

    def cleanup(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def normalise(board_path: str, cwd: str = "/") -> str:
        if "\0" in board_path:
            raise SandboxError(f"{board_path!r}: invalid path")
        path = board_path if board_path.startswith("/") else posixpath.join(cwd, board_path)
        depth = 0
        for part in path.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    raise SandboxError(f"{board_path}: Permission denied (path escapes the virtual board's sandbox)")
            elif part not in ("", "."):
                depth += 1
        return posixpath.normpath("/" + path.lstrip("/"))

    def host_path(self, board_path: str) -> Path:
        norm = self.normalise(board_path)
        host = (self.root / norm.lstrip("/")) if norm != "/" else self.root
        real = Path(os.path.realpath(host))
        if real != self.root and self.root not in real.parents:
            raise SandboxError(f"{board_path}: Permission denied (path escapes the virtual board's sandbox)")
        return host

    def writable(self, board_path: str) -> bool:
        norm = self.normalise(board_path)
        return any(norm == r or norm.startswith(r + "/") for r in WRITABLE_ROOTS)

    def writable_host_path(self, board_path: str) -> Path:
        host = self.host_path(board_path)
        if not self.writable(board_path):
            raise SandboxError(f"{board_path}: Read-only file system")
        return host

    def stat(self, board_path: str) -> tuple[int, int, int]:
        """(mode, size, mtime), all zero when the path does not exist (as adbd answers)."""
        try:
            st = self.host_path(board_path).stat()
        except (SandboxError, OSError):
            return 0, 0, 0
        return st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)

    def listdir(self, board_path: str) -> list[tuple[str, int, int, int]]:
        host = self.host_path(board_path)
        entries = []
        for child in sorted(host.iterdir()):
            st = child.lstat()
            entries.append((child.name, st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
        return entries

    def read(self, board_path: str) -> bytes:
        host = self.host_path(board_path)
        if host.is_dir():
            raise SandboxError(f"{board_path}: Is a directory")
        try:
            return host.read_bytes()
        except FileNotFoundError:
            raise SandboxError(f"{board_path}: No such file or directory") from None

    def write(self, board_path: str, data: bytes, mode: int = 0o644) -> None:
        if statmod.S_IFMT(mode) not in (0, statmod.S_IFREG):
            raise SandboxError(f"{board_path}: only regular files can be pushed to a virtual board")
        host = self.writable_host_path(board_path)
        if host.is_dir():
            raise SandboxError(f"{board_path}: Is a directory")
        host.parent.mkdir(parents=True, exist_ok=True)  # adbd creates parents (fixed_push_mkdir)
        tmp = host.with_name(host.name + ".rknn_diag_partial")
        tmp.write_bytes(data)
        os.chmod(tmp, statmod.S_IMODE(mode) or 0o644)
        os.replace(tmp, host)
