"""The virtual board's shell: a whitelist of commands, never run on the host.

A command line is cut at unquoted `;`, `&&`, `||`, newlines and `|`; each piece
has `$?` expanded (outside single quotes) and is split with `shlex.split`.
Redirections, background jobs, command substitution and other variables are
refused with a shell-like error rather than guessed at.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import shutil
from typing import Callable

from .profile import BoardProfile
from .sandbox import Sandbox, SandboxError

# (exit code, output) of one command; output is bytes (legacy shell: stdout and stderr merged).
Result = tuple[int, bytes]


_START_SERVER = re.compile(r"nohup /usr/bin/rknn_server > /dev/null 2>&1( &)?")


class ShellSyntaxError(Exception):
    pass


def split_command_line(line: str) -> list[tuple[str, list[str]]]:
    """[(operator before this pipeline, [pipeline parts])]; operator is '', ';', '&&' or '||'."""
    pipelines: list[tuple[str, list[str]]] = []
    parts: list[str] = []
    buf: list[str] = []
    op = ""
    quote = ""
    i = 0
    n = len(line)

    def end_part():
        text = "".join(buf).strip()
        buf.clear()
        return text

    while i < n:
        c = line[i]
        if quote == "'":
            buf.append(c)
            if c == "'":
                quote = ""
        elif c == "\\" and i + 1 < n:
            buf.append(line[i:i + 2])
            i += 1
        elif quote == '"':
            if c == "`" or line.startswith("$(", i):
                raise ShellSyntaxError("command substitution is not supported by the virtual board")
            buf.append(c)
            if c == '"':
                quote = ""
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c == "#" and (not buf or buf[-1].isspace()):
            while i < n and line[i] != "\n":
                i += 1
            continue
        elif c in ";\n" or line.startswith("&&", i) or line.startswith("||", i):
            token = line[i:i + 2] if c in "&|" else ";"
            parts.append(end_part())
            if any(not p for p in parts):
                if c == "\n" and parts == [""]:
                    parts = []
                    i += 1
                    continue
                raise ShellSyntaxError(f"syntax error near unexpected token `{token}'")
            pipelines.append((op, parts))
            parts, op = [], token
            i += len(token)
            continue
        elif c == "|":
            parts.append(end_part())
        elif c in "<>&" or c == "`" or line.startswith("$(", i):
            raise ShellSyntaxError(f"'{c}': redirections, background jobs and substitutions "
                                   "are not supported by the virtual board")
        else:
            buf.append(c)
        i += 1
    if quote:
        raise ShellSyntaxError("unterminated quoted string")
    last = end_part()
    if last or parts:
        parts.append(last)
        if any(not p for p in parts):
            raise ShellSyntaxError("syntax error near unexpected token `|'")
        pipelines.append((op, parts))
    elif op in ("&&", "||"):
        raise ShellSyntaxError(f"syntax error: unexpected end of file after `{op}'")
    return pipelines


def expand_status(text: str, status: int) -> str:
    """Replace `$?` outside single quotes; any other `$` expansion is refused."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            quote = "" if c == "'" else quote
        elif c == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        elif c in "'\"":
            quote = "" if quote == c else (c if not quote else quote)
        elif c == "$":
            if text.startswith("$?", i):
                out.append(str(status))
                i += 2
                continue
            if i + 1 < len(text) and (text[i + 1].isalnum() or text[i + 1] in "_{"):
                raise ShellSyntaxError("variables other than $? are not supported by the virtual board")
        out.append(c)
        i += 1
    return "".join(out)


