"""Python environment checks (guide §1.1, §1.3, §1.6.3, §1.8.2, §4.4, §5.4)."""

from __future__ import annotations

import os
import shutil
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement

from .. import tables_frameworks as T
from ..core import NO_TOOLKIT, check, error, ok, skip, warn
from ._util import V, release, within

# Import names worth looking for twice on sys.path, even without metadata (§1.1.1).
IMPORT_NAMES = ("numpy", "onnx", "onnxruntime", "google/protobuf", "tensorflow", "torch", "mxnet",
                "cv2", "rknn", "rknnlite", "scipy", "PIL")


@check("python.duplicates", "python", "1.1.1", "a package importable from two places")
def duplicates(ctx):
    twice = {name: dists for name, dists in ctx.distributions().items() if len(dists) > 1}
    places: dict[str, list[str]] = {}
    for entry in ctx.sys_path:
        if entry and os.path.isdir(entry):
            for name in IMPORT_NAMES:
                if os.path.isfile(os.path.join(entry, name, "__init__.py")):
                    places.setdefault(name.replace("/", "."), []).append(entry)
    modules = {n: p for n, p in places.items() if len(p) > 1}
    if not twice and not modules:
        return ok(f"each of {len(ctx.distributions())} installed packages is installed once")
    lines = [f"{d[0].name}: " + ", ".join(f"{x.version} in {x.location}" for x in d) for d in twice.values()]
    lines += [f"import {n}: in " + ", ".join(p) for n, p in modules.items() if n not in twice]
    return error("packages installed in more than one place: " + "; ".join(lines),
                 "use a fresh virtual environment (python -m venv), or uninstall the extra copies "
                 "until `pip list -v` shows each package once")


@check("python.site_writable", "python", "1.1.2", "site-packages writable, or --user available")
def site_writable(ctx):
    sp = ctx.site_packages
    if not sp:
        return skip("no site-packages directory known for this interpreter")
    if os.path.isdir(sp) and os.access(sp, os.W_OK):
        return ok(f"{sp} is writable")
    if ctx.user_site_enabled:
        return warn(f"{sp} is not writable: `pip install` fails with Permission denied",
                    "install with `pip install --user ...`, or use a virtual environment")
    return error(f"{sp} is not writable and user site-packages are disabled: no install can succeed",
                 "create a virtual environment you own (python -m venv ~/rknn-env) and install there")


@check("python.numpy_pickle", "python", "1.3.4", "numpy >= 1.16.3 with a toolkit older than 1.0.0")
def numpy_pickle(ctx):
    tk, np_ = ctx.toolkit(), ctx.installed("numpy")
    if tk is None:
        return skip(NO_TOOLKIT)
    if np_ is None:
        return skip("numpy is not installed")
    if tk.generation == 1 and V(tk.version) < V(T.TOOLKIT_FIXED_PICKLE) and V(np_.version) >= V(T.NUMPY_PICKLE_CHANGE):
        return error(f"numpy {np_.version} with {tk}: build() fails with 'Object arrays cannot be loaded "
                     "when allow_pickle=False'",
                     f"upgrade the toolkit to {T.TOOLKIT_FIXED_PICKLE} or later, or install numpy<=1.16.2")
    return ok(f"numpy {np_.version} works with {tk}")


def _spec_result(pkg: str, dist, spec: str | None, tk, what: str):
    if dist is None:
        return None
    if spec is None:
        return warn(f"{pkg} {dist.version} is installed but {tk} does not support {what} models",
                    "convert the model to ONNX first, or upgrade to rknn-toolkit 1.3.0 or later", ref="1.3.3")
    if within(release(dist.version), spec):
        return ok(f"{pkg} {dist.version} is within {spec} for {tk}")
    return error(f"{pkg} {dist.version} is outside what {tk} supports ({spec})", f"pip install '{pkg}{spec}'")


@check("python.frameworks", "python", "1.3.1", "framework versions against the toolkit's matrix")
def frameworks(ctx):
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 2:
        if tk.source == "installed":
            return skip(f"{tk} is installed: python.toolkit2_pins checks its own declared pins")
        pins = T.TOOLKIT2_PINS.get(tk.version)
        if pins is None:
            return skip(f"no framework table for {tk}; see python.toolkit2_pins for an installed toolkit2")
        out = []
        for pkg, spec in pins.items():
            r = _spec_result(pkg, ctx.installed(pkg), spec, tk, pkg)
            if r:
                out.append(r)
        return out or ok(f"none of {', '.join(pins)} installed")
    row = T.TOOLKIT1.get(tk.version)
    if row is None:
        return skip(f"{tk} is not in the guide's §1.3.1 table ({', '.join(T.TOOLKIT1)})")
    out = []
    for pkg, key, what in (("torch", "torch", "PyTorch"), ("mxnet", "mxnet", "MXNet")):
        r = _spec_result(pkg, ctx.installed(pkg), row[key], tk, what)
        if r:
            out.append(r)
    onnx = ctx.installed("onnx")
    if onnx:
        if release(onnx.version) == row["onnx"]:
            out.append(ok(f"onnx {onnx.version} is the release {tk} reads"))
        else:
            out.append(warn(f"onnx {onnx.version} is installed; {tk} reads ONNX release {row['onnx']} "
                            "(newer exports may use opsets it cannot load)",
                            f"pip install onnx=={row['onnx']} in the toolkit's environment, and export models "
                            f"with that release's opset", ref="1.3.1 note 4"))
    out.append(ok(f"{tk} reads TF Lite schema version {row['tflite_schema']}, Caffe {row['caffe']} protos "
                  f"and Darknet at commit {row['darknet']}"))
    return out


