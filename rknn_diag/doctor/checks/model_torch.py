"""PyTorch model checks (guide §5.1, §5.2), judged by zip structure and text members only.

Never unpickled: a TorchScript archive holds `code/**.py` (the traced program as text)
and `constants.pkl`/`data.pkl`; a weights-only `.pth` (torch.save(state_dict)) holds
`data.pkl` and tensors but no `code/`; the legacy pre-1.6 torch.save format is not a zip.
"""

from __future__ import annotations

import re
import zipfile
import zlib

from ..core import check, error, ok, skip, warn
from ..modelinfo import models_of

# §5.1: `x.view(x.size(0), -1)` traces to a size() taken from a tensor at run time
# (`torch.size(x, 0)` / `x.size(0)` in the TorchScript code) feeding view/reshape.
SIZE_CALL = re.compile(r"(?:torch\.size\(\s*[\w.]+\s*,\s*0\s*\)|[\w.\]\)]\.size\(\s*0\s*\))")
VIEW_CALL = re.compile(r"(?:\.view\(|torch\.view\(|\.reshape\(|torch\.reshape\(|\.flatten\()")
MAX_CODE_BYTES = 8 << 20    # code members are small text; do not read a huge one whole
MAX_TOTAL_BYTES = 64 << 20  # all code members of one archive: bounds memory and time per input


def read_capped(z: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    """A member's bytes, or None when it inflates past `cap`. Reads the stream, not the
    declared size: a member may claim 1 KB and inflate to gigabytes."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # torch writes stored members; bzip2/lzma inflate without a per-read bound
        raise NotImplementedError(f"compression {info.compress_type}")
    with z.open(info) as f:
        data = f.read(cap + 1)
    return None if len(data) > cap else data


def members(path) -> list[str] | None:
    """Archive member paths with the archive's top folder removed; None if not a zip."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            return [n.split("/", 1)[1] if "/" in n else n for n in z.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError):   # a damaged central directory
        return None


def kind_of(names: list[str]) -> str:
    has_code = any(n.startswith("code/") for n in names)
    has_data = "data.pkl" in names or "constants.pkl" in names
    if has_code and has_data:
        return "torchscript"
    if "data.pkl" in names:
        return "weights"
    return "unknown"


@check("model.pytorch.archive", "models", "5.2", "a TorchScript archive, not a weights-only .pth")
def archive(ctx):
    paths = models_of(ctx, "pytorch")
    if not paths:
        return skip("no PyTorch --model given")
    out = []
    for p in paths:
        names = members(p)
        if names is None:
            out.append(error(f"{p.name} is not a zip archive: 'PytorchStreamReader failed reading zip archive: "
                             "failed finding central directory' (legacy torch.save format, or a damaged file)",
                             "load the weights into the network in Python and save a TorchScript file: "
                             "torch.jit.trace(net.eval(), example).save('model.pt')"))
            continue
        k = kind_of(names)
        if k == "torchscript":
            out.append(ok(f"{p.name}: TorchScript archive ({sum(n.startswith('code/') for n in names)} code members)"))
        elif k == "weights":
            out.append(error(f"{p.name} holds weights only (data.pkl, no code/): it has no network structure",
                             "define the net, net.load_state_dict(weights), then torch.jit.trace(net, example)"
                             ".save('model.pt') and load that file"))
        else:
            out.append(error(f"{p.name}: a zip without code/ or data.pkl, not a PyTorch archive",
                             "pass a TorchScript .pt made with torch.jit.trace(...).save(...)"))
    return out


@check("model.pytorch.view_size", "models", "5.1", "no x.view(x.size(0), -1) in the traced graph")
def view_size(ctx):
    paths = [p for p in models_of(ctx, "pytorch") if (members(p) and kind_of(members(p)) == "torchscript")]
    if not paths:
        return skip("no TorchScript --model given")
    out = []
    for p in paths:
        hits, unreadable, budget = [], [], MAX_TOTAL_BYTES
        with zipfile.ZipFile(p) as z:
            for info in z.infolist():
                inner = info.filename.split("/", 1)[-1]
                if not (inner.startswith("code/") and inner.endswith(".py")):
                    continue
                cap = min(MAX_CODE_BYTES, budget)
                try:
                    data = read_capped(z, info, cap)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error,
                        NotImplementedError, RuntimeError) as e:   # damaged, odd compression, encrypted
                    unreadable.append(f"{inner} ({type(e).__name__})")
                    continue
                if data is None:
                    unreadable.append(f"{inner} (over {cap >> 20} MiB inflated)")
                    if cap < MAX_CODE_BYTES:
                        break   # the archive's whole budget is spent
                    continue
                budget -= len(data)
                text = data.decode("utf-8", "replace")
                if not VIEW_CALL.search(text):
                    continue
                for n, line in enumerate(text.splitlines(), 1):
                    if SIZE_CALL.search(line):
                        hits.append(f"{inner}:{n}: {line.strip()[:80]}")
        if unreadable:
            out.append(warn(f"{p.name}: damaged or oversized code members not checked: {', '.join(unreadable[:3])}",
                            "save the TorchScript file again"))
        if hits:
            out.append(error(f"{p.name}: a batch size read at run time feeds view/reshape "
                             f"('assert(tsr.op_type == \\'Constant\\')' on load): {'; '.join(hits[:3])}",
                             "write x.view(int(x.size(0)), -1) (or a fixed batch) in forward() and trace again"))
        elif not unreadable:
            out.append(ok(f"{p.name}: no run-time size() feeding view/reshape"))
    return out