class VirtualShell:
    """Runs whitelisted commands against a profile and a sandbox."""

    def __init__(self, profile: BoardProfile, sandbox: Sandbox,
                 runner: Callable[[list[str]], Result] | None = None):
        self.profile = profile
        self.sandbox = sandbox
        self.runner = runner
        self.history: list[list[str]] = []  # argv of every command run, for tests and logs
        self.commands: dict[str, Callable[[list[str], bytes], Result]] = {
            "cat": self._cat, "uname": self._uname, "getprop": self._getprop, "dmesg": self._dmesg,
            "strings": self._strings, "ls": self._ls, "mkdir": self._mkdir, "rm": self._rm,
            "echo": self._echo, "pidof": self._pidof, "grep": self._grep,
            "true": lambda a, s: (0, b""), "false": lambda a, s: (1, b""),
            "python3": self._python, "python": self._python,
            "ps": self._ps, "killall": self._killall, "chmod": self._chmod,
        }

    # -- command lines --------------------------------------------------------------
    def run(self, line: str) -> Result:
        if _START_SERVER.fullmatch(line.strip()):
            # rknn-toolkit2's init_runtime(device_id=) (re)starts rknn_server with exactly this line;
            # the one redirection the virtual board accepts. rknn_server's own protocol
            # (adb `local:transfer_proxy`) is not emulated: the vendor's connection then fails.
            self.history.append(["nohup", "/usr/bin/rknn_server"])
            return 0, b""
        try:
            pipelines = split_command_line(line)
        except ShellSyntaxError as exc:
            return 2, f"sh: {exc}\n".encode()
        status, output = 0, b""
        for op, parts in pipelines:
            if (op == "&&" and status != 0) or (op == "||" and status == 0):
                continue
            stdin = b""
            for k, part in enumerate(parts):
                try:
                    argv = shlex.split(expand_status(part, status))
                except (ValueError, ShellSyntaxError) as exc:
                    status, text = 2, f"sh: {exc}\n".encode()
                else:
                    status, text = self.run_argv(argv, stdin)
                if k < len(parts) - 1:
                    stdin = text
                else:
                    output += text
        return status, output

    def run_argv(self, argv: list[str], stdin: bytes = b"") -> Result:
        if not argv:
            return 0, b""
        self.history.append(list(argv))
        command = self.commands.get(argv[0])
        if command is None:
            return 127, f"sh: {argv[0]}: not found\n".encode()
        try:
            return command(argv[1:], stdin)
        except SandboxError as exc:
            return 1, f"{argv[0]}: {exc}\n".encode()

    def _read(self, path: str) -> bytes:
        # Board files that follow the profile are read live, so version faults
        # switched on while the board runs show at once.
        live = self.profile.files().get(self.sandbox.normalise(path))
        return live if live is not None else self.sandbox.read(path)

    # -- commands -----------------------------------------------------------------
    def _cat(self, args, stdin):
        if not args:
            return 0, stdin
        out, status = b"", 0
        for path in args:
            try:
                out += self._read(path)
            except SandboxError as exc:
                out += f"cat: {exc}\n".encode()
                status = 1
        return status, out

    def _uname(self, args, stdin):
        p = self.profile
        fields = {"-m": p.arch, "-r": "5.10.160", "-s": "Linux", "-n": p.product}
        if not args or args == ["-s"]:
            return 0, b"Linux\n"
        if args == ["-a"]:
            return 0, f"Linux {p.product} 5.10.160 #1 SMP PREEMPT {p.arch} GNU/Linux\n".encode()
        try:
            return 0, (" ".join(fields[a] for a in args) + "\n").encode()
        except KeyError as exc:
            return 1, f"uname: invalid option -- '{str(exc).strip(chr(39)).lstrip('-')}'\n".encode()

    def _getprop(self, args, stdin):
        props = self.profile.properties()
        if not args:
            return 0, "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode()
        return 0, (props.get(args[0], args[1] if len(args) > 1 else "") + "\n").encode()

    def _dmesg(self, args, stdin):
        return 0, self.profile.dmesg().encode()

    def _strings(self, args, stdin):
        out, status = b"", 0
        for path in args:
            try:
                data = self._read(path)
            except SandboxError as exc:
                out += f"strings: '{path}': No such file\n".encode() if "No such" in str(exc) else f"strings: {exc}\n".encode()
                status = 1
                continue
            out += b"".join(m + b"\n" for m in re.findall(rb"[\x20-\x7e\t]{4,}", data))
        return status, out

    def _grep(self, args, stdin):
        flags, invert = 0, False
        while args and args[0].startswith("-") and len(args) > 1:
            if args[0] == "-i":
                flags |= re.IGNORECASE
            elif args[0] == "-v":
                invert = True
            else:
                return 2, f"grep: unsupported option {args[0]} on the virtual board\n".encode()
            args = args[1:]
        if not args:
            return 2, b"Usage: grep [-i] [-v] PATTERN [FILE]...\n"
        try:
            pattern = re.compile(args[0].encode(), flags)
        except re.error:
            pattern = re.compile(re.escape(args[0].encode()), flags)
        text = stdin
        if len(args) > 1:
            text = b"".join(self._read(p) for p in args[1:])
        hits = [line for line in text.splitlines(keepends=True) if bool(pattern.search(line)) != invert]
        return (0 if hits else 1), b"".join(h if h.endswith(b"\n") else h + b"\n" for h in hits)

    def _ls(self, args, stdin):
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        out, status = b"", 0
        for path in paths:
            host = self.sandbox.host_path(path)
            if host.is_dir():
                out += b"".join(name.encode() + b"\n" for name, *_ in self.sandbox.listdir(path))
            elif host.exists():
                out += path.encode() + b"\n"
            else:
                out += f"ls: cannot access '{path}': No such file or directory\n".encode()
                status = 2
        return status, out

    def _mkdir(self, args, stdin):
        parents = "-p" in args
        status, out = 0, b""
        for path in (a for a in args if a != "-p"):
            host = self.sandbox.writable_host_path(path)
            try:
                host.mkdir(parents=parents, exist_ok=parents)
            except FileExistsError:
                out += f"mkdir: cannot create directory '{path}': File exists\n".encode()
                status = 1
            except FileNotFoundError:
                out += f"mkdir: cannot create directory '{path}': No such file or directory\n".encode()
                status = 1
        return status, out

    def _rm(self, args, stdin):
        opts = "".join(a[1:] for a in args if a.startswith("-"))
        recursive, force = "r" in opts or "R" in opts, "f" in opts
        status, out = 0, b""
        for path in (a for a in args if not a.startswith("-")):
            norm = self.sandbox.normalise(path)
            if norm in ("/", "/tmp", "/data", "/data/local", "/data/local/tmp"):
                out += f"rm: refusing to remove '{path}' on the virtual board\n".encode()
                status = 1
                continue
            host = self.sandbox.writable_host_path(path)
            if host.is_dir() and not host.is_symlink():
                if not recursive:
                    out += f"rm: cannot remove '{path}': Is a directory\n".encode()
                    status = 1
                else:
                    shutil.rmtree(host)
            elif host.exists() or host.is_symlink():
                host.unlink()
            elif not force:
                out += f"rm: cannot remove '{path}': No such file or directory\n".encode()
                status = 1
        return status, out

    def _echo(self, args, stdin):
        if args and args[0] == "-n":
            return 0, " ".join(args[1:]).encode()
        return 0, (" ".join(args) + "\n").encode()

    # The board's processes, as `pidof` and `ps -A` show them (rknn_toolkit2's init_runtime runs
    # `ps -A | grep rknn_server | grep -v grep` before it connects).
    PROCESSES = {"init": 1, "adbd": 301, "rknn_server": 412}

    def _pidof(self, args, stdin):
        pids = [str(self.PROCESSES[a]) for a in args if a in self.PROCESSES]
        return (0, (" ".join(pids) + "\n").encode()) if pids else (1, b"")

    def _ps(self, args, stdin):
        rows = ["USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME"]
        rows += [f"root {pid:>12} {0 if pid == 1 else 1:>5}   10000   2000 0                   0 S {name}"
                 for name, pid in self.PROCESSES.items()]
        return 0, ("\n".join(rows) + "\n").encode()

    def _killall(self, args, stdin):
        # Processes here are a fixed table: nothing is stopped (the vendor restarts rknn_server next).
        names = [a for a in args if not a.startswith("-")]
        missing = [n for n in names if n not in self.PROCESSES]
        return (1, "".join(f"killall: {n}: no process killed\n" for n in missing).encode()) if missing else (0, b"")

    def _chmod(self, args, stdin):
        paths = [a for a in args[1:] if not a.startswith("-")] if args else []
        missing = [p for p in paths if p not in self.profile.files() and not self.sandbox.host_path(p).exists()]
        if not args or missing:
            return 1, "".join(f"chmod: {p}: No such file or directory\n" for p in missing).encode() or b"chmod: missing operand\n"
        return 0, b""   # modes are not modelled on the virtual board

    def _python(self, args, stdin):
        if args and posixpath.basename(args[0]) == "runner.py" and self.runner is not None:
            host = self.sandbox.host_path(args[0])
            if not host.is_file():
                return 2, f"python3: can't open file '{args[0]}': [Errno 2] No such file or directory\n".encode()
            return self.runner(args)
        return 2, (b"python3: the virtual board runs only the rknn_diag on-board runner "
                   b"(python3 .../runner.py --model ... --input ... --outdir ...)\n")
