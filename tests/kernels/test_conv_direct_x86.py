"""The direct AVX-512 convolution for few input channels
(runtime_c/src/kernels/x86/conv_direct_avx512.c, conv.c PATH_DIRECT): a
CNN's first layer. Each case runs in every family and thread count against
the reference family (which tests/lower checks against onnxruntime), and the
AVX-512 output against a float64 numpy convolution. Shapes cover 1-4 input
channels, output channels off the 8-channel tile (5, 20, 64), kernels 1 to
11, strides 1/2/4 (also unequal), asymmetric pads, output widths across
the 48-column tile and its 16-column tails (1..40, 111, 112), batch 2, with
and without bias, fused Relu / Clip, and a residual addend (declined: the
instruction keeps the im2col path)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model
from test_x86_variants import (
    ACTS,
    HAS_AVX512,
    check_families,
    conv_model,
    random_feeds,
    run_family,
)

from edgec.compiler import compile_program
from edgec.lower.conv import VARIANT_AVX512


def conv_f64(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: list[int],
             pads: list[int]) -> np.ndarray:
    """NCHW conv in float64, group 1, dilation 1 (pads: top, left, bottom, right)."""
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]))
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - kh) // strides[0] + 1
    ow = (xp.shape[3] - kw) // strides[1] + 1
    y = np.zeros((n, m, oh, ow))
    w64 = w.astype(np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + strides[0] * (oh - 1) + 1:strides[0],
                       j:j + strides[1] * (ow - 1) + 1:strides[1]]
            y += np.einsum("nchw,mc->nmhw", patch, w64[:, :, i, j])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


# (input shape, (M, C, kh, kw), strides, pads)
CASES = [
    ((1, 3, 224, 224), (64, 3, 3, 3), [2, 2], [0, 0, 0, 0]),   # squeezenet: ow 111
    ((1, 3, 224, 224), (32, 3, 3, 3), [2, 2], [1, 1, 1, 1]),   # mobilenet_v2: ow 112
    ((2, 3, 61, 70), (20, 3, 7, 7), [2, 2], [3, 3, 3, 3]),     # resnet-like, ow 35
    ((1, 3, 67, 227), (5, 3, 11, 11), [4, 4], [2, 1, 0, 3]),   # alexnet-like, ow 55
    ((2, 1, 9, 40), (5, 1, 3, 3), [1, 1], [1, 0, 0, 2]),       # stride 1, ow 40
    ((1, 4, 13, 45), (20, 4, 5, 5), [2, 2], [2, 0, 1, 2]),     # ow 21
    ((1, 2, 17, 16), (9, 2, 1, 1), [2, 2], [0, 0, 0, 0]),      # 1x1 strided
    ((2, 3, 9, 12), (8, 3, 2, 4), [1, 2], [0, 1, 1, 0]),       # unequal kernel / strides
    ((1, 3, 12, 5), (7, 3, 3, 5), [2, 4], [1, 2, 1, 2]),       # ow 1
    ((1, 3, 11, 125), (13, 3, 3, 3), [1, 1], [0, 0, 0, 0]),    # ow 123: 48 + 48 + 27
    ((1, 4, 8, 66), (16, 4, 3, 3), [1, 1], [1, 1, 1, 1]),      # ow 66: 48 + 18
    ((2, 2, 10, 99), (6, 2, 6, 6), [4, 4], [3, 0, 2, 1]),      # stride 4, even kernel
    ((3, 3, 30, 224), (24, 3, 7, 7), [2, 2], [3, 3, 3, 3]),    # output prefetch across rows, images
]


@pytest.mark.parametrize(("x", "w", "strides", "pads"), CASES)
def test_direct_conv_cases(x: tuple[int, ...], w: tuple[int, ...], strides: list[int],
                           pads: list[int]) -> None:
    for bias in (True, False):
        model = conv_model(x, w, 17, bias=bias, strides=strides, pads=pads)
        threads = (1, 2, 3) if bias else (1,)
        program = check_families(model, 5, threads=threads)
        feeds = random_feeds(model, 5)
        got = run_family(program, VARIANT_AVX512, feeds, threads=2)[0]
        init = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        ref = conv_f64(feeds["x"], init["w"], init.get("b"), strides, pads)
        scale = float(np.abs(ref).max())
        assert got.shape == ref.shape
        assert float(np.abs(got - ref).max()) <= 2e-5 * scale


@pytest.mark.parametrize("seed", range(12))
def test_direct_conv_random(seed: int) -> None:
    rng = np.random.default_rng(4000 + seed)
    c, m = int(rng.integers(1, 5)), int(rng.choice([1, 5, 8, 13, 20, 64]))
    kh, kw = (int(v) for v in rng.integers(1, 12, size=2))
    sh, sw = (int(v) for v in rng.choice([1, 2, 4], size=2))
    pads = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)),
            int(rng.integers(0, kw))]
    ow = int(rng.choice([1, 2, 15, 16, 17, 31, 33, 40, 47, 48, 49, 111, 112]))
    oh = int(rng.integers(1, 12))
    h = (oh - 1) * sh + kh - pads[0] - pads[2]
    wd = (ow - 1) * sw + kw - pads[1] - pads[3]
    if h < 1 or wd < 1:
        pads = [0, 0, 0, 0]
        h, wd = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    model = conv_model((int(rng.integers(1, 3)), c, h, wd), (m, c, kh, kw), seed,
                       bias=bool(seed % 2), strides=[sh, sw], pads=pads)
    check_families(model, seed, threads=(1, 2, 3))


@pytest.mark.parametrize("x", [(2, 3, 30, 60), (1, 3, 10, 224), (1, 2, 7, 130)])
@pytest.mark.parametrize("act", ["Relu", "Clip", "HardSwish"])
def test_direct_conv_fused_activation(act: str, x: tuple[int, ...]) -> None:
    """ReLU and Clip are a clamp in the tile's epilogue, other activations a pass
    over the stored tile; output widths 30 (a 32-column tile), 112 (48 + 48 + 16)
    and 65 (48 + 17), 20 channels (a 4-channel tail tile)."""
    post, inits, opset = ACTS[act]
    model = conv_model(x, (20, x[1], 3, 3), 11, post=post, inits=inits, opset=opset,
                       strides=[2, 2], pads=[1, 1, 1, 1])
    program = check_families(model, threads=(1, 2))
    assert len(program.instructions) == 1


def test_direct_conv_weight_as_graph_input() -> None:
    """A raw (unpacked) weight is repacked the same way."""
    check_families(conv_model((2, 3, 20, 37), (13, 3, 5, 5), 5, weight_input=True,
                              strides=[2, 2], pads=[2, 1, 2, 0]), threads=(1, 2))


def test_direct_conv_declines_residual() -> None:
    """Conv + Add of another activation fuses into a residual addend, which
    this path declines (the instruction keeps the im2col path)."""
    rng = np.random.default_rng(3)
    model = make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("Add", ["y", "r"], ["z"])],
        {"x": (TensorProto.FLOAT, (1, 3, 18, 34)), "r": (TensorProto.FLOAT, (1, 20, 9, 17))},
        {"z": TensorProto.FLOAT},
        {"w": rng.standard_normal((20, 3, 3, 3)).astype(np.float32),
         "b": rng.standard_normal(20).astype(np.float32)})
    program = check_families(model, threads=(1, 2))
    assert any(len(i.inputs) == 4 for i in program.instructions), "expected a fused residual"


def test_direct_conv_compiles_for_stems() -> None:
    """The stems this path is for compile to one instruction (what the path sees)."""
    if not HAS_AVX512:
        pytest.skip("no AVX-512 here")
    model = conv_model((1, 3, 224, 224), (64, 3, 7, 7), 1, strides=[2, 2], pads=[3, 3, 3, 3])
    assert len(compile_program(model).program.instructions) == 1


def test_direct_conv_1d() -> None:
    """1-D convs run as 2-D with a height of 1."""
    check_families(conv_model((2, 3, 70), (9, 3, 5), 7, pads=[2, 1], strides=[2]),
                   threads=(1, 2))
    check_families(conv_model((1, 1, 41), (20, 1, 3), 8, pads=[0, 2]), threads=(1, 3))
