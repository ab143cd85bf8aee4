"""TensorFlow frozen graph checks (guide §4.4, §6 item 6), read with `tf_graph` (no TensorFlow)."""

from __future__ import annotations

from ..core import check, error, ok, skip, warn
from ..modelinfo import models_of
from ..tables_frameworks import TF_EXPLICIT_PADDINGS_SINCE
from ..tf_graph import read_graph
from ._util import V, release

CONV_OPS = ("Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "Conv3D")
SHOW = 5


def _graphs(ctx):
    out = []
    for p in models_of(ctx, "tensorflow"):
        try:
            out.append((p, ctx.cached(f"tf:{p}", lambda p=p: read_graph(p)), None))
        except Exception as e:
            out.append((p, None, e))
    return out


@check("model.tf.explicit_paddings", "models", "4.4", "explicit_paddings attributes against the TensorFlow version")
def explicit_paddings(ctx):
    graphs = _graphs(ctx)
    if not graphs:
        return skip("no TensorFlow .pb --model given")
    tk = ctx.toolkit()
    tf = ctx.installed("tensorflow") or ctx.installed("tensorflow-cpu")
    out = []
    for p, g, e in graphs:
        if g is None:
            out.append(error(f"{p.name}: {e}", "pass a frozen GraphDef .pb"))
            continue
        nodes = [n.name for n in g.node if "explicit_paddings" in n.attr]
        if not nodes:
            out.append(ok(f"{p.name}: no explicit_paddings attributes ({len(g.node)} nodes)"))
            continue
        msg = (f"{p.name}: {len(nodes)} node(s) carry explicit_paddings (written by TensorFlow >= "
               f"{TF_EXPLICIT_PADDINGS_SINCE}): {', '.join(nodes[:SHOW])}")
        fix = ("convert with the TensorFlow version the model was trained with: freeze it again with "
               "TensorFlow <= 1.13.2, or convert with a toolkit and TensorFlow >= 1.14.0")
        if tf is not None and V(release(tf.version)) < V(TF_EXPLICIT_PADDINGS_SINCE):
            out.append(error(f"{msg}; installed tensorflow {tf.version} fails with \"NodeDef mentions attr "
                             "'explicit_paddings' not in Op\"", fix))
        elif tk is not None and tk.generation == 1:
            out.append(error(f"{msg}; {tk} converts with TensorFlow <= 1.13.2 (§1.3.1), which rejects it", fix))
        elif tk is None and tf is None:
            out.append(warn(f"{msg}; TensorFlow <= 1.13.2 (what toolkit 1.x uses) rejects it", fix))
        else:
            out.append(ok(f"{msg}; fine with {tk or ''} {('tensorflow ' + tf.version) if tf else ''}".strip()))
    return out


def _dilations(node) -> list[int]:
    a = node.attr.get("dilations") if "dilations" in node.attr else None
    return list(a.list.i) if a is not None else []


@check("model.tf.dilated_conv", "models", "6.1 item 6", "dilated Conv2D built with atrous_conv2d")
def dilated_conv(ctx):
    graphs = [(p, g) for p, g, e in _graphs(ctx) if g is not None]
    if not graphs:
        return skip("no readable TensorFlow .pb --model")
    tk = ctx.toolkit()
    out = []
    for p, g in graphs:
        bad = [f"{n.name} dilations {_dilations(n)}" for n in g.node
               if n.op in CONV_OPS and any(d > 1 for d in _dilations(n))]
        if not bad:
            out.append(ok(f"{p.name}: no conv with a dilations attribute > 1"))
            continue
        msg = (f"{p.name}: {len(bad)} conv(s) built with tf.nn.conv2d(dilations=...), whose results the toolkit "
               f"gets wrong: {'; '.join(bad[:SHOW])}")
        fix = "build dilated convolutions with tf.nn.atrous_conv2d and freeze the graph again"
        out.append(warn(msg, fix) if tk is not None and tk.generation == 2 else error(msg, fix))
    return out
