"""ONNX model checks (guide §1.3.1 note 4, §1.3.5)."""

from __future__ import annotations

from ..core import NO_TOOLKIT, check, error, ok, skip, warn
from ..modelinfo import graph_inputs, load_onnx, models_of
from ..tables_onnx import limits

DEFAULT_DOMAINS = ("", "ai.onnx")
SHOW = 5


def checked(ctx, p):
    """The model, after onnx's checker (node arity and attributes against the op schemas)."""
    def load_and_check():
        import onnx
        m = load_onnx(ctx, p)
        onnx.checker.check_model(m)
        return m
    return ctx.cached(f"onnx-checked:{p}", load_and_check)


def loaded(ctx):
    """(path, model) for every ONNX --model that parses; the load check reports the rest.
    (Models onnx's checker finds fault with are still read: the toolkits may load them.)"""
    out = []
    for p in models_of(ctx, "onnx"):
        try:
            out.append((p, load_onnx(ctx, p)))
        except Exception:
            continue
    return out


def opset_of(model) -> int | None:
    for o in model.opset_import:
        if o.domain in DEFAULT_DOMAINS:
            return int(o.version)
    return None


@check("model.onnx.load", "models", "1.3.5", "the ONNX model parses")
def onnx_load(ctx):
    paths = models_of(ctx, "onnx")
    if not paths:
        return skip("no ONNX --model given")
    out = []
    for p in paths:
        try:
            m = load_onnx(ctx, p)
        except Exception as e:
            out.append(error(f"{p}: not a readable ONNX model ({type(e).__name__}: {e})",
                             "re-export the model; check that onnx.load() opens it in the framework's environment"))
            continue
        try:
            checked(ctx, p)
        except Exception as e:  # onnx.checker.ValidationError and friends
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            out.append(warn(f"{p.name}: onnx's checker rejects the model: {first}",
                            "re-export the model; onnx.checker.check_model(model) shows the same problem"))
            continue
        out.append(ok(f"{p.name}: {len(m.graph.node)} nodes, opset {opset_of(m)}, IR {m.ir_version}"))
    return out


@check("model.onnx.opset_ir", "models", "1.3.1 note 4", "opset and IR version against the toolkit")
def onnx_opset_ir(ctx):
    models = loaded(ctx)
    if not models:
        return skip("no readable ONNX --model")
    tk = ctx.toolkit()
    if tk is None:
        return skip(NO_TOOLKIT)
    lim = limits(tk.name, tk.version)
    if lim is None:
        return skip(f"no opset/IR table for {tk}")
    out = []
    for p, m in models:
        opset, ir = opset_of(m), int(m.ir_version)
        problems = []
        if opset is not None and opset > lim["max_opset"]:
            problems.append(f"opset {opset} > {lim['max_opset']}")
        if ir > lim["max_ir"]:
            problems.append(f"IR version {ir} > {lim['max_ir']}")
        if problems:
            out.append(error(f"{p.name}: {' and '.join(problems)}, too new for {tk} ({lim['source']})",
                             f"export again with opset_version={lim['max_opset']} (torch.onnx.export) or convert it: "
                             f"onnx.version_converter.convert_version(model, {lim['max_opset']})"))
        else:
            out.append(ok(f"{p.name}: opset {opset}, IR {ir} within {tk}'s limits"))
    return out


def _attrs(node) -> dict:
    from onnx import helper, numpy_helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        elif hasattr(v, "dims") and hasattr(v, "data_type"):
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


@check("model.onnx.ops", "models", "1.3.5", "every op and attribute supported by the simulator")
def onnx_ops(ctx):
    from ...ops import registry
    models = loaded(ctx)
    if not models:
        return skip("no readable ONNX --model")
    supported = registry.supported_ops()
    if not supported:
        return skip("the op registry (rknn_diag.ops.supported_ops) is empty in this build: nothing to check against")
    out = []
    for p, m in models:
        bad = []
        for i, node in enumerate(m.graph.node):
            name = node.name or f"#{i}"
            if node.domain not in DEFAULT_DOMAINS:
                bad.append(f"node '{name}': {node.domain}.{node.op_type} (custom domain)")
            elif node.op_type not in supported:
                bad.append(f"node '{name}': {node.op_type}")
            else:
                try:
                    registry.check_node(node.op_type, _attrs(node), name, len(node.input))
                except Exception as e:  # UnsupportedOpError says what and where
                    bad.append(getattr(e, "message", str(e)) + f" (node '{name}')")
        if bad:
            more = f"; ... and {len(bad) - SHOW} more" if len(bad) > SHOW else ""
            out.append(error(f"{p.name}: {len(bad)} unsupported node(s): {'; '.join(bad[:SHOW])}{more}",
                             "replace those ops in the model, or cut the graph before them (load_onnx(outputs=...)); "
                             "`rknn-diag ops` lists what is supported"))
        else:
            out.append(ok(f"{p.name}: all {len(m.graph.node)} nodes are supported"))
    return out


@check("model.onnx.dynamic", "models", "1.3.5", "dynamic input dimensions need input_size_list")
def onnx_dynamic(ctx):
    models = loaded(ctx)
    if not models:
        return skip("no readable ONNX --model")
    out = []
    for p, m in models:
        dyn = [f"{n} {['?' if d is None else d for d in dims]}" for n, dims in graph_inputs(m) if None in dims]
        if dyn:
            out.append(warn(f"{p.name}: dynamic input dimensions: {'; '.join(dyn)}",
                            "give fixed shapes when loading: load_onnx(model, inputs=[...], input_size_list=[[...]])"))
        else:
            out.append(ok(f"{p.name}: every input has a fixed shape"))
    return out
