"""The vendor's torchvision examples in shape, with our own nets made in code (no torchvision: it
cannot sit beside the project's CPU torch): toolkit2 pytorch/resnet18 and 1.x pytorch/resnet18 (a
traced ResNet of BasicBlocks), 1.x hybrid_quantization/mnasnet0_5 (a traced MNASNet of inverted
residuals, step1 -> step2 -> step3 on a board) and 1.x load_quantized_model/pytorch (a quantized
MobileNet v2 made by torch's eager post-training quantization, qnnpack, as torchvision's
`quantize=True` makes it, loaded with `do_quantization=False`). Each script's steps through the
public API, its outputs judged against torch's forward of the same TorchScript."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.boards import attached_board
from fixtures.torchvision_standins import calibrate_batchnorm
from rknn_diag.api import RKNN
from rknn_diag.compare import metrics

torch = pytest.importorskip("torch", reason="load_pytorch needs torch: pip install 'rknn_diag[frontends]'")
nn = torch.nn

SIZE = 32
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 58.395, 58.395]


def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = conv_bn(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + identity)


class ResNet(nn.Module):
    """resnet18's layout, two stages: 7x7/2 stem, max pool, BasicBlocks, average pool, fc."""

    def __init__(self, classes=20):
        super().__init__()
        self.stem, self.maxpool = conv_bn(3, 16, 7, 2), nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(32, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.maxpool(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    """MNASNet's _InvertedResidual: 1x1 expand, depthwise kxk, 1x1 project, residual when shapes allow."""

    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        self.apply_residual = cin == cout and stride == 1
        self.layers = nn.Sequential(conv_bn(cin, mid, 1), conv_bn(mid, mid, k, stride, groups=mid),
                                    conv_bn(mid, cout, 1, relu=False))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


class MNASNet(nn.Module):
    """mnasnet0_5's layout, shortened: stem, depthwise separable, inverted-residual stacks (3x3 and
    5x5), 1x1 conv, mean over H, W, dropout, linear."""

    def __init__(self, classes=20):
        super().__init__()
        self.layers = nn.Sequential(
            conv_bn(3, 16, 3, 2), conv_bn(16, 16, 3, groups=16), conv_bn(16, 8, 1, relu=False),
            InvertedResidual(8, 12, 3, 2, 3), InvertedResidual(12, 12, 3, 1, 3),
            InvertedResidual(12, 20, 5, 2, 3), InvertedResidual(20, 20, 5, 1, 3), conv_bn(20, 64, 1))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


class QuantizableInvertedResidual(nn.Module):
    """torchvision's quantizable MobileNet v2 block: the residual add through FloatFunctional."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        self.use_res_connect = cin == cout and stride == 1
        self.conv = nn.Sequential(conv_bn(cin, mid, 1), conv_bn(mid, mid, 3, stride, groups=mid),
                                  *conv_bn(mid, cout, 1, relu=False))
        self.skip_add = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, x):
        return self.skip_add.add(x, self.conv(x)) if self.use_res_connect else self.conv(x)


class QuantizableMobileNetV2(nn.Module):
    def __init__(self, classes=20):
        super().__init__()
        tq = torch.ao.quantization
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.features = nn.Sequential(conv_bn(3, 16, 3, 2), QuantizableInvertedResidual(16, 16, 1, 1),
                                      QuantizableInvertedResidual(16, 24, 2, 4),
                                      QuantizableInvertedResidual(24, 24, 1, 4), conv_bn(24, 64, 1))
        self.pool, self.classifier = nn.AdaptiveAvgPool2d(1), nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x):
        x = self.pool(self.features(self.quant(x)))
        return self.dequant(self.classifier(torch.flatten(x, 1)))

    def fuse_model(self):
        """torchvision's fuse_model: every Conv-BN(-ReLU) run fused."""
        for m in list(self.modules()):
            if isinstance(m, nn.Sequential) and len(m) >= 2 and isinstance(m[0], nn.Conv2d):
                torch.ao.quantization.fuse_modules(m, ["0", "1", "2"] if len(m) == 3 and isinstance(m[2], nn.ReLU)
                                                   else ["0", "1"], inplace=True)
            elif isinstance(m, QuantizableInvertedResidual):
                torch.ao.quantization.fuse_modules(m.conv, ["2", "3"], inplace=True)


def nchw(img: np.ndarray, mean, std) -> torch.Tensor:
    return torch.from_numpy(((img.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None].copy())


def calibration_batch(mean, std) -> torch.Tensor:
    """The example folder's dataset images, normalised: what the stand-in's BatchNorms are set on."""
    names = Path("dataset.txt").read_text().split()
    return torch.cat([nchw(np.asarray(Image.open(n).convert("RGB")), mean, std) for n in names])


def trained_like(net: nn.Module) -> nn.Module:
    """A net with BatchNorm statistics of its own inputs on the dataset (the torchvision stand-ins' rule)."""
    torch.manual_seed(0)
    calibrate_batchnorm(net, calibration_batch(np.float32(MEAN), np.float32(STD)), seed=0)
    return net.eval()


def script_image() -> np.ndarray:
    """img = cv2.cvtColor(cv2.imread('./space_shuttle_224.jpg'), cv2.COLOR_BGR2RGB)"""
    return np.asarray(Image.open(f"dog_{SIZE}x{SIZE}.jpg").convert("RGB"))


def float_answer(net: nn.Module, img: np.ndarray, mean=MEAN, std=STD) -> np.ndarray:
    with torch.no_grad():
        return net(nchw(img, np.float32(mean), np.float32(std))).numpy()


def export_pytorch_model(net: nn.Module, path: str) -> None:
    """The scripts' export_pytorch_model(): eval, trace with torch.Tensor(1, 3, H, W), save."""
    net.eval()
    torch.jit.trace(net, torch.Tensor(1, 3, SIZE, SIZE)).save(path)


def test_toolkit2_pytorch_resnet18_script(example):
    example(size=SIZE)
    net = trained_like(ResNet())
    export_pytorch_model(net, "./resnet18.pt")
    rknn = RKNN(verbose=True)
    rknn.config(mean_values=MEAN, std_values=STD, target_platform="rk3566")
    assert rknn.load_pytorch(model="./resnet18.pt", input_size_list=[[1, 3, SIZE, SIZE]]) == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./resnet_18.rknn") == 0
    img = script_image()
    assert rknn.init_runtime() == 0
    outputs = rknn.inference(inputs=[np.expand_dims(img, 0)], data_format=["nhwc"])
    rknn.release()
    want = float_answer(net, img)
    assert outputs[0].shape == want.shape == (1, 20)
    assert metrics(outputs[0], want)["cosine"] > 0.99


def test_1x_pytorch_resnet18_script_on_a_board(example, adb_server):
    example(size=SIZE)
    net = trained_like(ResNet())
    export_pytorch_model(net, "./resnet18.pt")
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.load_pytorch(model="./resnet18.pt", input_size_list=[[3, SIZE, SIZE]]) == 0
    assert rknn.build(do_quantization=True, dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./resnet_18.rknn") == 0
    img = script_image()
    with attached_board(adb_server, "rv1126") as board:
        assert rknn.init_runtime(target="rv1126", device_id=board.serial, adb_server=adb_server.address) == 0
        outputs = rknn.inference(inputs=[img])
        rknn.release()
    want = float_answer(net, img)
    assert outputs[0].shape == want.shape == (1, 20)
    assert metrics(outputs[0], want)["cosine"] > 0.99


def test_1x_hybrid_quantization_mnasnet_steps_on_a_board(example, adb_server):
    example(size=SIZE)
    net = trained_like(MNASNet())
    # step1.py
    export_pytorch_model(net, "./mnasnet0_5.pt")
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.load_pytorch(model="./mnasnet0_5.pt", input_size_list=[[3, SIZE, SIZE]]) == 0
    assert rknn.hybrid_quantization_step1(dataset="./dataset.txt") == 0
    rknn.release()
    # step2.py: a new process, the files named after the model file
    rknn = RKNN()
    rknn.config(mean_values=[MEAN], std_values=[STD], reorder_channel="0 1 2", target_platform=["rv1126"])
    assert rknn.hybrid_quantization_step2(model_input="./mnasnet0_5.json", data_input="./mnasnet0_5.data",
                                          model_quantization_cfg="./mnasnet0_5.quantization.cfg",
                                          dataset="./dataset.txt") == 0
    assert rknn.export_rknn("./mnasnet0_5.rknn") == 0
    rknn.release()
    # step3.py
    img = script_image()
    with attached_board(adb_server, "rv1126") as board:
        rknn = RKNN()
        assert rknn.load_rknn("./mnasnet0_5.rknn") == 0
        assert rknn.init_runtime(target="rv1126", device_id=board.serial, adb_server=adb_server.address) == 0
        outputs = rknn.inference(inputs=[img])
        rknn.release()
    want = float_answer(net, img)
    assert outputs[0].shape == want.shape == (1, 20)
    assert metrics(outputs[0], want)["cosine"] > 0.98


@pytest.mark.parametrize("engine", ["qnnpack", "fbgemm"])
def test_1x_load_quantized_model_pytorch_script_on_a_board(example, adb_server, engine):
    """torchvision.models.quantization.mobilenet_v2(pretrained=True, quantize=True), traced on the
    normalised image; ours keeps the model's own scales (do_quantization=False, no dataset file).
    qnnpack: torchvision's weights for it (per-tensor weights); fbgemm: its other backend
    (per-channel weights, reduced activation range), as torchvision's quantized ResNets."""
    example(size=SIZE)
    mean, std = [m * 255 for m in (0.485, 0.456, 0.406)], [s * 255 for s in (0.229, 0.224, 0.225)]
    tq = torch.ao.quantization
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        torch.manual_seed(0)
        net = QuantizableMobileNetV2()
        calibrate_batchnorm(net, calibration_batch(np.float32(mean), np.float32(std)), seed=0)
        float_net = copy.deepcopy(net.eval())
        net.qconfig = tq.get_default_qconfig(engine)
        net.fuse_model()
        tq.prepare(net, inplace=True)
        with torch.no_grad():
            net(calibration_batch(np.float32(mean), np.float32(std)))
        tq.convert(net, inplace=True)
        img = script_image().astype(np.float32)
        x = nchw(img, np.float32(mean), np.float32(std))
        torch.jit.save(torch.jit.trace(net, x), "./quantized_mobilenet.pt")
        with torch.no_grad():
            want, in_float = net(x).numpy(), float_net(x).numpy()
        out_scale, out_zero = net.classifier[1].scale, net.classifier[1].zero_point     # the last layer's
    finally:
        torch.backends.quantized.engine = before
    rknn = RKNN(verbose=False, verbose_file="./verbose_log.txt")
    rknn.config(quantize_input_node=True, merge_dequant_layer_and_output_node=True, target_platform=["rv1126"],
                optimization_level=3)
    assert rknn.load_pytorch(model="./quantized_mobilenet.pt", input_size_list=[[3, SIZE, SIZE]]) == 0
    assert rknn.build(do_quantization=False, dataset="dataset.txt") == 0
    assert rknn.export_rknn("quantized_mobilenet.rknn") == 0
    normalised = ((img - np.float32(mean)) / np.float32(std)).astype(np.float32)
    with attached_board(adb_server, "rv1126") as board:
        assert rknn.init_runtime(target="rv1126", device_id=board.serial, adb_server=adb_server.address) == 0
        outputs = rknn.inference(inputs=[normalised])
        rknn.release()
    # merge_dequant_layer_and_output_node: the output comes back as the model's own integers
    out = outputs[0]
    assert out.shape == want.shape == (1, 20)
    assert out.dtype == np.uint8, out.dtype
    real = out_scale * (out.astype(np.float32) - out_zero)
    assert metrics(real, want)["cosine"] > 0.999
    assert metrics(real, want)["cosine"] > metrics(real, in_float)["cosine"]   # the quantized net's answer
