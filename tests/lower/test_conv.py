"""Conv, ConvTranspose, Gemm and MatMul against onnxruntime, and activation fusion."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from support import TensorProto, check_against_ort, helper, make_model

import edgec
from edgec.compiler import compile_program
from edgec.errors import EdgecError
from edgec.fb.Activation import Activation
from edgec.format.writer import serialize
from edgec.lower import conv as conv_lowering

F = TensorProto.FLOAT

# Reductions over 500+ products of N(0, 1) values have partial sums of
# magnitude ~25-40, so float32 rounding (in either implementation, summed in a
# different order) leaves ~2e-5 absolute error on outputs near zero. Only those
# tests use this atol; rtol stays 1e-4 everywhere.
LONG_SUM_ATOL = 1e-4


@pytest.fixture
def direct_conv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct (im2col) path for 3x3 stride-1 convs: these tests compare
    element by element with a small atol, Winograd's error is relative to the
    output's scale (its own tests below)."""
    monkeypatch.setattr(conv_lowering, "USE_WINOGRAD", False)


def weights(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def conv_model(x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool = True,
               op: str = "Conv", seed: int = 0, post: list[onnx.NodeProto] | None = None,
               extra_inits: dict[str, np.ndarray] | None = None, opset: int = 18,
               **attrs: Any) -> onnx.ModelProto:
    """One conv node x -> y (then `post` nodes reading y, last one writing z)."""
    out_channels = w_shape[1] * attrs.get("group", 1) if op == "ConvTranspose" else w_shape[0]
    w, b = weights(seed, w_shape, (out_channels,))
    inits = {"w": w} | ({"b": b} if bias else {}) | (extra_inits or {})
    node = helper.make_node(op, ["x", "w", "b"] if bias else ["x", "w"], ["y"], **attrs)
    out = "z" if post else "y"
    return make_model([node, *(post or [])], {"x": (F, x_shape)}, {out: F}, inits, opset=opset)


# ---- Conv -------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_kernel_stride_dilation(kernel: int, stride: int, dilation: int) -> None:
    pad = kernel // 2 * dilation
    model = conv_model((1, 5, 13, 17), (4, 5, kernel, kernel), strides=[stride, stride],
                       dilations=[dilation, dilation], pads=[pad, pad, pad, pad],
                       seed=kernel * 10 + stride + dilation)
    check_against_ort(model)


@pytest.mark.parametrize("pads", [[0, 1, 2, 1], [2, 0, 1, 3], [3, 3, 0, 0], [0, 0, 0, 0]])
def test_conv_asymmetric_pads(pads: list[int]) -> None:
    model = conv_model((1, 3, 11, 9), (6, 3, 3, 4), pads=pads, strides=[2, 1])
    check_against_ort(model)


@pytest.mark.parametrize("auto_pad", ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("kernel", [3, 4])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_auto_pad(auto_pad: str, kernel: int, stride: int) -> None:
    model = conv_model((1, 4, 13, 17), (5, 4, kernel, kernel), auto_pad=auto_pad,
                       strides=[stride, stride])
    check_against_ort(model)


@pytest.mark.parametrize(("channels", "out", "group"), [(6, 4, 2), (8, 8, 4), (4, 8, 4)])
def test_conv_groups(channels: int, out: int, group: int) -> None:
    model = conv_model((2, channels, 9, 10), (out, channels // group, 3, 3), group=group,
                       pads=[1, 0, 1, 2])
    check_against_ort(model)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_depthwise(kernel: int, stride: int, dilation: int) -> None:
    pad = kernel // 2 * dilation
    model = conv_model((2, 5, 13, 17), (5, 1, kernel, kernel), group=5,
                       strides=[stride, stride], dilations=[dilation, dilation],
                       pads=[pad, pad - 1, pad, pad + 1])
    check_against_ort(model)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_pointwise(bias: bool) -> None:
    check_against_ort(conv_model((2, 7, 13, 17), (9, 7, 1, 1), bias=bias))


def test_conv_pointwise_strided_is_not_direct() -> None:
    check_against_ort(conv_model((1, 7, 13, 17), (9, 7, 1, 1), strides=[2, 2]))


def test_conv_no_bias_batch() -> None:
    check_against_ort(conv_model((2, 3, 12, 12), (4, 3, 3, 3), bias=False, pads=[1, 1, 1, 1]))


@pytest.mark.parametrize("attrs", [
    {}, {"strides": [2]}, {"pads": [2, 1], "dilations": [2]}, {"group": 2},
    {"auto_pad": "SAME_UPPER", "strides": [2]}, {"group": 6},
])
def test_conv_1d(attrs: dict[str, Any]) -> None:
    group = attrs.get("group", 1)
    out = 6 if group == 6 else 4
    model = conv_model((2, 6, 29), (out, 6 // group, 3), **attrs)
    check_against_ort(model)


def test_conv_1d_pointwise() -> None:
    check_against_ort(conv_model((1, 6, 29), (5, 6, 1)))


@pytest.mark.usefixtures("direct_conv")
def test_conv_long_reduction_and_many_tiles() -> None:
    # K = 64 * 9 = 576 rows (three chunks of the unfolded input), 24 * 24 = 576
    # output pixels (three tiles).
    model = conv_model((1, 64, 24, 24), (16, 64, 3, 3), pads=[1, 1, 1, 1])
    check_against_ort(model, atol=LONG_SUM_ATOL)


def test_conv_large_input_odd_sizes() -> None:
    model = conv_model((1, 5, 61, 47), (7, 5, 5, 5), pads=[2, 1, 2, 3], strides=[1, 2])
    check_against_ort(model)


@pytest.mark.usefixtures("direct_conv")
@pytest.mark.parametrize("case", ["im2col", "pointwise", "depthwise", "many_channels"])
def test_conv_threads(case: str) -> None:
    model = {
        "im2col": conv_model((2, 16, 30, 30), (12, 16, 3, 3), pads=[1, 1, 1, 1]),
        "pointwise": conv_model((1, 32, 40, 40), (24, 32, 1, 1)),
        "depthwise": conv_model((2, 16, 20, 20), (16, 1, 3, 3), group=16, pads=[1, 1, 1, 1]),
        # few pixels, many output channels: the channels are split across threads
        "many_channels": conv_model((1, 8, 5, 5), (300, 8, 3, 3), pads=[1, 1, 1, 1]),
    }[case]
    check_against_ort(model, threads=2)


# Splits chosen at 2-4 threads (conv.c eval_conv): an expanding 1x1 conv splits
# its output channels when images x groups are fewer than the threads (100 =
# 60 + 40 at 2 threads, 36 + 36 + 28 at 3; at 4 the blocks would be uneven and
# it falls back to pixel tiles), here with a residual and an activation in the
# epilogue; batch 2 splits channels at 3-4 threads only; groups keep the group
# split; a depthwise conv runs one range of planes per thread (stride 2: the
# input plane counts in its work); a GEMM splits whole column tiles; a 7x7
# average pool splits its planes. Every case has enough work per range to be
# split.
THREAD_SPLIT_CASES = {
    "expand_1x1_residual": lambda: conv_model(
        (1, 29, 31, 31), (100, 29, 1, 1), seed=3,
        post=[helper.make_node("Add", ["y", "r"], ["a"]), helper.make_node("Relu", ["a"], ["z"])],
        extra_inits={"r": np.random.default_rng(4).standard_normal((1, 100, 31, 31))
                     .astype(np.float32)}),
    "expand_1x1_batch2": lambda: conv_model((2, 29, 17, 19), (100, 29, 1, 1), seed=5),
    "expand_1x1_groups": lambda: conv_model((1, 48, 25, 27), (192, 16, 1, 1), seed=6, group=3),
    "depthwise_s2": lambda: conv_model((1, 97, 55, 57), (97, 1, 3, 3), seed=7, group=97,
                                       pads=[1, 1, 1, 1], strides=[2, 2]),
    "depthwise_s1": lambda: conv_model((1, 97, 27, 29), (97, 1, 3, 3), seed=8, group=97,
                                       pads=[1, 1, 1, 1]),
    # GEMM jobs are (column tile, row tile), column tiles outermost: 128 rows in
    # tiles of 36 + 36 + 36 + 20, 384 columns in 2 tiles of 192
    "gemm_128x384x384": lambda: make_model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
        {"x": (F, (128, 384))}, {"y": F},
        dict(zip("wb", weights(9, (384, 384), (384,)), strict=True))),
    "average_7x7": lambda: make_model([helper.make_node("AveragePool", ["x"], ["y"],
                                                        kernel_shape=[7, 7])],
                                      {"x": (F, (1, 1283, 7, 7))}, {"y": F}),
}


@pytest.mark.parametrize("case", list(THREAD_SPLIT_CASES))
def test_thread_splits_match_one_thread_and_ort(case: str) -> None:
    model = THREAD_SPLIT_CASES[case]()
    program = edgec.compile(model)
    x_shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    feeds = {"x": np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)}
    one = edgec.Session(program, threads=1).run(None, feeds)[0]
    for threads in (2, 3, 4):
        got = edgec.Session(program, threads=threads).run(None, feeds)[0]
        # every output element gets the same arithmetic whichever thread computes it
        np.testing.assert_array_equal(got, one, err_msg=f"{threads} threads")
    check_against_ort(model, threads=2, atol=1e-4)


def test_conv_weight_and_bias_as_graph_inputs() -> None:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])
    model = make_model([node], {"x": (F, (1, 3, 10, 9)), "w": (F, (4, 3, 3, 3)),
                                "b": (F, (4,))}, {"y": F})
    check_against_ort(model)


def test_conv_4d_is_unsupported() -> None:
    model = conv_model((1, 2, 4, 4, 4, 4), (3, 2, 3, 3, 3, 3))
    with pytest.raises(EdgecError, match="4-D convolution"):
        edgec.compile(model)


# ---- ConvTranspose ------------------------------------------------------------


@pytest.mark.parametrize(("x_shape", "w_shape", "attrs"), [
    ((1, 3, 5, 6), (3, 4, 3, 3), {"strides": [2, 2], "output_padding": [1, 1],
                                  "pads": [1, 1, 1, 1]}),
    ((2, 4, 7, 5), (4, 2, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 4, 6, 6), (4, 3, 3, 3), {"group": 2, "dilations": [2, 2]}),
    ((1, 4, 6, 6), (4, 1, 3, 3), {"group": 4, "strides": [2, 1], "pads": [0, 1, 2, 0]}),
    ((1, 3, 5, 7), (3, 2, 2, 3), {"strides": [3, 2], "output_padding": [2, 1]}),
    ((1, 3, 5, 6), (3, 2, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((1, 3, 5, 6), (3, 2, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ((1, 3, 5, 6), (3, 2, 4, 4), {"strides": [2, 2], "output_shape": [9, 11]}),
    ((1, 3, 5, 6), (3, 2, 4, 4), {"strides": [2, 2], "output_shape": [12, 14]}),
    ((1, 3, 5, 6), (3, 2, 3, 3), {"auto_pad": "VALID"}),
    ((2, 3, 17), (3, 4, 3), {"strides": [2], "output_padding": [1], "pads": [1, 0]}),
    ((1, 3, 17), (3, 4, 5), {"dilations": [2], "group": 1}),
    ((1, 6, 4, 4), (6, 50, 5, 5), {"strides": [2, 2], "pads": [2, 2, 2, 2]}),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                        attrs: dict[str, Any], bias: bool) -> None:
    model = conv_model(x_shape, w_shape, bias=bias, op="ConvTranspose", **attrs)
    check_against_ort(model)


def test_conv_transpose_threads() -> None:
    model = conv_model((2, 8, 9, 9), (8, 6, 3, 3), op="ConvTranspose", group=2,
                       strides=[2, 2], output_padding=[1, 1])
    check_against_ort(model, threads=2)


# ---- Gemm ---------------------------------------------------------------------

GEMM_C_SHAPES = [None, (), (1,), (5,), (1, 5), (3, 1), (3, 5), (1, 1)]


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", GEMM_C_SHAPES)
def test_gemm(trans_a: int, trans_b: int, c_shape: tuple[int, ...] | None) -> None:
    m, k, n = 3, 7, 5
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    inits = {"b": weights(1, b_shape)[0]}
    if c_shape is not None:
        inits["c"] = weights(2, c_shape)[0]
    node = helper.make_node("Gemm", ["a", "b", "c"] if c_shape is not None else ["a", "b"],
                            ["y"], transA=trans_a, transB=trans_b, alpha=0.5, beta=2.0)
    check_against_ort(make_model([node], {"a": (F, a_shape)}, {"y": F}, inits))


def test_gemm_defaults_and_runtime_c() -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"])
    model = make_model([node], {"a": (F, (4, 6)), "b": (F, (6, 9)), "c": (F, (4, 9))}, {"y": F})
    check_against_ort(model)


def test_gemm_beta_zero_ignores_c() -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.0, alpha=-1.5)
    model = make_model([node], {"a": (F, (4, 6))}, {"y": F},
                       {"b": weights(0, (6, 9))[0], "c": weights(1, (9,))[0]})
    check_against_ort(model)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_single_row(trans_b: int) -> None:
    # one row of A runs as a matrix-vector product, without packing
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=trans_b, beta=0.5)
    b_shape = (11, 37) if trans_b else (37, 11)
    model = make_model([node], {"a": (F, (1, 37))}, {"y": F},
                       {"b": weights(0, b_shape)[0], "c": weights(1, (1, 11))[0]})
    check_against_ort(model)


@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_large(threads: int) -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
    model = make_model([node], {"a": (F, (67, 300))}, {"y": F},
                       {"b": weights(0, (1030, 300))[0], "c": weights(1, (1030,))[0]})
    check_against_ort(model, threads=threads)


# ---- MatMul -------------------------------------------------------------------

MATMUL_SHAPES = [
    ((7,), (7, 5)), ((4, 7), (7,)), ((7,), (7,)), ((2, 3, 4, 7), (7, 5)),
    ((3, 1, 4, 7), (1, 4, 7, 5)), ((7,), (2, 7, 5)), ((2, 4, 7), (7,)),
    ((4, 7), (2, 3, 7, 5)), ((2, 1, 4, 7), (3, 7, 5)), ((1, 4, 7), (1, 7, 5)),
    ((13, 1), (1, 11)), ((1, 1), (1, 1)),
]


@pytest.mark.parametrize(("a_shape", "b_shape"), MATMUL_SHAPES)
def test_matmul(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    check_against_ort(make_model([node], {"a": (F, a_shape), "b": (F, b_shape)}, {"y": F}))


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((384, 1536), (1536, 384)), ((1, 128, 384), (384, 1536)), ((2, 3, 65, 64), (2, 3, 64, 65)),
])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_large(a_shape: tuple[int, ...], b_shape: tuple[int, ...], threads: int) -> None:
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = make_model([node], {"a": (F, a_shape)}, {"y": F}, {"b": weights(3, b_shape)[0]})
    check_against_ort(model, atol=LONG_SUM_ATOL, threads=threads)


# ---- fused activations -----------------------------------------------------------

ACTIVATIONS: dict[str, tuple[list[onnx.NodeProto], dict[str, np.ndarray], int, int]] = {
    # name: (post nodes reading y, initializers, opset, expected Activation)
    "Relu": ([helper.make_node("Relu", ["y"], ["z"])], {}, 18, Activation.RELU),
    "Clip": ([helper.make_node("Clip", ["y", "lo", "hi"], ["z"])],
             {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}, 18, Activation.CLIP),
    "LeakyRelu": ([helper.make_node("LeakyRelu", ["y"], ["z"], alpha=0.1)], {}, 18,
                  Activation.LEAKY_RELU),
    "Sigmoid": ([helper.make_node("Sigmoid", ["y"], ["z"])], {}, 18, Activation.SIGMOID),
    "Tanh": ([helper.make_node("Tanh", ["y"], ["z"])], {}, 18, Activation.TANH),
    "HardSigmoid": ([helper.make_node("HardSigmoid", ["y"], ["z"], alpha=0.3, beta=0.4)], {},
                    18, Activation.HARD_SIGMOID),
    "HardSwish": ([helper.make_node("HardSwish", ["y"], ["z"])], {}, 18, Activation.HARD_SWISH),
    "Gelu": ([helper.make_node("Gelu", ["y"], ["z"])], {}, 20, Activation.GELU),
}


def check_fused(model: onnx.ModelProto, expected: int, **kwargs: Any) -> None:
    instructions = compile_program(model).program.instructions
    assert len(instructions) == 1, [i.opcode for i in instructions]
    assert instructions[0].options.activation == expected
    check_against_ort(model, **kwargs)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("path", ["im2col", "pointwise", "depthwise"])
def test_conv_fused_activation(act: str, path: str) -> None:
    post, inits, opset, expected = ACTIVATIONS[act]
    w_shape, attrs = {"im2col": ((6, 4, 3, 3), {"pads": [1, 1, 1, 1]}),
                      "pointwise": ((6, 4, 1, 1), {}),
                      "depthwise": ((4, 1, 3, 3), {"group": 4, "strides": [2, 2]})}[path]
    model = conv_model((1, 4, 9, 11), w_shape, post=post, extra_inits=inits, opset=opset,
                       **attrs)
    check_fused(model, expected)


@pytest.mark.parametrize("act", ["Relu", "Clip", "Sigmoid", "HardSwish"])
def test_conv_transpose_fused_activation(act: str) -> None:
    post, inits, opset, expected = ACTIVATIONS[act]
    model = conv_model((1, 3, 5, 5), (3, 2, 3, 3), op="ConvTranspose", post=post,
                       extra_inits=inits, opset=opset, strides=[2, 2])
    check_fused(model, expected)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_gemm_fused_activation(act: str) -> None:
    post, inits, opset, expected = ACTIVATIONS[act]
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.7)
    inits = inits | {"b": weights(4, (10, 12))[0], "c": weights(5, (10,))[0]}
    model = make_model([node, *post], {"a": (F, (5, 12))}, {"z": F}, inits, opset=opset)
    check_fused(model, expected)


@pytest.mark.usefixtures("direct_conv")
def test_fused_activation_threads() -> None:
    post, inits, _, expected = ACTIVATIONS["Clip"]
    model = conv_model((2, 8, 20, 20), (8, 8, 3, 3), post=post, extra_inits=inits,
                       pads=[1, 1, 1, 1])
    check_fused(model, expected, threads=2)


# ---- what the runtime refuses to load ---------------------------------------------


def _load(program_bytes: bytes) -> None:
    edgec.Session(program_bytes)


def test_scratch_too_small_is_refused() -> None:
    program = compile_program(conv_model((1, 4, 9, 9), (6, 4, 3, 3))).program
    program.instructions[0].scratch_size -= 64
    with pytest.raises(EdgecError, match="scratch"):
        _load(serialize(program))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("group", 3, "group"), ("strides", [1], "strides"), ("pads", [1, 1, 1, 1], "output size"),
    ("activation", 99, "activation"), ("dilations", [0, 1], "dilations"),
])
def test_bad_conv_options_are_refused(field: str, value: Any, message: str) -> None:
    program = compile_program(conv_model((1, 4, 9, 9), (6, 4, 3, 3))).program
    setattr(program.instructions[0].options, field, value)
    with pytest.raises(EdgecError, match=message):
        _load(serialize(program))


