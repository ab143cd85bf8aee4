"""What makes the vendor's own example scripts run unchanged on `rknn_diag.api.RKNN`.

Kept out of the facade so `api.py` stays thin wiring:
    generation      which toolkit generation a script is written for (1.x or toolkit2)
    vendor_args     every argument of the vendor's API: acted on, warned about, or refused
    snapshot        accuracy_analysis output in the toolkit2 layout
    hybrid_files    hybrid_quantization_step1/2 file names of both generations
    dynamic         config(dynamic_input=...): one built graph per input shape set
    pruning         config(model_pruning=True): dead, constant and all-zero branches removed
    io_nodes        quantize_input_node / merge_dequant_layer_and_output_node
    custom_op       reg_custom_op (toolkit2) and register_op (1.x)
Beside them: rknn_diag/frontends/qoperator.py (QOperator ONNX -> QDQ), frontends/custom_shapes.py
(custom ops' own shape functions in the loader), rknn_diag/utils (onnx_edit).
"""
