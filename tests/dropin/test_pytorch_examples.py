"""Toolkit 1.x's PyTorch examples in shape: common_function_demos/model_pruning (a ConvBlock net
with structurally pruned convs, traced and saved by the script itself, loaded with the 1.x
`input_size_list=[[3, H, W]]`, without the batch) — and toolkit2's form with the batch."""

from __future__ import annotations

import numpy as np
import pytest

from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

torch = pytest.importorskip("torch", reason="load_pytorch needs torch: pip install 'rknn_diag[frontends]'")


class ConvBlock(torch.nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, stride, padding, bias=True)
        self.bn = torch.nn.BatchNorm2d(cout)
        self.relu = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class MultiConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = ConvBlock(3, 16, 3, 1, 1), ConvBlock(16, 16, 1, 1, 1), \
            ConvBlock(16, 16, 2, 1, 1)

    def forward(self, x):
        return self.conv3(self.conv2(self.conv1(x)))


def pruned_multi_conv(path: str, size: int) -> tuple:
    """What the example's script does before calling RKNN: prune, eval, trace, save."""
    from torch.nn.utils import prune
    torch.manual_seed(1024)
    model = MultiConv()
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            prune.ln_structured(m, name="weight", amount=0.5, n=2, dim=0)
            prune.remove(m, "weight")
    model.eval()
    fake_in = torch.rand(1, 3, size, size) * 255
    torch.jit.save(torch.jit.trace(model, fake_in), path)
    return model, fake_in


@pytest.mark.parametrize("target, size_of", [("rv1126", lambda s: [3, s, s]), ("rk3588", lambda s: [1, 3, s, s])],
                         ids=["1.x-batchless", "toolkit2-batched"])
def test_model_pruning_example_loads_the_scripts_own_torchscript(tmp_path, monkeypatch, capsys, target, size_of):
    monkeypatch.chdir(tmp_path)
    model, fake_in = pruned_multi_conv("Multi_Conv.pt", 32)
    rknn = RKNN(verbose=True)
    rknn.config(model_pruning=True, target_platform=[target])
    assert rknn.load_pytorch(model="Multi_Conv.pt", input_size_list=[size_of(32)]) == 0
    assert rknn.build(do_quantization=False, dataset="dataset.txt") == 0
    assert "model_pruning" in capsys.readouterr().out        # the pruning report of config(model_pruning=True)
    assert rknn.export_rknn("Multi_Conv_pruning.rknn") == 0
    assert rknn.init_runtime() == 0
    out = rknn.inference([fake_in.numpy().transpose(0, 2, 3, 1)])[0]
    with torch.no_grad():
        want = model(fake_in).numpy()
    assert out.shape == want.shape == (1, 16, 35, 35)
    assert metrics(out, want)["cosine"] > 0.999
    rknn.release()
