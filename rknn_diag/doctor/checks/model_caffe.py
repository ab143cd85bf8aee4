"""Caffe prototxt checks (guide §3.1-§3.7), over `prototxt.parse` (no Caffe needed)."""

from __future__ import annotations

from ...frontends.caffe_loader import PROPOSAL_FIELDS, SCOPE   # the rules the loader refuses by (§3.3, §3.6)
from ..core import check, error, ok, skip
from ..modelinfo import models_of
from ..prototxt import Message, read

SHOW = 5


def _nets(ctx):
    out = []
    for p in models_of(ctx, "caffe"):
        try:
            out.append((p, ctx.cached(f"caffe:{p}", lambda p=p: read(p)), None))
        except Exception as e:
            out.append((p, None, e))
    return out


def _parsed(ctx):
    return [(p, net) for p, net, e in _nets(ctx) if net is not None]


def _layers(net: Message) -> list[Message]:
    return net.messages("layer")


def _type(layer: Message) -> str:
    return str(layer.get("type", ""))


@check("model.caffe.parse", "models", "3", "the prototxt parses")
def caffe_parse(ctx):
    nets = _nets(ctx)
    if not nets:
        return skip("no Caffe .prototxt --model given")
    return [ok(f"{p.name}: {len(_layers(n))} layers") if n is not None else
            error(f"{p.name}: {e}", "fix the prototxt syntax") for p, n, e in nets]


@check("model.caffe.input", "models", "3.1", "no deprecated input:/input_dim usage")
def caffe_input(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        old = [f for f in net.fields if f.name in ("input", "input_dim", "input_shape")]
        if old:
            out.append(error(f"{p.name}:{old[0].line}: top-level '{old[0].name}:' is the deprecated Caffe input "
                             "usage ('Deprecated caffe input usage')",
                             "replace it with a layer { type: \"Input\" input_param { shape { dim: 1 dim: 3 ... } } }"))
        else:
            out.append(ok(f"{p.name}: inputs declared as Input layers"))
    return out


@check("model.caffe.round_mode", "models", "3.2", "no round_mode in pooling_param")
def caffe_round_mode(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        bad = [f"layer '{layer.get('name', '?')}' (line {pp.line})" for layer in _layers(net)
               for pp in layer.messages("pooling_param") if pp.has("round_mode")]
        if bad:
            out.append(error(f"{p.name}: round_mode in pooling_param ('caffe.PoolingParameter has no field named "
                             f"round_mode'): {', '.join(bad[:SHOW])}",
                             "delete round_mode (ceil_mode is true by default) or write ceil_mode: true"))
        else:
            out.append(ok(f"{p.name}: no round_mode"))
    return out


@check("model.caffe.scope_names", "models", "3.3", "layer names valid as TensorFlow scopes")
def caffe_scope_names(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        bad = [f"'{layer.get('name')}' (line {layer.line})" for layer in _layers(net)
               if layer.get("name") is not None and not SCOPE.fullmatch(str(layer.get("name")))]
        if bad:
            out.append(error(f"{p.name}: {len(bad)} layer name(s) not valid as TensorFlow scope names "
                             f"(\"is not a valid scope name\"): {', '.join(bad[:SHOW])}",
                             "rename them to start with a letter, digit or '.', using only letters, digits "
                             "and _ . - /"))
        else:
            out.append(ok(f"{p.name}: all layer names are valid scope names"))
    return out


@check("model.caffe.detection_output", "models", "3.4", "no DetectionOutput layer")
def caffe_detection_output(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        bad = [f"'{layer.get('name', '?')}' (line {layer.line})" for layer in _layers(net)
               if _type(layer).lower() == "detectionoutput"]
        if bad:
            out.append(error(f"{p.name}: DetectionOutput layer(s) are not supported ('Invalid tensor id'): "
                             f"{', '.join(bad)}", "delete the DetectionOutput layer and run that step on the CPU"))
        else:
            out.append(ok(f"{p.name}: no DetectionOutput layer"))
    return out


@check("model.caffe.proposal", "models", "3.6", "a proposal layer with the fields the toolkit needs")
def caffe_proposal(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        bad, n = [], 0
        for layer in _layers(net):
            t, name = _type(layer), str(layer.get("name", "?"))
            py = layer.messages("python_param")
            if t == "Python" and py and "proposal" in str(py[0].get("layer", "")).lower():
                n += 1
                bad.append(f"'{name}' (line {layer.line}) is a Python layer; needs type 'proposal' with proposal_param")
            elif t.lower() == "proposal":
                n += 1
                pp = layer.messages("proposal_param")
                missing = [f for f in PROPOSAL_FIELDS if not (pp and pp[0].has(f))]
                if missing:
                    bad.append(f"'{name}' (line {layer.line}) lacks {', '.join(missing)} in proposal_param")
        if bad:
            out.append(error(f"{p.name}: proposal layer not in the toolkit's form ('Invalid tensor id' on "
                             f"rpn_bbox_pred): {'; '.join(bad)}",
                             "write it as type: 'proposal' with proposal_param { ratio scale base_size feat_stride "
                             "pre_nms_topn post_nms_topn nms_thresh min_size } (guide §3.6)"))
        else:
            out.append(ok(f"{p.name}: {n} proposal layer(s), all complete"))
    return out


@check("model.caffe.layer_version", "models", "3.7", "layers in the current format, not V0/V1")
def caffe_layer_version(ctx):
    nets = _parsed(ctx)
    if not nets:
        return skip("no readable Caffe --model")
    out = []
    for p, net in nets:
        old = net.messages("layers")
        if old:
            version = "V0" if any(m.has("layer") for m in old) else "V1"
            out.append(error(f"{p.name}:{old[0].line}: {version} 'layers {{...}}' format ('Not supported caffe net "
                             "model version(v0 layer or v1 layer)')",
                             "upgrade with Caffe's tools: upgrade_net_proto_text old.prototxt new.prototxt and "
                             "upgrade_net_proto_binary old.caffemodel new.caffemodel"))
        else:
            out.append(ok(f"{p.name}: current 'layer {{...}}' format"))
    return out