def test_mismatched_gemm_shapes_are_refused() -> None:
    node = helper.make_node("Gemm", ["a", "b"], ["y"])
    model = make_model([node], {"a": (F, (4, 6))}, {"y": F}, {"b": weights(0, (6, 9))[0]})
    program = compile_program(model).program
    program.instructions[0].options.transA = True
    with pytest.raises(EdgecError, match="multiply"):
        _load(serialize(program))


# ---- residual Add and MatMul bias fused into the GEMM epilogue ----------------------


def _opcodes(model: onnx.ModelProto) -> list[int]:
    return [i.opcode for i in compile_program(model).program.instructions]


@pytest.mark.parametrize("path", ["im2col", "pointwise", "depthwise", "winograd"])
@pytest.mark.parametrize("order", ["conv_first", "residual_first"])
def test_conv_residual_add_relu_fused(path: str, order: str) -> None:
    """Conv -> Add(residual) -> Relu becomes one CONV (input 3 = the residual,
    activation RELU): ResNet's block ending."""
    from edgec.fb.Opcode import Opcode

    c = 16
    w_shape, attrs = {"im2col": ((c, c, 3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}),
                      "pointwise": ((c, c, 1, 1), {}),
                      "depthwise": ((c, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": c}),
                      "winograd": ((c, c, 3, 3), {"pads": [1, 1, 1, 1]})}[path]
    w, b = weights(3, w_shape, (c,))
    add_in = ["y", "r"] if order == "conv_first" else ["r", "y"]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs),
             helper.make_node("Add", add_in, ["s"]), helper.make_node("Relu", ["s"], ["z"])]
    model = make_model(nodes, {"x": (F, (1, c, 20, 18)), "r": (F, (1, c, 20, 18))}, {"z": F},
                       {"w": (w / 6).astype(np.float32), "b": b})
    program = compile_program(model).program
    assert [i.opcode for i in program.instructions] == [Opcode.CONV]
    (conv,) = program.instructions
    assert len(conv.inputs) == 4 and conv.options.activation == Activation.RELU
    from edgec.lower.conv import VARIANT_WINOGRAD
    assert bool(conv.variant & VARIANT_WINOGRAD) == (path == "winograd")
    check_against_ort(model, atol=LONG_SUM_ATOL, threads=1)
    check_against_ort(model, atol=LONG_SUM_ATOL, threads=2)


