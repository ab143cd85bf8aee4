"""The vendor's public example scripts, run as shipped on rknn-toolkit2 and with only their
`rknn.` imports renamed on ours: which run, and where both run, do their outputs agree?

    python bench/dropin_examples.py --toolkit2-repo DIR --toolkit1-repo DIR [--only ID ...]
                                    [--json docs/dropin_examples.json]

DIR: git directories of airockchip/rknn-toolkit2 and rockchip-linux/rknn-toolkit (e.g. the
`fetch` tool's /work/.mirror/<owner>+<name>/repo). Each example folder is exported from the
repository's HEAD into a temporary folder; where the shipped model is not in the repository
(files over a few MB are kept out of it) a stand-in made by code takes its name (listed per
example in EXAMPLES, with the shapes it keeps). Every run is its own process with a timeout.
A prologue records every `inference()` result to `__out_<call>_<k>.npy` (the same prologue for
both sides: the script itself is untouched apart from the import rename); the first call's
outputs are compared with the cosine of `tolerances.DROPIN_AGREE_COSINE`.
The vendor run needs RKNN_DIAG_TOOLKIT2_PYTHON (or --vendor-python) pointing at its interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rknn_diag.dropin.scripts import ScriptRun, rename_imports  # noqa: E402
from rknn_diag.tolerances import DROPIN_AGREE_COSINE  # noqa: E402

PROLOGUE = '''\
import itertools as _it, json as _json, numpy as _np
import rknn.api as _rknn_api
_calls = _it.count()
_orig_inference, _orig_config = _rknn_api.RKNN.inference, _rknn_api.RKNN.config
def _recorded_inference(self, inputs=None, *args, **kwargs):
    outputs = _orig_inference(self, inputs, *args, **kwargs)
    if outputs is not None:
        call = next(_calls)
        for k, out in enumerate(outputs):
            _np.save(f"__out_{call}_{k}.npy", _np.asarray(out))
        if call == 0:   # what went in, for a float32 reference of the first call
            for k, x in enumerate(inputs if isinstance(inputs, (list, tuple)) else [inputs]):
                _np.save(f"__in_0_{k}.npy", _np.asarray(x))
            with open("__in_0.json", "w") as f:
                _json.dump({"data_format": kwargs.get("data_format", args[0] if args else "nhwc")}, f, default=str)
    return outputs
def _recorded_config(self, *args, **kwargs):
    with open("__config.json", "w") as f:
        _json.dump(kwargs, f, default=str)
    return _orig_config(self, *args, **kwargs)
_rknn_api.RKNN.inference, _rknn_api.RKNN.config = _recorded_inference, _recorded_config
'''


# -- stand-ins (our own models with the shipped model's file name, input and output names/shapes) --
def resnet50v2_onnx(folder: Path) -> str:
    import onnx
    from fixtures.dropin import classifier
    onnx.save(classifier(224, classes=1000, out_name="resnetv24_dense0_fwd"), str(folder / "resnet50v2.onnx"))
    return "resnet50v2.onnx: a 2-conv classifier, input data 1x3x224x224, output resnetv24_dense0_fwd 1x1000"


def shufflenet_onnx(folder: Path) -> str:
    import onnx
    from fixtures.dropin import classifier
    onnx.save(classifier(224, classes=1000, out_name="output"), str(folder / "shufflenetv2_x1.onnx"))
    return "shufflenetv2_x1.onnx: a 2-conv classifier, input data 1x3x224x224, 1000 classes"


def yolov5s_onnx(folder: Path) -> str:
    """Three heads of YOLOv5s's shapes at 640: (1,255,80,80), (1,255,40,40), (1,255,20,20)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    inits, nodes, outs = [], [], []
    prev, c = "images", 3
    for i, (stride, ch) in enumerate([(8, 16), (2, 32), (2, 32)]):
        w = f"w{i}"
        inits.append(numpy_helper.from_array((rng.standard_normal((ch, c, stride, stride)) *
                                              np.sqrt(2 / (c * stride * stride))).astype(np.float32), w))
        nodes += [helper.make_node("Conv", [prev, w], [f"c{i}"], strides=[stride, stride]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        h = numpy_helper.from_array((rng.standard_normal((255, ch, 1, 1)) * 0.2).astype(np.float32), f"h{i}")
        inits.append(h)
        nodes.append(helper.make_node("Conv", [f"r{i}", f"h{i}"], [f"output{i}"]))
        size = 640 // (8 * 2 ** i)
        outs.append(helper.make_tensor_value_info(f"output{i}", TensorProto.FLOAT, [1, 255, size, size]))
        prev, c = f"r{i}", ch
    g = helper.make_graph(nodes, "yolov5s_standin",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])], outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])
    m.ir_version = 7
    onnx.save(m, str(folder / "yolov5s_relu.onnx"))
    return "yolov5s_relu.onnx: strided convs to YOLOv5s's three head shapes (1,255,80/40/20), input 1x3x640x640"


# the MobileNet Caffe models' own normalisation (their prototxts' transform_param): pixels - mean, x 0.017
MOBILENET_CAFFE = ([103.94, 116.78, 123.68], [58.82] * 3)


def _caffe(prototxt: str, caffemodel: str, sub: str = ".", scale: dict[str, float] | None = None,
           trained: bool = False):
    """A Caffe stand-in: trained weights (`fixtures.caffe_trained`) for the MobileNet prototxts,
    random ones with data-calibrated BatchNorm for the others (VGG-SSD: no detection training here)."""
    def make(folder: Path) -> str:
        where = (folder / sub).resolve()
        if trained:
            from fixtures.caffe_trained import trained_caffemodel
            how = trained_caffemodel(where / prototxt, where / caffemodel, *MOBILENET_CAFFE)
            return (f"{sub}/{caffemodel}: the shipped {prototxt} trained {how['steps']} steps on procedural "
                    f"texture classes at {how['side']}x{how['side']} (final loss {how['final_loss']:.2f}), "
                    f"same layers, names and shapes")
        from fixtures.frontends import caffemodel_for
        layers = caffemodel_for(where / prototxt, where / caffemodel, scale=scale)
        scaled = f"; {', '.join(f'{k} weights x{v:g}' for k, v in scale.items())}" if scale else ""
        return (f"{sub}/{caffemodel}: random weights for the shipped {prototxt} ({len(layers)} layers with weights; "
                f"BatchNorm statistics from the data{scaled}), same layers, names and shapes")
    make.__name__ = f"caffe_{Path(caffemodel).stem}"
    make.caffe = (sub, prototxt, caffemodel)    # for the float32 reference (caffe_float32)
    make.trained = trained                      # a MobileNet: photos_judge where the sides disagree
    return make


def caffe_float32(folder: Path, caffe: tuple[str, str, str], outputs: list[np.ndarray]) -> list[np.ndarray]:
    """The float32 answer to the first inference() call of a Caffe example: OpenCV's Caffe forward
    of the stand-in with the input the script passed, normalised by its config's mean/std in the
    order given (quant_img_RGB2BGR swaps the dataset's images only). One per output, matched by
    size (the SSD priors, not returned, are left out)."""
    import cv2
    sub, prototxt, caffemodel = caffe
    net = cv2.dnn.readNetFromCaffe(str(folder / sub / prototxt), str(folder / sub / caffemodel))
    net.setInput(first_input_nchw(folder))
    ref = [np.asarray(o) for o in net.forward(net.getUnconnectedOutLayersNames())]
    by_size = {o.size: o for o in ref}
    return [by_size.get(o.size) for o in outputs]


