"""Reading the models named with --model, once each (cached on the context)."""

from __future__ import annotations

from pathlib import Path

KINDS = {".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".prototxt": "caffe", ".pb": "tensorflow",
         ".tflite": "tflite"}


def kind(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def models_of(ctx, k: str) -> list[Path]:
    """The --model files of one kind that exist (model.files reports the missing ones)."""
    return [p for p in ctx.models if kind(p) == k and p.is_file()]


def load_onnx(ctx, path: Path):
    """The ModelProto (external data not loaded: checks read the graph, not big weights)."""
    def load():
        import onnx
        return onnx.load(str(path), load_external_data=False)
    return ctx.cached(f"onnx:{path}", load)


def graph_inputs(model) -> list[tuple[str, list[int | None]]]:
    """Real inputs (not initializers), with None for a dynamic dimension."""
    inits = {i.name for i in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in vi.type.tensor_type.shape.dim]
        out.append((vi.name, dims))
    return out