def test_conv_residual_without_bias() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["y", "x"], ["z"])]
    model = make_model(nodes, {"x": (F, (1, 4, 9, 9))}, {"z": F},
                       {"w": weights(5, (4, 4, 3, 3))[0]})
    program = compile_program(model).program
    assert len(program.instructions) == 1 and program.instructions[0].inputs[2] == -1
    check_against_ort(model)


@pytest.mark.parametrize("case", ["conv_output_used_twice", "broadcast_add", "act_first"])
def test_conv_residual_not_fused(case: str) -> None:
    from edgec.fb.Opcode import Opcode

    w, b = weights(6, (4, 4, 1, 1), (4,))
    inits = {"w": w, "b": b}
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"])
    if case == "conv_output_used_twice":
        nodes = [conv, helper.make_node("Add", ["y", "x"], ["s"]),
                 helper.make_node("Mul", ["s", "y"], ["z"])]
    elif case == "broadcast_add":  # an input, not a constant (that folds into the bias)
        nodes = [conv, helper.make_node("Add", ["y", "r"], ["z"])]
    else:  # Conv -> Relu -> Add: the activation comes before the Add
        nodes = [conv, helper.make_node("Relu", ["y"], ["a"]),
                 helper.make_node("Add", ["a", "x"], ["z"])]
    inputs = {"x": (F, (1, 4, 6, 7))}
    if case == "broadcast_add":
        inputs["r"] = (F, (1, 4, 1, 1))
    model = make_model(nodes, inputs, {"z": F}, inits)
    assert Opcode.ADD in _opcodes(model)
    check_against_ort(model)


