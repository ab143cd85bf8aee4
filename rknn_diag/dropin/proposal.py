"""hybrid_quantization_step1(proposal=True): layers proposed for float16 in the cfg's layer table.

A layer is proposed when the error it introduces itself (accuracy_analysis' `own_cosine`: its
weights' and its output's quantization, per channel) is below the mode's cosine floor
(`tolerances.QUANT_OP_COSINE`) on any of the first `proposal_dataset_size` dataset samples —
the layers that moving to float16 by hybrid quantization fixes. The user reviews the list.
"""

from __future__ import annotations

import tempfile

from .. import tolerances
from ..log import Logger
from ..model import BuiltModel


def propose(model: BuiltModel, dataset: str, n_samples: int, log: Logger) -> dict[str, str]:
    from ..quant.analysis import analyse
    from ..quant.dataset import load_sample, read_lines

    if not isinstance(n_samples, int) or n_samples < 1:
        from ..errors import ConfigError
        raise ConfigError(f"proposal_dataset_size must be an integer >= 1; got {n_samples!r}")
    floor = tolerances.QUANT_OP_COSINE.get(model.mode, tolerances.QUANT_8BIT_COSINE)
    worst: dict[str, float] = {}
    for line in read_lines(dataset, len(model.graph.inputs))[:n_samples]:
        feeds = load_sample(line, model.graph.inputs, model.config, log, str(dataset))
        with tempfile.TemporaryDirectory() as tmp:
            df = analyse(model, feeds, tmp)
        for layer, cos in zip(df["layer"], df["own_cosine"]):
            worst[layer] = min(worst.get(layer, 1.0), float(cos))
    chosen = {layer: "float16" for layer, cos in sorted(worst.items(), key=lambda kv: kv[1]) if cos < floor}
    log.i(f"hybrid proposal: {len(chosen)} layer(s) below cosine {floor} on {n_samples} sample(s): "
          f"{', '.join(f'{k} ({worst[k]:.4f})' for k in chosen) or 'none'}")
    return chosen
