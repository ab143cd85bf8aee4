"""PyTorch frontend: a TorchScript `.pt` (torch.jit.trace(...).save) -> the IR.

torch's own ONNX exporter (the TorchScript-based one, which takes a loaded ScriptModule)
lowers the module at the sizes of `input_size_list`; the ONNX frontend loads the result. IR
nodes keep the exporter's names, which are the module paths (`/layer1/conv1/Conv`).

The archive's kind is judged before torch sees it, with the doctor's zip reader (never
unpickled): a weights-only `.pth` or a legacy file is refused with the guide's fix (§5.2).
`torch.jit.load` reads TorchScript archives with TorchScript's own C++ unpickler, which
builds TorchScript values only, never Python's pickle; `torch.load` is never called.
Ops torch cannot export are refused naming the `aten::` op (§5.3). Toolkit 1.x scripts give
`input_size_list` without the batch dimension ([[3, 224, 224]], as all its examples do); toolkit2
scripts with it ([[1, 3, 224, 224]]): the script's generation decides (`dropin.generation`).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

from ..doctor.checks.model_torch import kind_of, members
from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph

OPSET = 17
ATEN = re.compile(r"aten::[A-Za-z0-9_.]+")


def _torch():
    try:
        import torch
    except ImportError:
        raise ModelLoadError("load_pytorch needs torch, which is not installed",
                             fix="pip install 'rknn_diag[frontends]' (CPU torch 2.13.0)") from None
    return torch


def _check_archive(path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"PyTorch model not found: {path}", fix="check the model= path passed to load_pytorch()")
    names = members(path)
    if names is None:
        raise ModelLoadError("PytorchStreamReader failed reading zip archive: failed finding central directory "
                             "(a legacy torch.save file or a damaged one)", where=str(path), ref="5.2",
                             fix="define the net, net.load_state_dict(weights), then save TorchScript with "
                                 "torch.jit.trace(net.eval(), example).save('model.pt') and load that file")
    kind = kind_of(names)
    if kind == "weights":
        raise ModelLoadError("the file holds weights only (data.pkl, no code/): no network structure",
                             where=str(path), ref="5.2",
                             fix="define the net, net.load_state_dict(torch.load(pth)), then "
                                 "torch.jit.trace(net.eval(), example).save('model.pt') and load that file")
    if kind != "torchscript":
        raise ModelLoadError("a zip without code/ or data.pkl: not a PyTorch archive", where=str(path), ref="5.2",
                             fix="pass a TorchScript .pt made with torch.jit.trace(...).save(...)")


def _sizes(input_size_list, where: str) -> list[list[int]]:
    if not input_size_list or not all(isinstance(s, (list, tuple)) and s for s in input_size_list):
        raise ModelLoadError(f"input_size_list={input_size_list!r} gives no input shapes", where=where,
                             fix="pass input_size_list=[[1, 3, 224, 224]] (one shape per input)")
    return [[int(d) for d in s] for s in input_size_list]


def to_onnx(model: str | os.PathLike, input_size_list, batchless: bool = False) -> bytes:
    """`batchless`: the sizes are toolkit 1.x's, without the batch dimension (batch 1 is added)."""
    path = Path(model)
    _check_archive(path)
    sizes = [[1, *s] if batchless else s for s in _sizes(input_size_list, str(path))]
    torch = _torch()
    try:
        with warnings.catch_warnings():    # torch 2.9+ deprecates TorchScript; it is the format the vendor reads
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:
        raise ModelLoadError(f"torch cannot read the TorchScript archive: {str(e).splitlines()[0]}", where=str(path),
                             ref="5.2", fix="save it again with torch.jit.trace(net.eval(), example).save(...)") \
            from None
    module.eval()
    args = tuple(torch.zeros(s) for s in sizes)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, buf, dynamo=False, opset_version=OPSET, do_constant_folding=True,
                              input_names=[f"input{i}" for i in range(len(sizes))])
    except Exception as e:
        text = str(e)
        op = ATEN.search(text)
        if op:
            raise UnsupportedOpError(f"the op '{op.group()}' cannot be converted (\"KeyError: '{op.group()}'\")",
                                     where=str(path), ref="5.3",
                                     fix="replace it in forward() with supported ops and trace again, or upgrade "
                                         "torch and this toolkit") from None
        first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
        raise ModelLoadError(f"torch could not lower the module at input_size_list={sizes}: {first[:300]}",
                             where=str(path), fix="check input_size_list matches what forward() expects, and that "
                                                  "the net is an nn.Module traced with torch.jit.trace") from None
    return buf.getvalue()


def load(model: str | os.PathLike, input_size_list, batchless: bool = False) -> Graph:
    from . import onnx_loader
    graph = onnx_loader.load(to_onnx(model, input_size_list, batchless))
    graph.meta["source"] = str(model)
    return graph
