"""edgec's known failures in ONNX's backend test suite: test name (without the
_cpu suffix) -> why it fails today (the first line of the error).

The CI selection (tests/conformance/test_onnx_backend.py) skips these; the full
run (-m slow) marks them xfail, so a fixed one shows as XPASS. Generated: after a
fix, rerun `python bench/conformance.py --backends edgec --write-known-failures`
(see docs/conformance.md)."""

KNOWN_FAILURES: dict[str, str] = {
    'test_Conv3d': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_dilated': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_dilated_strided': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_groups': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_no_bias': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_stride': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_Conv3d_stride_padding': "Conv node 'node': 3-D convolution (1-D and 2-D only)",
    'test_add_int16':
        "Add node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_add_uint16':
        "Add node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_add_uint32':
        "Add node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_add_uint64':
        "Add node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
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
    'test_attention_24_qk_matmul_output_mode3_softmax_precision':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_59': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_24_qk_matmul_output_mode3_softmax_precision_expanded':
        "MatMul node 'node_26': float16 operand "
        "'Attention_test_attention_24_qk_matmul_output_mode3_softmax_precision_expanded_functio"
        "n_QScaled' (float32 only)",
    'test_attention_3d_causal_bf16':
        "Attention node 'node': in its function body, Transpose node 'node/Transpose_11': "
        'bfloat16 tensors (the runtime has float32, float16, int8, uint8, int32, int64, bool)',
    'test_attention_3d_causal_bf16_expanded':
        "Transpose node 'node_6': bfloat16 tensors (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_attention_4d_attn_mask_causal_bf16':
        "Attention node 'node': in its function body, Add node 'node/Add_43': bfloat16 inputs "
        '(float32, float16, int8, uint8, int32, int64 only)',
    'test_attention_4d_attn_mask_causal_bf16_expanded':
        "Add node 'node_16': bfloat16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_attention_4d_causal_bf16':
        "Attention node 'node': in its function body, Transpose node 'node/Transpose_63': "
        'bfloat16 tensors (the runtime has float32, float16, int8, uint8, int32, int64, bool)',
    'test_attention_4d_causal_bf16_expanded':
        "Transpose node 'node_19': bfloat16 tensors (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_attention_4d_causal_fp16':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_66': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_4d_causal_fp16_expanded':
        "MatMul node 'node_22': float16 operand "
        "'Attention_test_attention_4d_causal_fp16_expanded_function_QScaled' (float32 only)",
    'test_attention_4d_causal_padded_kv_bf16':
        "Attention node 'node': in its function body, Pad node 'node/Pad_34': bfloat16 tensors "
        '(the runtime has float32, float16, int8, uint8, int32, int64, bool)',
    'test_attention_4d_causal_padded_kv_bf16_expanded':
        "Pad node 'node_15': bfloat16 tensors (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_attention_4d_fp16':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_52': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_4d_fp16_expanded':
        "MatMul node 'node_20': float16 operand "
        "'Attention_test_attention_4d_fp16_expanded_function_QScaled' (float32 only)",
    'test_attention_4d_gqa_causal_nonpad_decode_fp16':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_84': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_4d_gqa_causal_nonpad_decode_fp16_expanded':
        "MatMul node 'node_42': float16 operand "
        "'Attention_test_attention_4d_gqa_causal_nonpad_decode_fp16_expanded_function_QScaled' "
        '(float32 only)',
    'test_attention_4d_gqa_with_past_and_present_fp16':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_55': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_4d_gqa_with_past_and_present_fp16_expanded':
        "MatMul node 'node_26': float16 operand "
        "'Attention_test_attention_4d_gqa_with_past_and_present_fp16_expanded_function_QScaled'"
        ' (float32 only)',
    'test_attention_4d_padded_kv_bf16':
        "Attention node 'node': in its function body, Pad node 'node/Pad_33': bfloat16 tensors "
        '(the runtime has float32, float16, int8, uint8, int32, int64, bool)',
    'test_attention_4d_padded_kv_bf16_expanded':
        "Pad node 'node_14': bfloat16 tensors (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_attention_local_window_ext_cache_float16_mask':
        "Attention node 'node': in its function body, MatMul node 'node/MatMul_113': float16 "
        "operand 'node/QScaled' (float32 only)",
    'test_attention_local_window_ext_cache_float16_mask_expanded':
        "MatMul node 'node_53': float16 operand "
        "'Attention_test_attention_local_window_ext_cache_float16_mask_expanded_function_QScale"
        "d' (float32 only)",
    'test_attention_local_window_gqa_rank4_mask':
        "Attention node 'node': in its function body, Cast node 'node/Cast_99': cast to float64",
    'test_attention_local_window_gqa_rank4_mask_expanded': "Cast node 'node_39': cast to float64",
    'test_basic_deform_conv_with_padding': 'unsupported operators: DeformConv (node)',
    'test_basic_deform_conv_without_padding': 'unsupported operators: DeformConv (node)',
    'test_bitcast_float64_to_int64':
        "BitCast node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_bitcast_int64_to_float64':
        "BitCast node 'node': output of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_bitcast_uint16_to_int16':
        "BitCast node 'node': input of dtype uint16 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_bitcast_uint32_to_int32':
        "BitCast node 'node': input of dtype uint32 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_bitshift_left_int16':
        "BitShift node 'node': int16 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_left_uint16':
        "BitShift node 'node': uint16 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_left_uint32':
        "BitShift node 'node': uint32 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_left_uint64':
        "BitShift node 'node': uint64 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_right_int16':
        "BitShift node 'node': int16 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_right_uint16':
        "BitShift node 'node': uint16 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_right_uint32':
        "BitShift node 'node': uint32 inputs (int8, uint8, int32, int64 only)",
    'test_bitshift_right_uint64':
        "BitShift node 'node': uint64 inputs (int8, uint8, int32, int64 only)",
    'test_bitwise_and_i16_3d':
        "BitwiseAnd node 'node': int16 inputs (int8, uint8, int32, int64 only)",
    'test_bitwise_and_ui64_bcast_3v1d':
        "BitwiseAnd node 'node': uint64 inputs (int8, uint8, int32, int64 only)",
    'test_bitwise_not_3d': "BitwiseNot node 'node': uint16 input (int8, uint8, int32, int64 only)",
    'test_bitwise_or_ui64_bcast_3v1d':
        "BitwiseOr node 'node': uint64 inputs (int8, uint8, int32, int64 only)",
    'test_bitwise_xor_i16_3d':
        "BitwiseXor node 'node': int16 inputs (int8, uint8, int32, int64 only)",
    'test_bitwise_xor_ui64_bcast_3v1d':
        "BitwiseXor node 'node': uint64 inputs (int8, uint8, int32, int64 only)",
    'test_cast_BFLOAT16_to_FLOAT':
        "Cast node 'node': bfloat16 tensors (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_cast_DOUBLE_to_FLOAT':
        "Cast node 'node': float64 tensors (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_cast_DOUBLE_to_FLOAT16':
        "Cast node 'node': float64 tensors (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_cast_FLOAT16_to_DOUBLE': "Cast node 'node': cast to float64",
    'test_cast_FLOAT_to_BFLOAT16': "Cast node 'node': cast to bfloat16",
    'test_cast_FLOAT_to_DOUBLE': "Cast node 'node': cast to float64",
    'test_castlike_BFLOAT16_to_FLOAT':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_BFLOAT16_to_FLOAT_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_DOUBLE_to_FLOAT':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_DOUBLE_to_FLOAT16':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_DOUBLE_to_FLOAT16_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_DOUBLE_to_FLOAT_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT16_to_DOUBLE':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT16_to_DOUBLE_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT16_to_FLOAT':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT16_to_FLOAT_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_BFLOAT16':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_BFLOAT16_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_DOUBLE':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_DOUBLE_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_FLOAT16':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_castlike_FLOAT_to_FLOAT16_expanded':
        "input 'like' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape like=...',
    'test_causal_conv_with_state_fp16':
        "CausalConvWithState node 'node': in its function body, Conv node 'node/Conv_9': "
        "float16 operand 'node/PaddedInput' (float32 only)",
    'test_causal_conv_with_state_fp16_expanded':
        "Conv node 'node_2': float16 operand "
        "'CausalConvWithState_test_causal_conv_with_state_fp16_expanded_function_PaddedInput' "
        '(float32 only)',
    'test_causal_conv_with_state_silu_fp16':
        "CausalConvWithState node 'node': in its function body, Conv node 'node/Conv_9': "
        "float16 operand 'node/PaddedInput' (float32 only)",
    'test_causal_conv_with_state_silu_fp16_expanded':
        "Conv node 'node_2': float16 operand "
        "'CausalConvWithState_test_causal_conv_with_state_silu_fp16_expanded_function_PaddedInp"
        "ut' (float32 only)",
    'test_celu_bfloat16':
        "Celu node 'node': in its function body, Div node 'node/Div_2': bfloat16 inputs "
        '(float32, float16, int8, uint8, int32, int64 only)',
    'test_celu_bfloat16_expanded':
        "Div node 'node_1': bfloat16 inputs (float32, float16, int8, uint8, int32, int64 only)",
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
    'test_convtranspose_3d': "ConvTranspose node 'node': 3-D convolution (1-D and 2-D only)",
    'test_cumprod_1d':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_1d_exclusive':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_1d_reverse':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_1d_reverse_exclusive':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_2d_axis_0':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_2d_axis_1':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumprod_2d_negative_axis':
        "CumProd node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_1d':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_1d_exclusive':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_1d_reverse':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_1d_reverse_exclusive':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_2d_axis_0':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_2d_axis_1':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_cumsum_2d_negative_axis':
        "CumSum node 'node': input of dtype float64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_deform_conv_with_mask_bias': 'unsupported operators: DeformConv (node)',
    'test_deform_conv_with_multiple_offset_groups': 'unsupported operators: DeformConv (node)',
    'test_dequantizelinear_blocked': "DequantizeLinear node 'node': block quantization",
    'test_dequantizelinear_int16':
        "DequantizeLinear node 'node': int16 input (int8, uint8 or int32)",
    'test_dequantizelinear_uint16':
        "DequantizeLinear node 'node': uint16 input (int8, uint8 or int32)",
    'test_det_2d': 'unsupported operators: Det (node)',
    'test_det_nd': 'unsupported operators: Det (node)',
    'test_dft_inverse': 'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_dft_inverse_opset19':
        'AssertionError: outputs differ: Mismatched elements: 10 / 200 (5%)',
    'test_div_int16':
        "Div node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_div_uint16':
        "Div node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_div_uint32':
        "Div node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_div_uint64':
        "Div node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
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
    'test_equal_int16':
        "Equal node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_equal_uint16':
        "Equal node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_equal_uint32':
        "Equal node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_equal_uint64':
        "Equal node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_eyelike_with_dtype':
        "EyeLike node 'node': float64 output (the runtime has float32, float16, int8, uint8, "
        'int32, int64, bool)',
    'test_flexattention': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_causal_mask':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_diff_head_sizes':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_double': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_double_expanded_ver26':
        "Mul node 'node_7': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_flexattention_fp16': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_fp16_expanded_ver26':
        "MatMul node 'node_10': float16 operand "
        "'FlexAttention_test_flexattention_fp16_expanded_function_QScaled' (float32 only)",
    'test_flexattention_gqa': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_prob_mod': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_relative_positional':
        'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_scaled': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_score_mod': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_flexattention_soft_cap': 'unsupported operators: ai.onnx.preview::FlexAttention (node)',
    'test_greater_equal_int16':
        "GreaterOrEqual node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 "
        'only)',
    'test_greater_equal_int16_expanded':
        "Greater node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_equal_uint16':
        "GreaterOrEqual node 'node': uint16 inputs (float32, float16, int8, uint8, int32, "
        'int64 only)',
    'test_greater_equal_uint16_expanded':
        "Greater node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_equal_uint32':
        "GreaterOrEqual node 'node': uint32 inputs (float32, float16, int8, uint8, int32, "
        'int64 only)',
    'test_greater_equal_uint32_expanded':
        "Greater node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_equal_uint64':
        "GreaterOrEqual node 'node': uint64 inputs (float32, float16, int8, uint8, int32, "
        'int64 only)',
    'test_greater_equal_uint64_expanded':
        "Greater node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_int16':
        "Greater node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_uint16':
        "Greater node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_uint32':
        "Greater node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_greater_uint64':
        "Greater node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_if': 'unsupported operators: If (node)',
    'test_layer_normalization_2d_axis0':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_2d_axis1':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_2d_axis_negative_1':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_2d_axis_negative_2':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis0_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis1_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis2_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis_negative_1_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis_negative_2_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_3d_axis_negative_3_epsilon':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis0':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis1':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis2':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis3':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis_negative_1':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis_negative_2':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis_negative_3':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_4d_axis_negative_4':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_layer_normalization_default_axis':
        "LayerNormalization node 'node': the Mean/InvStdDev output is used (only the first "
        'output is supported)',
    'test_less_equal_int16':
        "LessOrEqual node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 "
        'only)',
    'test_less_equal_int16_expanded':
        "Less node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_equal_uint16':
        "LessOrEqual node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 "
        'only)',
    'test_less_equal_uint16_expanded':
        "Less node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_equal_uint32':
        "LessOrEqual node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 "
        'only)',
    'test_less_equal_uint32_expanded':
        "Less node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_equal_uint64':
        "LessOrEqual node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 "
        'only)',
    'test_less_equal_uint64_expanded':
        "Less node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_int16':
        "Less node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_uint16':
        "Less node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_uint32':
        "Less node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_less_uint64':
        "Less node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
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
    'test_loop11': 'unsupported operators: Loop (node)',
    'test_max_float64': "Max node 'node': float64 inputs",
    'test_max_int16': "Max node 'node': int16 inputs",
    'test_max_uint16': "Max node 'node': uint16 inputs",
    'test_max_uint32': "Max node 'node': uint32 inputs",
    'test_max_uint64': "Max node 'node': uint64 inputs",
    'test_maxpool_2d_uint8': "MaxPool node 'node': input is uint8 (float32 only)",
    'test_maxpool_with_argmax_2d_precomputed_pads':
        "MaxPool node 'node': the Indices output is used (only the first output is supported)",
    'test_maxpool_with_argmax_2d_precomputed_strides':
        "MaxPool node 'node': the Indices output is used (only the first output is supported)",
    'test_maxunpool_export_with_output_shape': 'unsupported operators: MaxUnpool (node)',
    'test_maxunpool_export_without_output_shape': 'unsupported operators: MaxUnpool (node)',
    'test_min_float64': "Min node 'node': float64 inputs",
    'test_min_int16': "Min node 'node': int16 inputs",
    'test_min_uint16': "Min node 'node': uint16 inputs",
    'test_min_uint32': "Min node 'node': uint32 inputs",
    'test_min_uint64': "Min node 'node': uint64 inputs",
    'test_mod_float64_mixed_sign_fmod_0':
        "Mod node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_float_edge_cases_fmod_0_float64':
        "Mod node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_mixed_sign_float64':
        "Mod node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_mixed_sign_int16':
        "Mod node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_uint16':
        "Mod node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_uint32':
        "Mod node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mod_uint64':
        "Mod node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mul_int16':
        "Mul node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mul_uint16':
        "Mul node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mul_uint32':
        "Mul node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mul_uint64':
        "Mul node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_mvn':
        'shape inference failed: [ShapeInferenceError] Inference error(s): '
        '(op_type:MeanVarianceNormalization): [ShapeInferenceError] Inference error(s): '
        "(op_type:Constant): [ShapeInferenceError] One and only one of the attributes 'value', "
        "'value_*' or 'sparse_value' must be specified for a Const",
    'test_onehot_with_bfloat16_values':
        "OneHot node 'node': values of dtype bfloat16 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_operator_add_broadcast':
        "Add node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_operator_add_size1_broadcast':
        "Add node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_operator_add_size1_right_broadcast':
        "Add node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_operator_add_size1_singleton_broadcast':
        "Add node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_operator_addconstant':
        "Add node 'node': float64 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_pow_types_float32_uint32': "Pow node 'node': operand of dtype uint32",
    'test_pow_types_float32_uint64': "Pow node 'node': operand of dtype uint64",
    'test_qlinearconv': "QLinearConv node 'node': weight must be a constant",
    'test_quantizelinear_blocked_asymmetric': "QuantizeLinear node 'node': block quantization",
    'test_quantizelinear_blocked_symmetric':
        "QuantizeLinear node 'node': int16 output (int8 or uint8 only)",
    'test_quantizelinear_int16': "QuantizeLinear node 'node': int16 output (int8 or uint8 only)",
    'test_quantizelinear_uint16': "QuantizeLinear node 'node': uint16 output (int8 or uint8 only)",
    'test_range_bfloat16_type_positive_delta': 'KeyError: dtype(bfloat16)',
    'test_range_bfloat16_type_positive_delta_expanded': 'unsupported operators: Loop (node_9)',
    'test_range_float16_type_positive_delta_expanded': 'unsupported operators: Loop (node_9)',
    'test_range_float_type_positive_delta_expanded': 'unsupported operators: Loop (node_6)',
    'test_range_int32_type_negative_delta_expanded': 'unsupported operators: Loop (node_8)',
    'test_reduce_l1_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_l1_empty_set_expanded':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_l2_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_l2_empty_set_expanded':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_log_sum_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_log_sum_empty_set_expanded':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_log_sum_exp_default_axes_keepdims_example':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_default_axes_keepdims_example_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_default_axes_keepdims_random':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_default_axes_keepdims_random_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_do_not_keepdims_example':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_do_not_keepdims_example_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_do_not_keepdims_random':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_do_not_keepdims_random_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_log_sum_exp_empty_set_expanded':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_log_sum_exp_keepdims_example':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_keepdims_example_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_keepdims_random':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_keepdims_random_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_negative_axes_keepdims_example':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_negative_axes_keepdims_example_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_log_sum_exp_negative_axes_keepdims_random':
        "ReduceLogSumExp node 'node': input is float64 (float32 only)",
    'test_reduce_log_sum_exp_negative_axes_keepdims_random_expanded':
        "Exp node 'node': float64 input (float32, float16 only)",
    'test_reduce_max_bool_inputs': "ReduceMax node 'node': input is bool (float32 only)",
    'test_reduce_max_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_max_empty_set_bool':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_min_bool_inputs': "ReduceMin node 'node': input is bool (float32 only)",
    'test_reduce_min_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_prod_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_sum_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_sum_empty_set_non_reduced_axis_zero':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_sum_square_empty_set':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reduce_sum_square_empty_set_expanded':
        "input 'data' has dynamic dimension '?' (axis 1, shape [2,0,4]); bind it with "
        '--input-shape data=...',
    'test_reshape_allowzero_reordered':
        "input 'data' has dynamic dimension '?' (axis 0, shape [0,3,4]); bind it with "
        '--input-shape data=...',
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
    'test_split_zero_size_splits_opset13':
        "input 'input' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape input=...',
    'test_split_zero_size_splits_opset18':
        "input 'input' has dynamic dimension '?' (axis 0, shape [0]); bind it with "
        '--input-shape input=...',
    'test_stft':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
    'test_stft_with_window':
        'shape inference failed: [ShapeInferenceError] Inference error(s): (op_type:STFT): '
        '[ShapeInferenceError] Inferred shape and existing shape differ in dimension 2: (16) '
        'vs (9)',
    'test_sub_int16':
        "Sub node 'node': int16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_sub_uint16':
        "Sub node 'node': uint16 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_sub_uint32':
        "Sub node 'node': uint32 inputs (float32, float16, int8, uint8, int32, int64 only)",
    'test_sub_uint64':
        "Sub node 'node': uint64 inputs (float32, float16, int8, uint8, int32, int64 only)",
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
    'test_top_k_uint64':
        "TopK node 'node': input of dtype uint64 (the runtime has float32, float16, int8, "
        'uint8, int32, int64, bool)',
    'test_tril_zero':
        "input 'x' has dynamic dimension '?' (axis 1, shape [3,0,5]); bind it with "
        '--input-shape x=...',
    'test_triu_zero':
        "input 'x' has dynamic dimension '?' (axis 0, shape [0,5]); bind it with --input-shape "
        'x=...',
}
