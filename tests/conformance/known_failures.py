"""edgec's known failures in ONNX's backend test suite: test name (without the
_cpu suffix) -> why it fails today (the first line of the error).

The CI selection (tests/conformance/test_onnx_backend.py) skips these; the full
run (-m slow) marks them xfail, so a fixed one shows as XPASS. Generated: after a
fix, rerun `python bench/conformance.py --backends edgec --write-known-failures`
(see docs/conformance.md)."""

KNOWN_FAILURES: dict[str, str] = {
    'test_affine_grid_2d':
        "AffineGrid node 'node': in its function body, Expand node 'node/If_17__3': the target "
        'shape must be a compile-time constant',
    'test_affine_grid_2d_align_corners':
        "AffineGrid node 'node': in its function body, Expand node 'node/If_17__3': the target "
        'shape must be a compile-time constant',
    'test_affine_grid_2d_align_corners_expanded':
        "Expand node '__4': the target shape must be a compile-time constant",
    'test_affine_grid_2d_expanded':
        "Expand node '__4': the target shape must be a compile-time constant",
    'test_affine_grid_3d':
        "AffineGrid node 'node': in its function body, ConstantOfShape node "
        "'node/ConstantOfShape_22': its shape input is computed at run time; edgec needs it "
        'constant (static shapes are folded at compile time)',
    'test_affine_grid_3d_align_corners':
        "AffineGrid node 'node': in its function body, ConstantOfShape node "
        "'node/ConstantOfShape_22': its shape input is computed at run time; edgec needs it "
        'constant (static shapes are folded at compile time)',
    'test_affine_grid_3d_align_corners_expanded': 'unsupported operators: If (__6)',
    'test_affine_grid_3d_expanded':
        "ConstantOfShape node 'node_13': its shape input is computed at run time; edgec needs "
        'it constant (static shapes are folded at compile time)',
    'test_attention_4d_causal_fp16':
        'AssertionError: outputs differ: Mismatched elements: 2 / 192 (1.04%)',
    'test_attention_4d_causal_fp16_expanded':
        'AssertionError: outputs differ: Mismatched elements: 2 / 192 (1.04%)',
    'test_basic_deform_conv_with_padding': 'unsupported operators: DeformConv (node)',
    'test_basic_deform_conv_without_padding': 'unsupported operators: DeformConv (node)',
    'test_col2im': 'unsupported operators: Col2Im (node)',
    'test_col2im_5d': 'unsupported operators: Col2Im (node)',
    'test_col2im_dilations': 'unsupported operators: Col2Im (node)',
    'test_col2im_pads': 'unsupported operators: Col2Im (node)',
    'test_col2im_strides': 'unsupported operators: Col2Im (node)',
    'test_constant_pad': "Pad node 'node': constant_value must be a compile-time constant",
    'test_constant_pad_axes': "Pad node 'node': constant_value must be a compile-time constant",
    'test_constant_pad_negative_axes':
        "Pad node 'node': constant_value must be a compile-time constant",
    'test_convinteger_with_padding': "ConvInteger node 'node': weight must be a constant",
    'test_convinteger_without_padding': "ConvInteger node 'node': weight must be a constant",
    'test_convtranspose_3d': "ConvTranspose node 'node': 3-D convolution (1-D to 2-D only)",
    'test_deform_conv_with_mask_bias': 'unsupported operators: DeformConv (node)',
    'test_deform_conv_with_multiple_offset_groups': 'unsupported operators: DeformConv (node)',
    'test_dequantizelinear_blocked': "DequantizeLinear node 'node': block quantization",
    'test_det_2d': 'unsupported operators: Det (node)',
    'test_det_nd': 'unsupported operators: Det (node)',
    'test_dft_inverse': 'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_dft_inverse_opset19':
        'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_dynamicquantizelinear':
        "DynamicQuantizeLinear node 'node': in its function body, QuantizeLinear node "
        "'node/QuantizeLinear_15': scale must be a constant",
    'test_dynamicquantizelinear_max_adjusted':
        "DynamicQuantizeLinear node 'node': in its function body, QuantizeLinear node "
        "'node/QuantizeLinear_15': scale must be a constant",
    'test_dynamicquantizelinear_min_adjusted':
        "DynamicQuantizeLinear node 'node': in its function body, QuantizeLinear node "
        "'node/QuantizeLinear_15': scale must be a constant",
    'test_einsum_batch_diagonal': 'unsupported operators: Einsum (node)',
    'test_einsum_batch_matmul': 'unsupported operators: Einsum (node)',
    'test_einsum_batch_matmul_bfloat16': 'unsupported operators: Einsum (node)',
    'test_einsum_inner_prod': 'unsupported operators: Einsum (node)',
    'test_einsum_scalar': 'unsupported operators: Einsum (node)',
    'test_einsum_sum': 'unsupported operators: Einsum (node)',
    'test_einsum_sum_bfloat16': 'unsupported operators: Einsum (node)',
    'test_einsum_transpose': 'unsupported operators: Einsum (node)',
    'test_einsum_transpose_bfloat16': 'unsupported operators: Einsum (node)',
    'test_flexattention': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_causal_mask':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_diff_head_sizes':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_double': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_fp16': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_gqa': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_prob_mod': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_relative_positional':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_scaled': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_score_mod': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_soft_cap': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_linear_attention_decode_step':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_29': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_decode_step_expanded':
        "Scan node 'node_15': value "
        "'LinearAttention_test_linear_attention_decode_step_expanded_function_OutputAccum' has "
        'no static shape',
    'test_linear_attention_delta':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_28': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_delta_expanded':
        "Scan node 'node_13': value "
        "'LinearAttention_test_linear_attention_delta_expanded_function_OutputAccum' has no "
        'static shape',
    'test_linear_attention_explicit_scale':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_27': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_explicit_scale_expanded':
        "Scan node 'node_16': value "
        "'LinearAttention_test_linear_attention_explicit_scale_expanded_function_OutputAccum' "
        'has no static shape',
    'test_linear_attention_fp16':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_34': value "
        "'node/FinalState' has no static shape",
    'test_linear_attention_fp16_expanded':
        "Scan node 'node_17': value "
        "'LinearAttention_test_linear_attention_fp16_expanded_function_FinalState' has no "
        'static shape',
    'test_linear_attention_gated':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_27': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_delta':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_30': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_delta_beta_scalar':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_30': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_delta_beta_scalar_expanded':
        "Scan node 'node_15': value "
        "'LinearAttention_test_linear_attention_gated_delta_beta_scalar_expanded_function_Outpu"
        "tAccum' has no static shape",
    'test_linear_attention_gated_delta_expanded':
        "Scan node 'node_15': value "
        "'LinearAttention_test_linear_attention_gated_delta_expanded_function_OutputAccum' has "
        'no static shape',
    'test_linear_attention_gated_delta_gqa':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_34': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_delta_gqa_expanded':
        "Scan node 'node_17': value "
        "'LinearAttention_test_linear_attention_gated_delta_gqa_expanded_function_OutputAccum' "
        'has no static shape',
    'test_linear_attention_gated_delta_mqa':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_34': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_delta_mqa_expanded':
        "Scan node 'node_17': value "
        "'LinearAttention_test_linear_attention_gated_delta_mqa_expanded_function_OutputAccum' "
        'has no static shape',
    'test_linear_attention_gated_expanded':
        "Scan node 'node_13': value "
        "'LinearAttention_test_linear_attention_gated_expanded_function_OutputAccum' has no "
        'static shape',
    'test_linear_attention_gated_per_head_decay':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_27': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_gated_per_head_decay_expanded':
        "Scan node 'node_13': value "
        "'LinearAttention_test_linear_attention_gated_per_head_decay_expanded_function_OutputAc"
        "cum' has no static shape",
    'test_linear_attention_linear':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_25': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_linear_expanded':
        "Scan node 'node_11': value "
        "'LinearAttention_test_linear_attention_linear_expanded_function_OutputAccum' has no "
        'static shape',
    'test_linear_attention_linear_t1_no_past':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_25': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_linear_t1_no_past_expanded':
        "Scan node 'node_11': value "
        "'LinearAttention_test_linear_attention_linear_t1_no_past_expanded_function_OutputAccum"
        "' has no static shape",
    'test_linear_attention_no_past_explicit_zeros':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_29': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_no_past_explicit_zeros_expanded':
        "Scan node 'node_15': value "
        "'LinearAttention_test_linear_attention_no_past_explicit_zeros_expanded_function_Output"
        "Accum' has no static shape",
    'test_linear_attention_prefill_with_past':
        "LinearAttention node 'node': in its function body, Scan node 'node/Scan_29': value "
        "'node/OutputAccum' has no static shape",
    'test_linear_attention_prefill_with_past_expanded':
        "Scan node 'node_15': value "
        "'LinearAttention_test_linear_attention_prefill_with_past_expanded_function_OutputAccum"
        "' has no static shape",
    'test_maxpool_2d_uint8': "MaxPool node 'node': input is uint8 (float32 only)",
    'test_maxpool_with_argmax_2d_precomputed_pads':
        "MaxPool node 'node': the Indices output is used (only the first output is supported)",
    'test_maxpool_with_argmax_2d_precomputed_strides':
        "MaxPool node 'node': the Indices output is used (only the first output is supported)",
    'test_maxunpool_export_with_output_shape': 'unsupported operators: MaxUnpool (node)',
    'test_maxunpool_export_without_output_shape': 'unsupported operators: MaxUnpool (node)',
    'test_mvn':
        'shape inference failed: [ShapeInferenceError] Inference error(s): '
        '(op_type:MeanVarianceNormalization): [ShapeInferenceError] Inference error(s): '
        "(op_type:Constant): [ShapeInferenceError] One and only one of the attributes 'value', "
        "'value_*' or 'sparse_value' must be specified for a Const",
    'test_qlinearconv': "QLinearConv node 'node': weight must be a constant",
    'test_quantizelinear_blocked_asymmetric': "QuantizeLinear node 'node': block quantization",
    'test_quantizelinear_blocked_symmetric': "QuantizeLinear node 'node': block quantization",
    'test_resize_downsample_scales_cubic_align_corners':
        'AssertionError: outputs differ: Mismatched elements: 8 / 9 (88.9%)',
    'test_resize_downsample_scales_cubic_antialias': "Resize node 'node': antialias=1",
    'test_resize_downsample_scales_linear_align_corners':
        'AssertionError: outputs differ: Mismatched elements: 1 / 2 (50%)',
    'test_resize_downsample_scales_linear_antialias': "Resize node 'node': antialias=1",
    'test_resize_downsample_sizes_cubic_antialias': "Resize node 'node': antialias=1",
    'test_resize_downsample_sizes_linear_antialias': "Resize node 'node': antialias=1",
    'test_resize_downsample_sizes_nearest_not_larger':
        "Resize node 'node': keep_aspect_ratio_policy='not_larger'",
    'test_resize_downsample_sizes_nearest_not_smaller':
        "Resize node 'node': keep_aspect_ratio_policy='not_smaller'",
    'test_resize_tf_crop_and_resize':
        "Resize node 'node': coordinate_transformation_mode='tf_crop_and_resize'",
    'test_resize_tf_crop_and_resize_axes_2_3':
        "Resize node 'node': coordinate_transformation_mode='tf_crop_and_resize'",
    'test_resize_tf_crop_and_resize_axes_3_2':
        "Resize node 'node': coordinate_transformation_mode='tf_crop_and_resize'",
    'test_resize_tf_crop_and_resize_extrapolation_value':
        "Resize node 'node': coordinate_transformation_mode='tf_crop_and_resize'",
    'test_resize_upsample_sizes_nearest_not_larger':
        "Resize node 'node': keep_aspect_ratio_policy='not_larger'",
    'test_resize_upsample_sizes_nearest_not_smaller':
        "Resize node 'node': keep_aspect_ratio_policy='not_smaller'",
    'test_reversesequence_batch': 'unsupported operators: ReverseSequence (node)',
    'test_reversesequence_bfloat16': 'unsupported operators: ReverseSequence (node)',
    'test_reversesequence_time': 'unsupported operators: ReverseSequence (node)',
    'test_roialign_aligned_false': 'unsupported operators: RoiAlign (node)',
    'test_roialign_aligned_true': 'unsupported operators: RoiAlign (node)',
    'test_roialign_mode_max': 'unsupported operators: RoiAlign (node)',
    'test_scan_sum': "input 'initial': shape [1, 2], the model expects [2]",
    'test_stft':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
    'test_stft_with_window':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
    'test_tensorscatter': 'unsupported operators: TensorScatter (node)',
    'test_tensorscatter_3d': 'unsupported operators: TensorScatter (node)',
    'test_tensorscatter_circular': 'unsupported operators: TensorScatter (node)',
    'test_tfidfvectorizer_tf_batch_onlybigrams_skip0':
        'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_batch_onlybigrams_skip5':
        'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_batch_uniandbigrams_skip5':
        'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_only_bigrams_skip0': 'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_onlybigrams_levelempty':
        'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_onlybigrams_skip5': 'unsupported operators: TfIdfVectorizer (node)',
    'test_tfidfvectorizer_tf_uniandbigrams_skip5': 'unsupported operators: TfIdfVectorizer (node)',
}