@pytest.mark.parametrize("bias_shape", [(48,), (1, 48), (1, 1, 48)])
@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_bias_becomes_gemm(bias_shape: tuple[int, ...], bias_first: bool) -> None:
    from edgec.fb.Opcode import Opcode

    w, b = weights(8, (40, 48), bias_shape)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]),
             helper.make_node("Add", ["b", "y"] if bias_first else ["y", "b"], ["z"])]
    model = make_model(nodes, {"x": (F, (2, 13, 40))}, {"z": F}, {"w": w, "b": b})
    assert _opcodes(model) == [Opcode.GEMM]
    check_against_ort(model, threads=2)


def test_transformer_ffn_fuses_to_two_gemms() -> None:
    """MatMul + bias + Gelu, MatMul + bias + residual: the FFN of a BERT layer
    is two GEMMs, one with the GELU in its epilogue, one with the residual."""
    from edgec.fb.Opcode import Opcode

    rng = np.random.default_rng(9)
    w1 = (rng.standard_normal((32, 64)) / 6).astype(np.float32)
    w2 = (rng.standard_normal((64, 32)) / 8).astype(np.float32)
    b1, b2 = weights(10, (64,), (32,))
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]),
             helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Gelu", ["h1"], ["h2"]),
             helper.make_node("MatMul", ["h2", "w2"], ["o0"]),
             helper.make_node("Add", ["o0", "b2"], ["o1"]),
             helper.make_node("Add", ["o1", "x"], ["z"])]
    model = make_model(nodes, {"x": (F, (1, 21, 32))}, {"z": F},
                       {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, opset=20)
    program = compile_program(model).program
    assert [i.opcode for i in program.instructions] == [Opcode.GEMM, Opcode.GEMM]
    first, second = program.instructions
    assert first.options.activation == Activation.GELU and len(first.inputs) == 3
    assert second.options.activation == Activation.NONE and len(second.inputs) == 4
    check_against_ort(model)


def test_matmul_bias_not_fused_when_bias_is_computed() -> None:
    from edgec.fb.Opcode import Opcode

    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]),
             helper.make_node("Add", ["y", "b"], ["z"])]
    model = make_model(nodes, {"x": (F, (3, 8)), "b": (F, (5,))}, {"z": F},
                       {"w": weights(11, (8, 5))[0]})
    assert _opcodes(model) == [Opcode.MATMUL, Opcode.ADD]
    check_against_ort(model)