@check("python.torch_version", "python", "5.4", "the PyTorch version the toolkit was tested with")
def torch_version(ctx):
    tk, torch = ctx.toolkit(), ctx.installed("torch")
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 2 or torch is None:
        return skip("applies to toolkit 1.x with PyTorch installed")
    if release(torch.version) == T.TORCH_TESTED:
        return ok(f"torch {torch.version} is the version {tk} is tested with")
    return warn(f"torch {torch.version}: {tk} is tested with {T.TORCH_TESTED}; other versions may fail to "
                "load with 'Syntax error in input! LexToken(...)'",
                f"trace the model (torch.jit.trace) with torch=={T.TORCH_TESTED}")


@check("python.tensorflow_version", "python", "4.4", "the TensorFlow version toolkit 1.x needs")
def tensorflow_version(ctx):
    tk, tf = ctx.toolkit(), ctx.installed("tensorflow") or ctx.installed("tensorflow-cpu")
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 2 or tf is None:
        return skip("applies to toolkit 1.x with TensorFlow installed")
    spec = T.TOOLKIT1.get(tk.version, {}).get("tensorflow")
    if spec is None:
        return skip(f"{tk} is not in the guide's §1.3.1 table")
    if within(release(tf.version), spec):
        return ok(f"tensorflow {tf.version} is within {spec}; graphs trained with TensorFlow >= "
                  f"{T.TF_EXPLICIT_PADDINGS_SINCE} will not load (explicit_paddings)")
    return error(f"tensorflow {tf.version} is outside {spec}, which {tk} needs", f"pip install 'tensorflow{spec}'",
                 ref="1.3.1")


@check("python.windows_stdio", "python", "1.8.2", "PYTHONLEGACYWINDOWSSTDIO on Windows with toolkit 1.2.0")
def windows_stdio(ctx):
    tk = ctx.toolkit()
    if not ctx.platform.startswith("win"):
        return skip("not Windows")
    if tk is None:
        return skip(NO_TOOLKIT)
    if tk.generation == 1 and tk.version in T.WINDOWS_STDIO_TOOLKITS and ctx.environ.get("PYTHONLEGACYWINDOWSSTDIO") != "1":
        return error(f"{tk} on Windows exits silently in load_* unless PYTHONLEGACYWINDOWSSTDIO=1",
                     "set PYTHONLEGACYWINDOWSSTDIO=1, or upgrade to rknn-toolkit 1.2.1 or later")
    return ok("PYTHONLEGACYWINDOWSSTDIO is not needed or is set")


@check("python.gcc", "python", "1.6.3", "gcc present for pre_compile=True")
def gcc(ctx):
    tk = ctx.toolkit()
    if tk is not None and tk.generation == 2:
        return skip("rknn-toolkit2 has no pre_compile")
    found = shutil.which("gcc", path=ctx.environ.get("PATH", ""))
    if found:
        return ok(f"gcc at {found}")
    return warn("no gcc on PATH: build(pre_compile=True) fails with \"'CaseGenerator' object has no attribute "
                "'nbg_graph_file_path'\"", "install gcc (apt-get install gcc), or pre-compile on the board "
                "with export_rknn_precompile_model")


@check("python.toolkit2_pins", "python", "toolkit2", "the installed rknn-toolkit2's pins against what is installed")
def toolkit2_pins(ctx):
    d = ctx.installed("rknn-toolkit2")
    if d is None:
        return skip("rknn-toolkit2 is not installed")
    found = list(metadata.distributions(name=d.name, path=[d.location])) or \
        list(metadata.distributions(name="rknn_toolkit2", path=[d.location]))
    reqs = (found[0].requires or []) if found else []
    env = {"extra": ""}
    out, fine = [], 0
    for text in reqs:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker and not req.marker.evaluate(env):
            continue
        have = ctx.installed(req.name)
        if have is None:
            out.append(error(f"rknn-toolkit2 {d.version} requires {req} but {req.name} is not installed",
                             f"pip install '{req}'"))
        elif req.specifier and not req.specifier.contains(release(have.version), prereleases=True):
            out.append(error(f"rknn-toolkit2 {d.version} requires {req}; {have.name} {have.version} is installed",
                             f"pip install '{req}' in the toolkit's environment (a separate venv keeps other "
                             "projects on newer versions)"))
        else:
            fine += 1
    return out or ok(f"all {fine} requirements of rknn-toolkit2 {d.version} are met")
