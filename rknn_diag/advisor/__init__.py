"""`rknn-diag model`, `convert`, `compare`: what is wrong with one model on a chip, and the fix.

The pieces, in the order `rknn-diag model` uses them:

    checks     the doctor's model and dataset checks; an error stops with the guide's fix
    samples    dataset.txt split into calibration and held-back samples; the framework's float32 run
    builds     one build per mode through the public `RKNN` API (ours) or a target (vendor, board);
               cosine / SQNR / max abs / top-k on the held-back samples, latency
    hybrid     per-layer analysis, the layers that lose most, and a hybrid-quantization cfg with the
               fewest layers in 16-bit that reaches the floor — verified by rebuilding with it
    speed      chapter 6's advice applied to the model, each finding with its share of the work
    card       model.json (schema in docs/model-card.md), index.html and summary.md
    measure    the metrics of one mode on the held-back samples (from rknn_diag.compare)

Commands: `model_cli` (`rknn-diag model`), `convert_cli` (`rknn-diag convert CONFIG.yml`,
toolkit2's converter config), `compare_cli` (`rknn-diag compare A.rknn B.rknn`, layer by layer).
"""
