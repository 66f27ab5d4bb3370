"""SPARSE_CONV and SPARSE_GEMM against dense numpy, on random shapes and
sparsity patterns (tails, empty rows, fully dense rows), every encoding the
compiler emits, every kernel family and 1 or 2 threads."""

from __future__ import annotations

import numpy as np
import pytest
from prune_helpers import VARIANTS, conv_program, encode, gemm_program, random_sparse, run
from prune_reference import conv2d

from edgec.fb.Activation import Activation
from edgec.format.writer import serialize
from edgec.passes.sparsify import sparse_conv_workspace

RNG_SEED = 1234

# (x shape, M, kernel, strides, pads, dilations): pointwise, direct (stride 1:
# aligned and unaligned slabs, dilation, pads), im2col (strided), 1-D, tails.
CONV_CASES = [
    ((1, 16, 9, 9), 24, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
    ((2, 37, 5, 7), 19, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
    ((1, 96, 8, 16), 40, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
    ((1, 8, 14, 14), 12, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((1, 5, 9, 11), 7, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((2, 6, 12, 12), 8, (3, 3), [1, 1], [2, 2, 2, 2], [2, 2]),
    ((1, 4, 10, 30), 9, (5, 3), [1, 1], [2, 0, 1, 2], [1, 1]),
    ((1, 64, 7, 7), 32, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((1, 8, 15, 15), 16, (3, 3), [2, 2], [1, 1, 1, 1], [1, 1]),
    ((1, 3, 23, 19), 8, (7, 7), [2, 2], [3, 3, 3, 3], [1, 1]),
    ((1, 16, 9, 9), 8, (1, 1), [2, 2], [0, 0, 0, 0], [1, 1]),
    ((1, 12, 1, 37), 20, (1, 3), [1, 1], [0, 1, 0, 1], [1, 1]),
    # stride 1 on x86: the shift form (kernels/x86/sparse_shift.c): column groups
    # with partial sums, rows wider than a tile, dilated and asymmetric column pads
    # (shifts -2..6), row pitch 8 under AVX-512 (masked tile ends), no pads at all
    ((1, 160, 14, 14), 25, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((2, 5, 7, 150), 9, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((1, 6, 9, 23), 5, (3, 5), [1, 1], [0, 2, 2, 0], [1, 2]),
    ((1, 40, 5, 5), 13, (3, 3), [1, 1], [1, 1, 1, 1], [1, 1]),
    ((1, 9, 11, 30), 7, (2, 4), [1, 1], [0, 0, 0, 0], [1, 1]),
    # strided, in the shift form: stride phases (a 7x7 stem, stride 3 x 2 with
    # dilation and uneven pads, a 1x1 stride 2 reading one phase of four)
    ((1, 3, 29, 31), 10, (7, 7), [2, 2], [3, 3, 3, 3], [1, 1]),
    ((2, 5, 17, 20), 6, (3, 4), [3, 2], [1, 2, 0, 1], [2, 1]),
    ((1, 24, 14, 14), 17, (1, 1), [2, 2], [0, 0, 0, 0], [1, 1]),
    # three classes shifted by -3, 0 and 3 (AVX-512: in registers, permutes
    # reaching three lanes into the neighbouring vector)
    ((1, 7, 10, 21), 6, (3, 3), [1, 1], [2, 3, 2, 0], [2, 3]),
    # pointwise on planes of no whole vectors (x86: the tile copied to an aligned
    # pitch): MobileNetV2's 7x7 and 14x14 with column groups, two tiles of 98
    ((1, 576, 7, 7), 20, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
    ((2, 300, 14, 14), 36, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
    ((1, 33, 3, 5), 12, (1, 1), [1, 1], [0, 0, 0, 0], [1, 1]),
]


def _act(y: np.ndarray, kind: int, alpha: float, beta: float) -> np.ndarray:
    if kind == Activation.RELU:
        return np.maximum(y, 0)
    if kind == Activation.CLIP:
        return np.clip(y, alpha, beta)
    if kind == Activation.LEAKY_RELU:
        return np.where(y >= 0, y, alpha * y)
    if kind == Activation.HARD_SWISH:
        return y * np.clip(y / 6 + 0.5, 0, 1)
    if kind == Activation.SIGMOID:
        return 1 / (1 + np.exp(-y))
    return y


ACTS = [(Activation.NONE, 0.0, 0.0), (Activation.RELU, 0.0, 0.0), (Activation.CLIP, 0.0, 6.0),
        (Activation.LEAKY_RELU, 0.1, 0.0), (Activation.HARD_SWISH, 0.0, 0.0),
        (Activation.SIGMOID, 0.0, 0.0)]


def _close(out: np.ndarray, ref: np.ndarray) -> None:
    scale = max(float(np.abs(ref).max()), 1.0)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-5 * scale)


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sparse_conv_matches_numpy(case: int, variant: str) -> None:
    x_shape, m, kernel, strides, pads, dil = CONV_CASES[case]
    rng = np.random.default_rng(RNG_SEED + case)
    c = x_shape[1]
    block = (4, 1) if m % 4 == 0 and case % 2 else (1, 1)
    density = [0.05, 0.2, 0.5][case % 3]
    w = random_sparse(rng, (m, c, *kernel), density, block=block)
    x = rng.standard_normal(x_shape).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32) if case % 4 != 3 else None
    residual = case % 3 == 1
    act, alpha, beta = ACTS[case % len(ACTS)]
    index = np.uint16 if case % 5 else np.int32
    sw = encode(w, block, np.dtype(index))
    conv_pads = [pads[0], pads[1], pads[2], pads[3]]
    if len(x_shape) == 3:  # never here: 1-D convs are 2-D ones of height 1 below
        raise AssertionError
    data, y_shape = conv_program(x_shape, sw, bias, strides, conv_pads, dil, act, alpha, beta,
                                 residual, VARIANTS[variant])
    feeds = {"x": x}
    ref = conv2d(x.astype(np.float64), w.astype(np.float64),
                 None if bias is None else bias.astype(np.float64), tuple(strides),
                 tuple(pads), tuple(dil))
    if residual:
        feeds["r"] = rng.standard_normal(y_shape).astype(np.float32)
        ref = ref + feeds["r"]
    ref = _act(ref, act, alpha, beta)
    for threads in (1, 2):
        _close(run(data, feeds, threads), ref)


def test_sparse_conv_1d() -> None:
    rng = np.random.default_rng(7)
    w = random_sparse(rng, (10, 6, 3), 0.3)
    x = rng.standard_normal((2, 6, 29)).astype(np.float32)
    for variant in VARIANTS.values():
        data, _ = conv_program(x.shape, encode(w), None, [1], [1, 1], [1], variant=variant)
        ref = conv2d(x[:, :, None].astype(np.float64), w[:, :, None].astype(np.float64), None,
                     (1, 1), (0, 1, 0, 1), (1, 1))[:, :, 0]
        _close(run(data, {"x": x}, 2), ref)


@pytest.mark.parametrize("rows", [1, 3, 8, 70])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sparse_gemm_matches_numpy(rows: int, variant: str) -> None:
    rng = np.random.default_rng(rows)
    n, k = 36, 301  # k: gathers with a tail
    block = (4, 1) if rows % 2 else (1, 1)
    w = random_sparse(rng, (n, k), 0.15, empty_rows=4, dense_rows=4, block=block)
    b = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    act, alpha, beta = ACTS[rows % len(ACTS)]
    p = gemm_program(x.shape, encode(w, block), b, alpha=0.5, beta=2.0, activation=act,
                     act_alpha=alpha, act_beta=beta, variant=VARIANTS[variant])
    ref = _act(0.5 * (x.astype(np.float64) @ w.T) + 2.0 * b, act, alpha, beta)
    for threads in (1, 2):
        _close(run(serialize(p), {"x": x}, threads), ref)


def test_sparse_gemm_batched_rank3_and_int32_indices() -> None:
    rng = np.random.default_rng(3)
    w = random_sparse(rng, (50, 64), 0.2)
    x = rng.standard_normal((2, 9, 64)).astype(np.float32)
    p = gemm_program(x.shape, encode(w, (1, 1), np.dtype(np.int32)), None)
    _close(run(serialize(p), {"x": x}, 2), x.astype(np.float64) @ w.T)


def test_all_empty_and_all_dense_weights() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 8, 6, 6)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    for w in (np.zeros((4, 8, 3, 3), np.float32),
              rng.standard_normal((4, 8, 3, 3)).astype(np.float32)):
        for variant in VARIANTS.values():
            data, _ = conv_program(x.shape, encode(w), b, [1, 1], [1, 1, 1, 1], [1, 1],
                                   variant=variant)
            ref = conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                         (1, 1), (1, 1, 1, 1), (1, 1))
            _close(run(data, {"x": x}), ref)


@pytest.mark.parametrize("variant", ["avx2", "avx512"])
def test_stride1_with_the_scratch_of_older_files(variant: str) -> None:
    """A file whose scratch was planned for the slab path only (before the shift
    form) still runs, on the slab path."""
    rng = np.random.default_rng(13)
    w = random_sparse(rng, (5, 6, 3, 3), 0.3)
    x = rng.standard_normal((1, 6, 7, 7)).astype(np.float32)
    old = sparse_conv_workspace(x.shape, w.shape, (1, 5, 7, 7), [1, 1], [1, 1, 1, 1],
                                [1, 1], shift=False)
    assert old < sparse_conv_workspace(x.shape, w.shape, (1, 5, 7, 7), [1, 1],
                                       [1, 1, 1, 1], [1, 1])
    data, _ = conv_program(x.shape, encode(w), None, [1, 1], [1, 1, 1, 1], [1, 1],
                           variant=VARIANTS[variant], scratch=old)
    ref = conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1, 1, 1),
                 (1, 1))
    for threads in (1, 2):
        _close(run(data, {"x": x}, threads), ref)


@pytest.mark.parametrize("variant", ["avx2", "avx512"])
def test_pointwise_with_the_scratch_of_older_files(variant: str) -> None:
    """A pointwise conv on a 7x7 plane from a file planned without the aligned
    tile copy (scratch 0) still runs, reading the input in place."""
    rng = np.random.default_rng(17)
    w = random_sparse(rng, (24, 200, 1, 1), 0.15)
    x = rng.standard_normal((1, 200, 7, 7)).astype(np.float32)
    args = (x.shape, w.shape, (1, 24, 7, 7), [1, 1], [0, 0, 0, 0], [1, 1])
    assert sparse_conv_workspace(*args, shift=False) == 0 < sparse_conv_workspace(*args)
    ref = conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (0, 0, 0, 0),
                 (1, 1))
    for scratch in (0, sparse_conv_workspace(*args)):
        data, _ = conv_program(x.shape, encode(w), None, [1, 1], [0, 0, 0, 0], [1, 1],
                               variant=VARIANTS[variant], scratch=scratch)
        for threads in (1, 2):
            _close(run(data, {"x": x}, threads), ref)


def test_variants_agree_with_ref() -> None:
    """Every optimized family against the portable one, on one larger layer."""
    rng = np.random.default_rng(11)
    w = random_sparse(rng, (64, 48, 3, 3), 0.12)
    x = rng.standard_normal((1, 48, 28, 28)).astype(np.float32)
    outs = {}
    for name, variant in VARIANTS.items():
        data, _ = conv_program(x.shape, encode(w), None, [1, 1], [1, 1, 1, 1], [1, 1],
                               activation=Activation.RELU, variant=variant)
        outs[name] = run(data, {"x": x}, 2)
    for name in VARIANTS:
        np.testing.assert_allclose(outs[name], outs["ref"], rtol=1e-5, atol=1e-4)
