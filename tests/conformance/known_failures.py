"""edgec's known failures in ONNX's backend test suite: test name (without the
_cpu suffix) -> why it fails today (the first line of the error).

The CI selection (tests/conformance/test_onnx_backend.py) skips these; the full
run (-m slow) marks them xfail, so a fixed one shows as XPASS. Generated: after a
fix, rerun `python bench/conformance.py --backends edgec --write-known-failures`
(see docs/conformance.md)."""

KNOWN_FAILURES: dict[str, str] = {
    'test_attention_4d_causal_fp16':
        'AssertionError: outputs differ: Mismatched elements: 2 / 192 (1.04%)',
    'test_attention_4d_causal_fp16_expanded':
        'AssertionError: outputs differ: Mismatched elements: 2 / 192 (1.04%)',
    'test_dft_inverse': 'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_dft_inverse_opset19':
        'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_maxunpool_export_with_output_shape':
        'AssertionError: outputs differ: Mismatched elements: 8 / 25 (32%)',
    'test_mvn':
        'shape inference failed: [ShapeInferenceError] Inference error(s): '
        '(op_type:MeanVarianceNormalization): [ShapeInferenceError] Inference error(s): '
        "(op_type:Constant): [ShapeInferenceError] One and only one of the attributes 'value', "
        "'value_*' or 'sparse_value' must be specified for a Const",
    'test_resize_downsample_scales_cubic_align_corners':
        'AssertionError: outputs differ: Mismatched elements: 8 / 9 (88.9%)',
    'test_resize_downsample_scales_linear_align_corners':
        'AssertionError: outputs differ: Mismatched elements: 1 / 2 (50%)',
    'test_scan_sum': "input 'initial': shape [1, 2], the model expects [2]",
    'test_stft':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
    'test_stft_with_window':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
}