def torch_float32(folder: Path, traced: str, outputs: list[np.ndarray], engine: str | None = None) -> list[np.ndarray]:
    """The float32 answer (for a quantized TorchScript: torch's own quantized forward on the
    kernels it was made for, `engine`) to the first inference() call of a script that traced a
    torchvision model: the TorchScript it saved, run by torch on the input the script passed,
    normalised as its config says."""
    import torch
    before = torch.backends.quantized.engine
    try:
        if engine:
            torch.backends.quantized.engine = engine
        with torch.no_grad():
            ref = torch.jit.load(str(folder / traced))(torch.from_numpy(first_input_nchw(folder)))
    finally:
        torch.backends.quantized.engine = before
    ref = [np.asarray(o) for o in (ref if isinstance(ref, (list, tuple)) else [ref])]
    by_size = {o.size: o for o in ref}
    return [by_size.get(o.size) for o in outputs]


def onnx_export_answer(folder: Path, traced: str) -> np.ndarray:
    """onnxruntime's run of torch's own ONNX export of the TorchScript (what load_pytorch reads):
    for a quantized TorchScript, the QDQ semantics of the model's own parameters, without torch's
    kernels' rounding."""
    import onnxruntime as ort
    from rknn_diag.frontends.pytorch_loader import to_onnx
    x = first_input_nchw(folder)
    sess = ort.InferenceSession(to_onnx(folder / traced, [list(x.shape)]), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


# ours' line for an output returned as integers (merge_dequant_layer_and_output_node=True)
INTEGER_OUTPUT = re.compile(r"returned as integers: \w+, scale ([0-9.eE+-]+), zero point (-?\d+)")


def as_real(outputs: list[np.ndarray], log: str) -> list[np.ndarray]:
    """Integer outputs (merge_dequant_layer_and_output_node) as real values, scale * (q - zero
    point), with the parameters the build's log gives in output order; float outputs as they are."""
    params = iter(INTEGER_OUTPUT.findall(log))
    real = []
    for out in outputs:
        p = next(params, None) if np.issubdtype(out.dtype, np.integer) else None
        real.append(np.float64(p[0]) * (out.astype(np.float64) - int(p[1])) if p else out)
    return real


def config_normalisation(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mean and std the script's config() gave (recorded in __config.json), flat."""
    cfg = json.loads((folder / "__config.json").read_text())
    return (np.asarray(cfg.get("mean_values", [0, 0, 0]), np.float32).reshape(-1),
            np.asarray(cfg.get("std_values", [1, 1, 1]), np.float32).reshape(-1))


def first_input_nchw(folder: Path) -> np.ndarray:
    """The first inference() call's first input as the float model sees it: NCHW, normalised by
    the config's mean/std in the order given (quant_img_RGB2BGR swaps the dataset's images only)."""
    fmt = json.loads((folder / "__in_0.json").read_text())["data_format"]
    fmt = fmt[0] if isinstance(fmt, list) else fmt
    x = np.load(folder / "__in_0_0.npy").astype(np.float32)
    if x.ndim == 3 and fmt == "nhwc":      # square images, several stacked on axis 0 (rknn_batch_size)
        x = x.reshape(-1, x.shape[1], x.shape[1], x.shape[2])
    elif x.ndim == 3:
        x = x[None]
    if fmt == "nchw":
        x = x.transpose(0, 2, 3, 1)
    mean, std = config_normalisation(folder)
    return np.ascontiguousarray(((x - mean) / std).transpose(0, 3, 1, 2))


# The 20 ImageNet validation photos rknn-toolkit2 ships with caffe/mobilenet_v2. Where the two
# sides disagree on a Caffe MobileNet row, each side's build of the row also infers them: one image
# shows the luck of rounding (a 27-layer net's 8-bit errors grow to cosine ~0.8 mid-net on both
# toolkits, so which side lands nearer float32 on one image varies), 20 show which side is nearer.
PHOTOS = "rknn-toolkit2/examples/caffe/mobilenet_v2/imgs"
PHOTOS_SCRIPT = """\
import glob, json, re, sys
import cv2, numpy as np
from rknn.api import RKNN
proto, blobs, photos = sys.argv[1:4]
text = open(sys.argv[4]).read()
dataset = re.search(r"dataset\\s*=\\s*[\\x27\\x22]([^\\x27\\x22]+)", text).group(1)
batch = int((re.search(r"rknn_batch_size\\s*=\\s*(\\d+)", text) or [0, 1])[1])
rknn = RKNN()
rknn.config(**json.load(open("__config.json")))
assert rknn.load_caffe(model=proto, blobs=blobs) == 0
assert rknn.build(do_quantization=True, dataset=dataset, rknn_batch_size=batch) == 0
assert rknn.init_runtime() == 0
outs = []
for f in sorted(glob.glob(photos + "/*.JPEG")):
    img = cv2.resize(cv2.imread(f), (224, 224))
    outs.append(rknn.inference(inputs=[np.repeat(img[None], batch, 0)], data_format=["nhwc"])[0][:1].ravel())
np.save("__photos_out.npy", np.stack(outs))
"""


def photos_judge(repo: Path, tmp: Path, folders: dict[str, Path], pythons: dict[str, list[str]], script: str,
                 caffe: tuple[str, str, str], timeout: float) -> dict:
    """Each side's build of the row (its own config(), dataset and batch) on the shipped photos,
    against OpenCV's float32 forward of each: mean cosine per side, and on how many ours is nearer."""
    import cv2
    sub, prototxt, caffemodel = caffe
    photos = sorted(export(repo, PHOTOS, tmp / "photos").glob("*.JPEG"))
    if not photos:
        return {"error": f"no photos in {PHOTOS}"}
    got = {}
    for who, folder in folders.items():
        text = rename_imports(PHOTOS_SCRIPT) if who == "ours" else PHOTOS_SCRIPT
        (folder / "__photos.py").write_text(text)
        env = {**os.environ, "PYTHONPATH": str(REPO) if who == "ours" else ""}
        done = subprocess.run([*pythons[who], "__photos.py", f"{sub}/{prototxt}", f"{sub}/{caffemodel}",
                               str(photos[0].parent), script], cwd=folder, capture_output=True, text=True,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            return {"error": f"{who}: " + (done.stdout + done.stderr)[-600:]}
        got[who] = np.load(folder / "__photos_out.npy")
    mean, std = config_normalisation(folders["ours"])
    net = cv2.dnn.readNetFromCaffe(str(folders["ours"] / sub / prototxt), str(folders["ours"] / sub / caffemodel))
    refs = []
    for f in photos:
        x = (cv2.resize(cv2.imread(str(f)), (224, 224)).astype(np.float32) - mean) / std
        net.setInput(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
        refs.append(np.asarray(net.forward()).ravel())
    cos = {who: np.array([cosine(o, r) for o, r in zip(out, refs)]) for who, out in got.items()}
    return {"images": len(photos), "ours_mean": round(float(cos["ours"].mean()), 6),
            "vendor_mean": round(float(cos["vendor"].mean()), 6),
            "ours_nearer_on": int((cos["ours"] > cos["vendor"]).sum()),
            "ours_no_further": bool(cos["ours"].mean() >= cos["vendor"].mean())}


def _keras_mobilenet_trunk():
    """Seeded MobileNet-v1-shaped Keras layers up to the pooled features: conv s2, depthwise s2,
    pointwise, global average pool; (input, pooled) for the .tflite stand-ins' heads."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((224, 224, 3), batch_size=1, name="input")
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inp)
    x = tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
    x = tf.keras.layers.Conv2D(32, 1, activation="relu6")(x)
    return inp, tf.keras.layers.GlobalAveragePooling2D()(x)


def _tflite(name: str, sub: str = "."):
    """A MobileNet-v1-shaped float .tflite: input 1x224x224x3, output 1x1001 softmax (conv s2,
    depthwise, pointwise, pooled, dense), made with TensorFlow's converter."""
    def make(folder: Path) -> str:
        import tensorflow as tf
        inp, x = _keras_mobilenet_trunk()
        out = tf.keras.layers.Dense(1001, activation="softmax")(x)
        model = tf.keras.Model(inp, out)
        (folder / sub / name).write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        return f"{sub}/{name}: conv s2, depthwise s2, pointwise, pooled, dense 1001 + softmax; input 1x224x224x3"
    make.__name__ = f"tflite_{Path(name).stem}"
    return make


def mobilenet_v1_frozen_pb(folder: Path) -> str:
    """mobilenet_v1_1.0_224_frozen.pb's interface: placeholder `input` 1x224x224x3, output
    `MobilenetV1/Logits/SpatialSqueeze` 1x1001 (conv s2, depthwise, pointwise, avg pool, 1x1 conv, squeeze)."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 224, 224, 3], name="input")

        def w(shape, fan):
            return tf.constant((rng.standard_normal(shape) * np.sqrt(2.0 / fan)).astype(np.float32))
        x = tf.nn.relu6(tf.nn.conv2d(x, w([3, 3, 3, 16], 27), 2, "SAME") + tf.constant(0.1, shape=[16]))
        x = tf.nn.relu6(tf.nn.depthwise_conv2d(x, w([3, 3, 16, 1], 9), [1, 2, 2, 1], "SAME"))
        x = tf.nn.relu6(tf.nn.conv2d(x, w([1, 1, 16, 32], 16), 1, "SAME"))
        x = tf.nn.avg_pool2d(x, 56, 56, "VALID")
        x = tf.nn.bias_add(tf.nn.conv2d(x, w([1, 1, 32, 1001], 32), 1, "VALID"),
                           tf.constant((rng.standard_normal(1001) * 0.1).astype(np.float32)))
        tf.squeeze(x, [1, 2], name="MobilenetV1/Logits/SpatialSqueeze")
    (folder / "mobilenet_v1_1.0_224_frozen.pb").write_bytes(g.as_graph_def().SerializeToString())
    return ("mobilenet_v1_1.0_224_frozen.pb: input 1x224x224x3 -> MobilenetV1/Logits/SpatialSqueeze 1x1001 "
            "(conv s2, depthwise s2, pointwise, avg pool, 1x1 conv, squeeze)")


def shufflenet_quant_onnx(folder: Path) -> str:
    """A QOperator ONNX like shufflenet-v2_quant.onnx (onnxruntime's quantize_static, the example's
    own recipe): the 2-conv classifier at 224 with 1000 classes, calibrated on the example's image."""
    import cv2
    import onnx
    from fixtures.dropin import classifier, quantize_qoperator
    onnx.save(classifier(224, classes=1000, out_name="output"), str(folder / "float.onnx"))
    img = cv2.cvtColor(cv2.imread(str(folder / "test_images/dog_224x224.jpg")), cv2.COLOR_BGR2RGB).astype(np.float32)
    x = ((img - [123.675, 116.28, 103.53]) / 58.82).transpose(2, 0, 1)[None].astype(np.float32)
    quantize_qoperator(folder / "float.onnx", folder / "shufflenet-v2_quant.onnx", [x], "data")
    (folder / "float.onnx").unlink()
    return "shufflenet-v2_quant.onnx: the 2-conv classifier (1000 classes) quantized by onnxruntime, QOperator form"


def mnist_pt(folder: Path) -> str:
    """mnist_cnn.pt: a TorchScript CNN, input 1x1x28x28 -> 10 (conv, pool, conv, pool, linear)."""
    import torch
    from fixtures.frontends import torch_script
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10))
    torch_script(folder, "mnist_cnn", net, (1, 1, 28, 28))
    return "mnist_cnn.pt: TorchScript conv-pool-conv-pool-linear, input 1x1x28x28, 10 classes"


def _quant_tflite(name: str, image: str):
    def make(folder: Path) -> str:
        return quant_tflite(folder, name, image)
    make.__name__ = f"quant_tflite_{Path(name).stem}"
    return make


def quant_tflite(folder: Path, name: str, image: str) -> str:
    """A full-integer .tflite with the interface of the vendor's quantized MobileNet/Inception
    files: uint8 input 1x224x224x3, uint8 output 1x1001 (TensorFlow's converter, calibrated on the
    example's image)."""
    import cv2
    import tensorflow as tf
    inp, x = _keras_mobilenet_trunk()
    # logits spread wide: a 1001-class softmax read as uint8 (scale 1/256) is not all zeros
    out = tf.keras.layers.Dense(1001, activation="softmax",
                                kernel_initializer=tf.keras.initializers.RandomNormal(stddev=4.0))(x)
    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, out))
    img = cv2.cvtColor(cv2.imread(str(folder / image)), cv2.COLOR_BGR2RGB).astype(np.float32)
    rng = np.random.default_rng(0)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([((img + rng.normal(0, 8, img.shape)) / 128 - 1)[None].astype(np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.uint8
    (folder / name).write_bytes(conv.convert())
    return f"{name}: full-integer (uint8 in/out) conv, depthwise, pointwise, dense 1001 + softmax"


def yolox_s_onnx(folder: Path) -> str:
    """YOLOX-s's interface at 640 (input `images` in pixels, mean 0 std 1): three heads
    (1,85,80/40/20,80/40/20), each Concat(box conv (4), Sigmoid(objectness+class conv (81))): the
    script renames the Sigmoids to its custom cstSigmoid."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    inits, nodes, outs = [], [], []
    prev, c, gain = "images", 3, 1 / 255
    for i, (stride, ch) in enumerate([(8, 16), (2, 32), (2, 32)]):
        def w(name, shape, fan, scale=1.0):
            inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale * np.sqrt(2 / fan))
                                                 .astype(np.float32), name))
            return name
        nodes += [helper.make_node("Conv", [prev, w(f"w{i}", (ch, c, stride, stride), c * stride * stride, gain)],
                                   [f"c{i}"], strides=[stride, stride]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
                  helper.make_node("Conv", [f"r{i}", w(f"box{i}", (4, ch, 1, 1), ch)], [f"box_out{i}"]),
                  helper.make_node("Conv", [f"r{i}", w(f"cls{i}", (81, ch, 1, 1), ch)], [f"cls_logit{i}"]),
                  helper.make_node("Sigmoid", [f"cls_logit{i}"], [f"cls_out{i}"]),
                  helper.make_node("Concat", [f"box_out{i}", f"cls_out{i}"], [f"output{i}"], axis=1)]
        size = 640 // (8 * 2 ** i)
        outs.append(helper.make_tensor_value_info(f"output{i}", TensorProto.FLOAT, [1, 85, size, size]))
        prev, c, gain = f"r{i}", ch, 1.0
    g = helper.make_graph(nodes, "yolox_s_standin",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])], outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])
    m.ir_version = 7
    onnx.save(m, str(folder / "yolox_s.onnx"))
    return "yolox_s.onnx: strided convs to YOLOX-s's three heads (1,85,80/40/20) with Sigmoid, input 1x3x640x640"


class BuiltBy:
    """A built `.rknn` a script takes as its command-line argument (1.x eval_mem, eval_perf, the
    encrypted/pre-compiled exports): made as a user would, by running the example `producer` on the
    same side in its own folder, then copied in under the name the script is given."""
    runs_example = True

    def __init__(self, producer: str, rknn: str):
        self.producer, self.rknn = producer, rknn
        self.__name__ = f"built_by_{producer}"

    def __call__(self, folder: Path, side: "Side") -> str:
        _, gen, path, scripts, standin, _ = next(e for e in EXAMPLES if e[0] == self.producer)
        where = export(side.repo, path, folder.parent / "__producer")
        for other in ALSO.get(Path(path).name, []):
            export(side.repo, other, folder.parent / "__producer")
        if standin:
            standin(where)
        r = run(where, scripts, side.python, side.ours, side.timeout)
        if not (where / self.rknn).is_file():
            raise RuntimeError(f"{self.producer} made no {self.rknn}:\n{r.log[-2000:]}")
        (folder / self.rknn).write_bytes((where / self.rknn).read_bytes())
        return f"{self.rknn}: built by running {self.producer} (its own stand-in) on the same side"


@dataclass
class Side:
    repo: Path
    python: list[str]
    ours: bool
    timeout: float


def yolov3_darknet(folder: Path) -> str:
    """yolov3.weights (248 MB, downloaded by the script when missing) for the shipped yolov3.cfg:
    random weights of the right shapes in Darknet's layout (fixtures.frontends.darknet_files), the
    residual branches' BN gamma scaled by 0.2 so the 23 residual blocks stay in range (activations
    up to about 30 on the example's image instead of 1e5)."""
    from fixtures.frontends import darknet_files
    darknet_files(folder, "yolov3", (folder / "yolov3.cfg").read_text(), residual_gain=0.2)
    return ("yolov3.weights: random weights for the shipped yolov3.cfg (75 convs, 23 residual blocks, three "
            "YOLO heads; residual-branch BN gamma x0.2), Darknet's own file layout")


def _ssd_pb(name: str, cut: str):
    """An SSD-MobileNet frozen .pb with the interface the scripts cut it at: the node `cut`
    (1x300x300x3, the preprocessed image; a placeholder `image_tensor` upstream), outputs `concat`
    (box encodings 1x1917x1x4) and `concat_1` (class scores 1x1917x91) from heads on six feature
    maps 19/10/5/3/2/1 with 3, 6, 6, 6, 6, 6 anchors (the 1917 priors of the shipped
    box_priors.txt); a small random MobileNet-style trunk (conv, depthwise-separable, strided)."""
    def make(folder: Path) -> str:
        import tensorflow as tf
        rng = np.random.default_rng(0)
        g = tf.Graph()
        with g.as_default():
            img = tf.compat.v1.placeholder(tf.float32, [1, 300, 300, 3], name="image_tensor")
            x = tf.subtract(img * (2 / 255), 1.0, name=cut)

            def w(shape, fan, gain=1.0):
                return tf.constant((rng.standard_normal(shape) * gain * np.sqrt(2.0 / fan)).astype(np.float32))

            def sep(x, c_in, c_out):     # depthwise s2 + pointwise, ReLU6 (MobileNet's block)
                x = tf.nn.relu6(tf.nn.depthwise_conv2d(x, w([3, 3, c_in, 1], 9), [1, 2, 2, 1], "SAME"))
                return tf.nn.relu6(tf.nn.conv2d(x, w([1, 1, c_in, c_out], c_in), 1, "SAME") + 0.05)
            x = tf.nn.relu6(tf.nn.conv2d(x, w([3, 3, 3, 32], 27), 2, "SAME"))            # 150
            feats, c = [], 32
            for c_out in (64, 128, 128, 128, 128, 64, 64, 64):                          # 75 ... 1
                x, c = sep(x, c, c_out), c_out
                if x.shape[1] <= 19:
                    feats.append((x, c))
            boxes, scores = [], []
            for (f, c), anchors in zip(feats, (3, 6, 6, 6, 6, 6)):
                boxes.append(tf.reshape(tf.nn.conv2d(f, w([1, 1, c, anchors * 4], c, 0.05), 1, "SAME"), [1, -1, 1, 4]))
                scores.append(tf.reshape(tf.nn.conv2d(f, w([1, 1, c, anchors * 91], c), 1, "SAME"), [1, -1, 91]))
            tf.concat(boxes, 1, name="concat")
            tf.concat(scores, 1, name="concat_1")
        assert sum(int(b.shape[1]) for b in boxes) == 1917
        (folder / name).write_bytes(g.as_graph_def().SerializeToString())
        return (f"{name}: input cut `{cut}` 1x300x300x3, outputs concat 1x1917x1x4 and concat_1 1x1917x91 from six "
                f"feature maps (19..1, 1917 anchors); a random MobileNet-style trunk")
    make.__name__ = f"ssd_pb_{Path(name).stem}"
    return make


def resnet18_i8_pt(folder: Path) -> str:
    """resnet18_i8.pt's interface (torchvision's quantized ResNet-18, traced): a TorchScript of
    quantized ops, input 1x3x224x224 -> 1000, made by torch's eager-mode post-training
    quantization (qnnpack) of a small residual net calibrated on the example's image."""
    import cv2
    import torch
    torch.manual_seed(0)
    tq = torch.ao.quantization

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv1, self.relu1 = torch.nn.Conv2d(3, 16, 7, 2, 3), torch.nn.ReLU()
            self.pool = torch.nn.MaxPool2d(3, 2, 1)
            self.conv2, self.relu2 = torch.nn.Conv2d(16, 32, 3, 2, 1), torch.nn.ReLU()
            self.conv3, self.relu3 = torch.nn.Conv2d(32, 32, 3, 1, 1), torch.nn.ReLU()
            self.add = torch.ao.nn.quantized.FloatFunctional()      # the residual add, quantized
            self.avg, self.fc = torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(32, 1000)

        def forward(self, x):
            x = self.pool(self.relu1(self.conv1(self.quant(x))))
            y = self.relu2(self.conv2(x))
            y = self.relu3(self.add.add(y, self.conv3(y)))
            return self.dequant(self.fc(torch.flatten(self.avg(y), 1)))

    net = Net().eval()
    torch.backends.quantized.engine = "qnnpack"
    net.qconfig = tq.get_default_qconfig("qnnpack")
    tq.fuse_modules(net, [["conv1", "relu1"], ["conv2", "relu2"]], inplace=True)
    prepared = tq.prepare(net)
    img = cv2.cvtColor(cv2.imread(str(folder / "space_shuttle_224.jpg")), cv2.COLOR_BGR2RGB).astype(np.float32)
    x = torch.from_numpy(((img - [123.675, 116.28, 103.53]) / 58.395).astype(np.float32).transpose(2, 0, 1)[None])
    for k in range(4):
        prepared(x + 0.1 * k * torch.randn_like(x))
    torch.jit.trace(tq.convert(prepared), torch.Tensor(1, 3, 224, 224)).save(str(folder / "resnet18_i8.pt"))
    return ("resnet18_i8.pt: TorchScript of quantized ops (torch eager PTQ, qnnpack): conv 7x7 s2, max pool, "
            "conv s2, residual conv + quantized add, pool, linear 1000; input 1x3x224x224")


class TorchvisionWeights:
    """Stand-in "pretrained" weights for a script that builds its model with torchvision
    (`pretrained=True`): `fixtures.torchvision_standins` run in an environment with torchvision
    (--torchvision-python), writing `<torch_home>/hub/checkpoints/<the weights file's name>`;
    both sides' runs get TORCH_HOME=<torch_home>, so they build the same model."""

    def __init__(self, arch: str, image: str, mean: list[float], std: list[float], traced: str):
        self.arch, self.image, self.mean, self.std = arch, image, mean, std
        self.traced = traced        # the TorchScript the script saves (the float32 reference)
        self.engine = None

    def __call__(self, folder: Path, torch_home: Path, python: str) -> str:
        done = subprocess.run([python, "-m", "fixtures.torchvision_standins", self.arch, str(folder / self.image),
                               str(torch_home), "--mean", *map(str, self.mean), "--std", *map(str, self.std)],
                              cwd=REPO, capture_output=True, text=True, check=True)
        made = json.loads(done.stdout.strip().splitlines()[-1])
        self.engine = made["backend"]   # a quantized model's torch kernels (its float32 reference runs on them)
        return (f"{Path(made['file']).name}: {made['standin']} (fixtures.torchvision_standins; the script's own "
                f"torchvision builds and traces the model)")


def _qat_pb(mean: list[float], std: list[float]):
    """inception_v3_quant_frozen.pb's interface (downloaded by the scripts when missing): a frozen
    TF1 quantization-aware-trained graph, `input` 1x299x299x3 -> FakeQuant'd convs ->
    `InceptionV3/Logits/SpatialSqueeze` 1x1001 (fixtures.dropin.tf_qat_classifier), ranges
    measured on the example's image under the script's mean/std."""
    def make(folder: Path) -> str:
        import cv2
        from fixtures.dropin import tf_qat_classifier
        img = cv2.cvtColor(cv2.imread(str(folder / "goldfish_299x299.jpg")), cv2.COLOR_BGR2RGB)[None]
        tf_qat_classifier(folder / "inception_v3_quant_frozen.pb", img, mean, std, 299)
        return ("inception_v3_quant_frozen.pb: frozen TF1 QAT graph (tf.contrib.quantize's weights_quant/act_quant "
                "FakeQuantWithMinMaxVars, frozen min/max read through Identity): 3 convs, pool, 1x1 conv 1001, "
                "squeeze; input 1x299x299x3")
    make.__name__ = "qat_pb"
    return make


def deeplab_pb(folder: Path) -> str:
    """deeplab-v3-plus-mobilenet-v2.pb's interface as the 1.x pass_through script cuts it (downloaded
    by the script when missing): node `sub_7` 1x513x513x3 (the image scaled to [-1, 1]) ->
    `ResizeBilinear_2` 1x65x65x21 (class logits at output stride 8, the size the script's own
    post-processing reshapes to): three strided convs, a 1x1 conv to 21 classes, a bilinear resize
    to 65x65 (in the real graph the logits' resize to the feature size)."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        img = tf.compat.v1.placeholder(tf.float32, [1, 513, 513, 3], name="ImageTensor")
        x = tf.subtract(img * (2 / 255), 1.0, name="sub_7")
        c = 3
        for co in (16, 32, 64):
            w = (rng.standard_normal((3, 3, c, co)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
            x, c = tf.nn.relu6(tf.nn.conv2d(x, w, 2, "SAME")), co
        w = (rng.standard_normal((1, 1, c, 21)) * np.sqrt(2.0 / c)).astype(np.float32)
        x = tf.nn.conv2d(x, w, 1, "SAME")
        tf.compat.v1.image.resize_bilinear(x, [65, 65], align_corners=True, name="ResizeBilinear_2")
    (folder / "deeplab-v3-plus-mobilenet-v2.pb").write_bytes(g.as_graph_def().SerializeToString())
    return ("deeplab-v3-plus-mobilenet-v2.pb: cut `sub_7` 1x513x513x3 -> `ResizeBilinear_2` 1x65x65x21 "
            "(3 strided convs, 1x1 conv to 21 classes, bilinear resize to 65x65)")


# Head scales of the random-weight SSD (the net sees pixels minus the mean, std 1): box offsets
# near the priors, and class scores a few units wide, as a trained SSD's are. Unscaled, the
# class scores spread to std 94 (|max| 714): one int8 step of them is ~6 units, so both
# quantizers' softmax outputs were 0.912 from float32 while every layer up to the scores
# stayed above 0.9994 on both sides (snapshots in docs/dropin_examples.md).
SSD_HEADS = {"mbox_loc": 0.002, "mbox_conf": 0.03}

T2 = "rknn-toolkit2/examples/"
T1 = "examples/"
# id, generation, folder in its repository, scripts in order (with their command-line arguments),
# stand-in, and the vendor method ours refuses by design that the script calls (None: it should run)
EXAMPLES = [
    ("tk2/onnx/resnet50v2", "toolkit2", T2 + "onnx/resnet50v2", ["test.py"], resnet50v2_onnx, None),
    ("tk2/onnx/yolov5", "toolkit2", T2 + "onnx/yolov5", ["test.py"], yolov5s_onnx, None),
    ("tk2/functions/accuracy_analysis", "toolkit2", T2 + "functions/accuracy_analysis", ["test.py"], resnet50v2_onnx, None),
    ("tk2/functions/custom_op/convert_custom_onnx_to_rknn", "toolkit2",
     T2 + "functions/custom_op/convert_custom_onnx_to_rknn", ["test.py"], None, None),
    ("tk2/functions/custom_op/register_onnx_symbolic", "toolkit2",
     T2 + "functions/custom_op/gen_custom_onnx_from_pytorch/register_onnx_symbolic", ["test.py"], None, None),
    ("tk2/functions/custom_op/register_pytorch_op", "toolkit2",
     T2 + "functions/custom_op/gen_custom_onnx_from_pytorch/register_pytorch_op", ["test.py"], None, None),
    ("tk2/functions/custom_op/non-onnx_standard", "toolkit2", T2 + "functions/custom_op/non-onnx_standard",
     ["test.py"], yolox_s_onnx, None),
    ("tk2/functions/onnx_edit", "toolkit2", T2 + "functions/onnx_edit", ["test.py"], None, None),
    ("tk2/functions/multi_input", "toolkit2", T2 + "functions/multi_input", ["test.py"], None, None),
    ("tk2/caffe/mobilenet_v2", "toolkit2", T2 + "caffe/mobilenet_v2", ["test.py"],
     _caffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel", trained=True), None),
    ("tk2/caffe/vgg-ssd", "toolkit2", T2 + "caffe/vgg-ssd", ["test.py"],
     _caffe("deploy_rm_detection_output.prototxt", "VGG_VOC0712_SSD_300x300_iter_120000.caffemodel",
            scale=SSD_HEADS), None),
    ("tk2/functions/model_pruning", "toolkit2", T2 + "functions/model_pruning", ["test.py"],
     _caffe("mobilenet_deploy.prototxt", "mobilenet.caffemodel", trained=True), None),
    ("tk2/functions/dynamic_shape", "toolkit2", T2 + "functions/dynamic_shape", ["test.py"],
     _caffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel", "../../caffe/mobilenet_v2", trained=True), None),
    ("tk2/functions/multi_batch", "toolkit2", T2 + "functions/multi_batch", ["test.py"],
     _caffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel", "../../caffe/mobilenet_v2", trained=True), None),
    ("tk2/functions/codegen", "toolkit2", T2 + "functions/codegen", ["test.py"],
     _caffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel", "../../caffe/mobilenet_v2", trained=True), None),
    ("tk2/tflite/mobilenet_v1", "toolkit2", T2 + "tflite/mobilenet_v1", ["test.py"],
     _tflite("mobilenet_v1_1.0_224.tflite"), None),
    ("tk2/functions/quantize_algorithm_mmse", "toolkit2", T2 + "functions/quantize_algorithm_mmse", ["test.py"],
     mobilenet_v1_frozen_pb, None),
    ("tk2/tflite/mobilenet_v1_qat", "toolkit2", T2 + "tflite/mobilenet_v1_qat", ["test.py"],
     _quant_tflite("mobilenet_v1_1.0_224_quant.tflite", "dog_224x224.jpg"), None),
    ("tk2/darknet/yolov3_416x416", "toolkit2", T2 + "darknet/yolov3_416x416", ["test.py"], yolov3_darknet, None),
    ("tk2/tensorflow/ssd_mobilenet_v1", "toolkit2", T2 + "tensorflow/ssd_mobilenet_v1", ["test.py"],
     _ssd_pb("ssd_mobilenet_v1_coco_2017_11_17.pb", "Preprocessor/sub"), None),
    ("tk2/functions/hybrid_quant", "toolkit2", T2 + "functions/hybrid_quant", ["step1.py", "step2.py"],
     _ssd_pb("ssd_mobilenet_v2.pb", "FeatureExtractor/MobilenetV2/MobilenetV2/input"), None),
    ("tk2/pytorch/resnet18_qat", "toolkit2", T2 + "pytorch/resnet18_qat", ["test.py"], resnet18_i8_pt, None),
    ("tk2/tensorflow/inception_v3_qat", "toolkit2", T2 + "tensorflow/inception_v3_qat", ["test.py"],
     _qat_pb([104, 117, 123], [128, 128, 128]), None),
    ("tk2/functions/npu_device_test", "toolkit2", T2 + "functions/npu_device_test", ["test.py"],
     _caffe("mobilenet_v2_deploy.prototxt", "mobilenet_v2.caffemodel", "../../caffe/mobilenet_v2", trained=True), None),
    ("tk1/onnx/resnet50v2", "1.x", T1 + "onnx/resnet50v2", ["test.py"], resnet50v2_onnx, None),
    ("tk1/load_quantized_model/onnx", "1.x", T1 + "common_function_demos/load_quantized_model/onnx", ["test.py"],
     shufflenet_quant_onnx, None),
    ("tk1/load_quantized_model/tflite", "1.x", T1 + "common_function_demos/load_quantized_model/tflite", ["test.py"],
     _quant_tflite("inception_v1_224_quant.tflite", "dog_224x224.jpg"), None),
    ("tk1/single_channel_input/mnist", "1.x", T1 + "common_function_demos/single_channel_input/mnist", ["test.py"],
     mnist_pt, None),
    ("tk1/caffe/mobilenet_v2", "1.x", T1 + "caffe/mobilenet_v2", ["test.py"],
     _caffe("mobilenet_v2.prototxt", "mobilenet_v2.caffemodel", trained=True), None),
    ("tk1/caffe/vgg-ssd", "1.x", T1 + "caffe/vgg-ssd", ["test.py"],
     _caffe("deploy_rm_detection_output.prototxt", "VGG_VOC0712_SSD_300x300_iter_120000.caffemodel",
            scale=SSD_HEADS), None),
    ("tk1/tflite/mobilenet_v1", "1.x", T1 + "tflite/mobilenet_v1", ["test.py"], _tflite("mobilenet_v1.tflite"), None),
    ("tk1/batch_size", "1.x", T1 + "common_function_demos/batch_size", ["test.py"],
     _tflite("mobilenet_v1.tflite", "../../tflite/mobilenet_v1"), None),
    ("tk1/custom_op/rknn_custom_op_math", "1.x", T1 + "common_function_demos/custom_op/rknn_custom_op_math",
     ["rknn_custom_op_math.py"], None, None),
    ("tk1/custom_op/rknn_custom_op_resize", "1.x", T1 + "common_function_demos/custom_op/rknn_custom_op_resize",
     ["rknn_custom_op_resize_area.py"], None, None),
    ("tk1/model_pruning", "1.x", T1 + "common_function_demos/model_pruning",
     ["gen_conv_and_convert_with_pruning.py"], None, None),
    ("tk1/accuracy_analysis", "1.x", T1 + "common_function_demos/accuracy_analysis",
     ["normal_quantization.py", "run_normal_quantization_model.py", "hybrid_quantization_step1.py",
      "hybrid_quantization_step2.py", "run_hybrid_quantization_model.py"], shufflenet_onnx, None),
    ("tk1/darknet/yolov3", "1.x", T1 + "darknet/yolov3", ["test.py"], yolov3_darknet, None),
    ("tk1/tensorflow/ssd_mobilenet_v1", "1.x", T1 + "tensorflow/ssd_mobilenet_v1", ["test.py"],
     _ssd_pb("ssd_mobilenet_v1_coco_2018_01_28.pb",
             "FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_0/BatchNorm/batchnorm/mul_1"), None),
    ("tk1/hybrid_quantization/ssd_mobilenet_v2", "1.x", T1 + "common_function_demos/hybrid_quantization/ssd_mobilenet_v2",
     ["step1.py", "step2.py", "step3.py"],
     _ssd_pb("ssd_mobilenet_v2.pb", "FeatureExtractor/MobilenetV2/MobilenetV2/input"), None),
    ("tk1/load_quantized_model/tensorflow", "1.x", T1 + "common_function_demos/load_quantized_model/tensorflow",
     ["test.py"], _qat_pb([127.5, 127.5, 127.5], [128, 128, 128]), None),
    ("tk1/pass_through", "1.x", T1 + "common_function_demos/pass_through", ["test.py"], deeplab_pb, None),
    # the four demos taking a built model on the command line (the READMEs use mobilenet_v1.rknn)
    ("tk1/common_function_demos/eval_mem", "1.x", T1 + "common_function_demos/eval_mem",
     ["eval_mem.py mobilenet_v1.rknn"], BuiltBy("tk1/tflite/mobilenet_v1", "mobilenet_v1.rknn"), None),
    ("tk1/common_function_demos/eval_perf", "1.x", T1 + "common_function_demos/eval_perf",
     ["eval_perf.py mobilenet_v1.rknn 1"], BuiltBy("tk1/tflite/mobilenet_v1", "mobilenet_v1.rknn"), None),
    ("tk1/common_function_demos/export_encrypt_rknn_model", "1.x",
     T1 + "common_function_demos/export_encrypt_rknn_model",
     ["export_encrypt_rknn_model.py mobilenet_v1.rknn mobilenet_v1.encrypt.rknn 1"],
     BuiltBy("tk1/tflite/mobilenet_v1", "mobilenet_v1.rknn"), "export_encrypted_rknn_model"),
    ("tk1/common_function_demos/export_rknn_precompile_model", "1.x",
     T1 + "common_function_demos/export_rknn_precompile_model",
     ["export_rknn_precompile_model.py mobilenet_v1.rknn mobilenet_v1.hw.rknn"],
     BuiltBy("tk1/tflite/mobilenet_v1", "mobilenet_v1.rknn"), "rknn2precompile"),
    # torchvision `pretrained=True` (TORCHVISION below): the script builds and traces the model
    ("tk2/pytorch/resnet18", "toolkit2", T2 + "pytorch/resnet18", ["test.py"],
     TorchvisionWeights("resnet18", "space_shuttle_224.jpg", [123.675, 116.28, 103.53], [58.395] * 3,
                        "resnet18.pt"), None),
    ("tk1/pytorch/resnet18", "1.x", T1 + "pytorch/resnet18", ["test.py"],
     TorchvisionWeights("resnet18", "space_shuttle_224.jpg", [123.675, 116.28, 103.53], [58.395] * 3,
                        "resnet18.pt"), None),
    ("tk1/hybrid_quantization/mnasnet0_5", "1.x", T1 + "common_function_demos/hybrid_quantization/mnasnet0_5",
     ["step1.py", "step2.py", "step3.py"],
     TorchvisionWeights("mnasnet0_5", "space_shuttle_224.jpg", [123.675, 116.28, 103.53], [58.395] * 3,
                        "mnasnet0_5.pt"), None),
    # torchvision.models.quantization.mobilenet_v2(pretrained=True, quantize=True), traced
    ("tk1/load_quantized_model/pytorch", "1.x", T1 + "common_function_demos/load_quantized_model/pytorch",
     ["test.py"], TorchvisionWeights("quantization.mobilenet_v2", "dog_224x224.jpg",
                                     [123.675, 116.28, 103.53], [58.395, 57.12, 57.375],
                                     "quantized_mobilenet.pt"), None),
]


# other folders of the repository a script reads (../../caffe/mobilenet_v2/...): exported beside it
ALSO = {"dynamic_shape": [T2 + "caffe/mobilenet_v2"], "npu_device_test": [T2 + "caffe/mobilenet_v2"], "multi_batch": [T2 + "caffe/mobilenet_v2"],
        "codegen": [T2 + "caffe/mobilenet_v2"], "batch_size": [T1 + "tflite/mobilenet_v1"]}

# toolkit2 examples that run on a board (init_runtime(target=CHIP), no device_id): ours runs them
# on a virtual board of that chip; the vendor side has no board here
BOARD_CHIP = {"tk2/functions/npu_device_test": "rk3588"}

# 1.x examples whose own post-processing needs the libraries of their time: numpy < 2 (vgg-ssd:
# math.exp of a 1-element array) and Pillow < 10 (vgg-ssd: FreeTypeFont.getsize; pass_through:
# Image.ANTIALIAS). Ours supports numpy >= 1.26 and Pillow >= 9.1 (pyproject), so on ours they run
# with --numpy1-python, an interpreter with both
NUMPY1 = {"tk1/caffe/vgg-ssd", "tk1/pass_through"}

# examples that build their model with torchvision (`pretrained=True`): torchvision cannot sit
# beside this project's CPU torch 2.13, so both sides run in environments that have it
# (--torchvision-python for ours, --torchvision-vendor-python for the vendor's), with stand-in
# weights in a private TORCH_HOME (TorchvisionWeights)
TORCHVISION = {ex[0] for ex in EXAMPLES if isinstance(ex[4], TorchvisionWeights)}

# example folder name -> tensor files the script writes and reads back instead of inferring
FILE_OUTPUTS = {"accuracy_analysis": ["snapshot/simulator/resnetv24_dense0_fwd.txt",
                                      "snapshot/golden/resnetv24_dense0_fwd.txt"]}


def export(repo: Path, path: str, dest: Path) -> Path:
    """The folder `path` of the repository's HEAD, written under `dest` (parents kept: scripts
    reach sibling folders with ../../). Blobs the snapshot lacks (large models) are left out."""
    git = ["git", "--git-dir", str(repo)]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", "HEAD", path], capture_output=True, check=True).stdout
    for entry in filter(None, listing.split(b"\0")):
        meta, name = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        blob = subprocess.run([*git, "cat-file", "blob", sha.decode()], capture_output=True)
        if blob.returncode != 0:
            continue
        target = dest / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
    (dest / path).mkdir(parents=True, exist_ok=True)
    return dest / path


def run(folder: Path, scripts: list[str], python: list[str], ours: bool, timeout: float,
        extra_env: dict[str, str] | None = None) -> ScriptRun:
    log, rc = "", 0
    if ours:    # the folder's own modules the scripts import (ssd_post_process.py): their imports renamed too
        for module in folder.glob("*.py"):
            module.write_text(rename_imports(module.read_text(encoding="utf-8")), encoding="utf-8")
    for command in scripts:
        name, *argv = shlex.split(command)      # "eval_mem.py mobilenet_v1.rknn": the script and its arguments
        text = PROLOGUE + (folder / name).read_text(encoding="utf-8")
        run_name = f"__run_{name}"
        (folder / run_name).write_text(rename_imports(text) if ours else text, encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO) if ours else "",
               "MPLBACKEND": "Agg", **(extra_env or {})}
        try:
            done = subprocess.run([*python, run_name, *argv], cwd=folder, capture_output=True, text=True, env=env,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            rc, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = None, f"timed out after {timeout:g} s\n{(e.stdout or b'')[-2000:]!r}"
        log += f"--- {command} (exit {rc})\n{out}"
        # the shipped scripts end with exit(ret) / exit(-1) on a failed call; a failed step stops the chain
        if rc != 0:
            break
    outs = [np.load(p) for p in sorted(folder.glob("__out_0_*.npy"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))]
    # scripts that infer nothing but write tensors (accuracy_analysis): compare those files
    outs += [np.loadtxt(folder / f, dtype=np.float64) for f in FILE_OUTPUTS.get(folder.name, []) if (folder / f).is_file()]
    return ScriptRun("ours" if ours else "vendor", rc, log, outs)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d else float(np.array_equal(a, b))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--toolkit2-repo", type=Path, required=True)
    p.add_argument("--toolkit1-repo", type=Path, required=True)
    p.add_argument("--vendor-python", default=os.environ.get("RKNN_DIAG_TOOLKIT2_PYTHON"))
    p.add_argument("--ours-python", default=sys.executable,
                   help="interpreter for our side (e.g. the vendor's environment, for scripts needing numpy < 2)")
    p.add_argument("--numpy1-python", default=os.environ.get("RKNN_DIAG_NUMPY1_PYTHON"),
                   help="interpreter with numpy < 2 and Pillow < 10 (and this project's dependencies) for our "
                        "side of the 1.x examples whose own post-processing needs them (NUMPY1)")
    p.add_argument("--torchvision-python", default=os.environ.get("RKNN_DIAG_TORCHVISION_PYTHON"),
                   help="interpreter with torch + torchvision and this project's dependencies: our side of the "
                        "examples that build their model with torchvision (TORCHVISION), and their stand-in weights")
    p.add_argument("--torchvision-vendor-python", default=os.environ.get("RKNN_DIAG_TORCHVISION_VENDOR_PYTHON"),
                   help="the vendor's environment with torch + torchvision added: the vendor side of TORCHVISION")
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--label", default=None, help="recorded as each row's `run` (which measurement it came from)")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--keep", type=Path, default=None,
                   help="copy each row's folders (both sides' outputs, logs and models) under KEEP/<id>")
    args = p.parse_args(argv)
    rows = []
    # toolkit 1.x examples run on a board (init_runtime(target='rv1126')): give ours a virtual
    # rv1126 behind a private adb server, found through ANDROID_ADB_SERVER_PORT like adb does
    from fixtures.boards import AdbServer
    from rknn_diag.board.profile import BoardProfile
    from rknn_diag.board.virtual import VirtualBoard
    server = AdbServer().start()
    board = VirtualBoard(BoardProfile(chip="rv1126")).start()
    server.connect(board.serial)
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)

    @contextlib.contextmanager
    def attached(chip: str | None):
        """The one board a row's scripts see (they pass no device_id): the rv1126, or for a row of
        BOARD_CHIP a virtual board of that chip in its place while the row runs."""
        if chip is None:
            yield
            return
        server.disconnect(board.serial)
        other = VirtualBoard(BoardProfile(chip=chip)).start()
        server.connect(other.serial)
        try:
            yield
        finally:
            server.disconnect(other.serial)
            other.stop()
            server.connect(board.serial)
    args.attached = attached
    try:
        return _examples(args, rows)
    finally:
        server.disconnect(board.serial)
        board.stop()
        server.stop()


def refused_clearly(log: str, name: str) -> bool:
    """Ours refused `name` as designed: an E line naming it and saying what to do instead."""
    return any(ln.startswith("E ") and name in ln and "Fix:" in ln for ln in log.splitlines())


def _save(path: Path, rows: list) -> None:
    """Rows run now replace the same examples' rows of an earlier run (--only re-measures some)."""
    old = json.loads(path.read_text()) if path.is_file() else []
    new = {r["example"]: r for r in rows}
    kept = [new.pop(r["example"], r) for r in old]
    path.write_text(json.dumps(kept + list(new.values()), indent=1) + "\n")


def _examples(args, rows: list) -> int:
    for ex_id, gen, path, scripts, standin, refuses in EXAMPLES:
        if args.only and ex_id not in args.only:
            continue
        row = {"example": ex_id, "generation": gen, "folder": path, **({"run": args.label} if args.label else {})}
        with tempfile.TemporaryDirectory(prefix="example-") as tmp, args.attached(BOARD_CHIP.get(ex_id)):
            repo = args.toolkit2_repo if gen == "toolkit2" else args.toolkit1_repo
            ours_python = args.numpy1_python if ex_id in NUMPY1 and args.numpy1_python else args.ours_python
            vendor_python, extra_env = args.vendor_python, {}
            if ex_id in TORCHVISION:
                if not args.torchvision_python:
                    row["why"] = "not run: needs --torchvision-python (an environment with torchvision)"
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    continue
                ours_python, vendor_python = args.torchvision_python, args.torchvision_vendor_python
                extra_env["TORCH_HOME"] = str(Path(tmp) / "torch_home")
            sides = [("ours", [ours_python], True)]
            if gen == "toolkit2" and vendor_python and ex_id not in BOARD_CHIP:
                sides.append(("vendor", [vendor_python], False))
            got = {}
            for who, python, ours in sides:
                folder = export(repo, path, Path(tmp) / who)
                for other in ALSO.get(Path(path).name, []):
                    export(repo, other, Path(tmp) / who)
                if isinstance(standin, TorchvisionWeights):
                    if who == "ours":      # once per row: both sides read the same TORCH_HOME
                        try:
                            row["standin"] = standin(folder, Path(extra_env["TORCH_HOME"]), args.torchvision_python)
                        except subprocess.CalledProcessError as e:
                            row["standin_error"] = (e.stderr or "")[-1200:]
                            break
                elif getattr(standin, "runs_example", False):
                    row["standin"] = standin(folder, Side(repo, python, ours, args.timeout))
                elif standin:
                    row["standin"] = standin(folder)
                t0 = time.monotonic()
                got[who] = r = run(folder, scripts, python, ours, args.timeout, extra_env)
                row[f"{who}_runs"] = r.ok
                row[f"{who}_seconds"] = round(time.monotonic() - t0, 1)
                if not r.ok:
                    lines = [ln for ln in r.log.splitlines() if ln.strip()]
                    errors = [ln for ln in lines if ln.startswith(("E ", "--- ")) or "Error" in ln]
                    row[f"{who}_error"] = "\n".join(errors[-6:] + lines[-3:])[-1200:]
                e_lines = [ln for ln in r.log.splitlines() if ln.startswith("E ")]
                if r.ok and e_lines:    # the script went on past a failed call (eval_perf's return is unchecked)
                    row[f"{who}_e_lines"] = e_lines[:3]
                if ours and refuses:
                    row["refused_by_design"] = refuses
                    row["refused_clearly"] = refused_clearly(r.log, refuses)
            if ex_id in NUMPY1 and args.numpy1_python:
                row["ours_python"] = "numpy<2, Pillow<10 environment (--numpy1-python)"
            if ex_id in TORCHVISION:
                row["ours_python"] = "torchvision environment (--torchvision-python)"
                if "vendor" in got:
                    row["vendor_python"] = "the vendor's environment with torchvision (--torchvision-vendor-python)"
            if isinstance(standin, TorchvisionWeights) and "ours" in got and got["ours"].ok:
                # no vendor for 1.x: torch's own forward of the traced model judges each side
                refs = torch_float32(Path(tmp) / "ours" / path, standin.traced, got["ours"].outputs, standin.engine)
                real = {who: as_real(got[who].outputs, got[who].log) for who in got if got[who].ok}
                row["float32"] = {f"{who}_vs_float32_{k}": round(cosine(a, r), 6) for who in real
                                  for k, (a, r) in enumerate(zip(real[who], refs)) if r is not None}
                row["top1"] = {"float32": int(np.argmax(refs[0])) if refs and refs[0] is not None else None,
                               **{who: int(np.argmax(real[who][0])) for who in real if real[who]}}
                if standin.engine and real["ours"]:    # a quantized TorchScript: torch's kernels vs its QDQ meaning
                    qdq = onnx_export_answer(Path(tmp) / "ours" / path, standin.traced)
                    row["float32"]["ours_vs_onnxruntime_of_torch_export_0"] = round(cosine(real["ours"][0], qdq), 6)
                    row["float32"]["torch_vs_onnxruntime_of_torch_export_0"] = round(cosine(refs[0], qdq), 6)
                if any(o.dtype.kind in "iu" for o in got["ours"].outputs):
                    row["ours_outputs"] = "integers (merge_dequant_layer_and_output_node), compared as scale * (q - zero point)"
            caffe = getattr(standin, "caffe", None)
            if caffe and "vendor" in got and got["ours"].ok and got["vendor"].ok:
                # the side further from float32 is to blame where they disagree (dropin.scripts.judge)
                from rknn_diag.dropin.scripts import judge
                got["ours"].refs = caffe_float32(Path(tmp) / "ours" / path, caffe, got["ours"].outputs)
                cat, msg, found = judge(got["ours"], got["vendor"], DROPIN_AGREE_COSINE["quantized"])
                row["float32"] = {"outcome": cat, "message": msg, **{k: round(v, 6) for k, v in found.items()},
                                  **{f"ours_vs_float32_{k}": round(cosine(a, r), 6) for k, (a, r) in
                                     enumerate(zip(got["ours"].outputs, got["ours"].refs)) if r is not None},
                                  **{f"vendor_vs_float32_{k}": round(cosine(b, r), 6) for k, (b, r) in
                                     enumerate(zip(got["vendor"].outputs, got["ours"].refs)) if r is not None}}
                if cat is not None and getattr(standin, "trained", False):
                    row["photos"] = photos_judge(repo, Path(tmp), {w: Path(tmp) / w / path for w in got},
                                                 {w: p for w, p, _ in sides}, scripts[0], caffe, args.timeout)
            if "vendor" in got and got["ours"].ok and got["vendor"].ok:
                a, b = got["ours"].outputs, got["vendor"].outputs
                if not a or not b:
                    row["agree"], row["why"] = None, "no inference() outputs to compare"
                else:
                    cos = [cosine(x, y) if x.size == y.size else None for x, y in zip(a, b)]
                    row["cosine"] = cos
                    row["agree"] = len(a) == len(b) and all(c is not None and c >= DROPIN_AGREE_COSINE["quantized"]
                                                            for c in cos)
            if args.keep:
                shutil.copytree(tmp, args.keep / ex_id.replace("/", "_"), dirs_exist_ok=True)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            _save(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
