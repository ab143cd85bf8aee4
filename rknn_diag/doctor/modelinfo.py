"""Reading the models named with --model, once each (cached on the context)."""

from __future__ import annotations

from pathlib import Path

KINDS = {".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".prototxt": "caffe", ".pb": "tensorflow",
         ".tflite": "tflite"}


# A protobuf model (ONNX with its weights inside, a frozen .pb) parses into about its own size
# again in memory: above this the doctor does not read it (one input stays under ~512 MB).
MAX_GRAPH_BYTES = 256 << 20


def check_size(path: Path, limit: int = MAX_GRAPH_BYTES) -> None:
    from ..errors import ModelLoadError
    size = Path(path).stat().st_size
    if size > limit:
        raise ModelLoadError(f"{Path(path).name} is {size >> 20} MiB, over the {limit >> 20} MiB the doctor reads",
                             where=str(path), fix="save the weights as ONNX external data (the graph alone "
                             "is then small), or check the model with the toolkit itself")


def kind(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def models_of(ctx, k: str) -> list[Path]:
    """The --model files of one kind that exist (model.files reports the missing ones)."""
    return [p for p in ctx.models if kind(p) == k and p.is_file()]


def load_onnx(ctx, path: Path):
    """The ModelProto (external data not loaded: checks read the graph, not big weights)."""
    def load():
        import onnx
        check_size(path)
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