CONV3D_CASES = [
    dict(),
    dict(pads=[1, 0, 2, 1, 1, 0]),
    dict(strides=[2, 1, 2], pads=[1, 1, 1, 1, 1, 1]),
    dict(dilations=[2, 1, 1], pads=[0, 1, 1, 0, 1, 1]),
    dict(group=2),
    dict(auto_pad="SAME_UPPER", strides=[2, 2, 1]),
]


@pytest.mark.parametrize("attrs", CONV3D_CASES, ids=str)
@pytest.mark.parametrize("const_weight", [True, False])
def test_conv3d(attrs: dict[str, Any], const_weight: bool) -> None:
    """3-D Conv, lowered to 2-D convs summed over the kernel's depth."""
    w, b = weights(20, (6, 4 // attrs.get("group", 1), 3, 2, 3), (6,))
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    if const_weight:
        model = make_model([node], {"x": (F, (2, 4, 7, 6, 5))}, {"y": F}, {"w": w, "b": b})
    else:  # weights given at run time, as PyTorch's exported tests do
        model = make_model([node], {"x": (F, (2, 4, 7, 6, 5)), "w": (F, w.shape),
                                    "b": (F, b.shape)}, {"y": F})
    check_against_ort(model, atol=LONG_SUM_ATOL)


@pytest.mark.parametrize("attrs", [
    {},
    {"strides": [2, 1, 2], "pads": [1, 0, 1, 0, 1, 1], "output_padding": [1, 0, 0]},
    {"dilations": [1, 2, 1], "strides": [1, 2, 2], "auto_pad": "SAME_UPPER"},
])
@pytest.mark.parametrize("bias", [False, True])
def test_conv_transpose_3d(attrs: dict[str, Any], bias: bool) -> None:
    """3-D: a MatMul into columns and a Col2Im that sums them into the output."""
    rng = np.random.default_rng(len(attrs) + bias)
    inits = {"w": rng.standard_normal((3, 4, 2, 3, 2)).astype(np.float32)}
    if bias:
        inits["b"] = rng.standard_normal(4).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"] if bias else ["x", "w"], ["y"],
                            **attrs)
    model = make_model([node], {"x": (TensorProto.FLOAT, (2, 3, 3, 4, 3))},
                       {"y": TensorProto.FLOAT}, inits)
    check_against_ort(model, seed=len(attrs))


@pytest.mark.parametrize(("r", "otf"), [(4, False), (2, False), (4, True), (2, True)])
def test_winograd_weight_reads_back(monkeypatch: pytest.MonkeyPatch, r: int, otf: bool) -> None:
    """The passes that read a conv weight after packing (quantization, pruning)
    get the ONNX (M, C, 3, 3) back from every Winograd layout, stored or raw."""
    from edgec.quant.weights import conv_weight

    w, _ = weights(5, (19, 13, 3, 3), (19,))
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    model = make_model([node], {"x": (F, (1, 13, 9, 9))}, {"y": F}, {"w": w})
    monkeypatch.setattr(conv_lowering, "_choose_winograd", lambda *a: (r, otf))
    program = compile_program(model).program
    (conv,) = program.instructions
    assert bool(conv.variant & conv_lowering.VARIANT_WINOGRAD_OTF) == otf
    np.testing.assert_allclose(conv_weight(program, conv), w, rtol=1e-5, atol=1e-6)
