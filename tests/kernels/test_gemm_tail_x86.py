"""The AVX-512 GEMM's matrix-vector tail (kernels/x86/gemm_avx512.c,
cols_times_a): the last n % 16 <= 8 columns of a product (the pixels of a
7x7 or 14x14 plane in a 1x1 conv) run as full-lane matrix-vector products
with the tiles' row epilogue. Checked like test_x86_variants: every family
against the reference family, the reference against onnxruntime, on pixel
counts 1..60 and 196, output channels that are not whole 6-row slivers, K
over one 256-deep block, and the bias / residual / activation epilogues."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, helper, make_model
from test_x86_variants import ACTS, check_families, conv_model, residual_epilogue_model

from edgec.fb.Opcode import Opcode

F = TensorProto.FLOAT


@pytest.mark.parametrize("pixels", [*range(1, 61), 196])
def test_conv1x1_pixel_counts(pixels: int) -> None:
    """A 1 x pixels plane: every tail width 1..8 after 0..3 whole 16s."""
    m = 13 + pixels % 11  # 13..23 output channels: 3 or 4 slivers, the last partial
    check_families(conv_model((1, 19, 1, pixels), (m, 19, 1, 1), pixels, bias=pixels % 2 == 0),
                   seed=pixels, threads=(1, 2, 3) if pixels in (1, 4, 49, 196) else (1,))


@pytest.mark.parametrize(("c", "m", "hw"), [(300, 37, 7), (576, 160, 7), (160, 61, 14),
                                             (9, 1000, 7), (520, 7, 5)])
def test_conv1x1_deep(c: int, m: int, hw: int) -> None:
    """K over one block (accumulating blocks), many slivers, 1-3 threads."""
    check_families(conv_model((1, c, hw, hw), (m, c, 1, 1), c), threads=(1, 2, 3))


@pytest.mark.parametrize("act", list(ACTS))
def test_conv1x1_epilogue(act: str) -> None:
    """Bias, residual addend (fused Add) and each activation on a 7x7 plane."""
    model = residual_epilogue_model(40, 29, 7, 4, act)
    program = check_families(model, threads=(1, 2))
    assert [i.opcode for i in program.instructions] == [Opcode.CONV]


@pytest.mark.parametrize("n", [1, 3, 5, 8, 17, 49, 52])
def test_matmul_tail_columns(n: int) -> None:
    """Gemm with a C matrix (per-column bias) and a strided B (packed at run
    time): the tail's bias is per column."""
    rng = np.random.default_rng(n)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.5)
    inits = {"b": rng.standard_normal((70, n)).astype(np.float32),
             "c": rng.standard_normal((25, n)).astype(np.float32)}
    check_families(make_model([node], {"a": (F, (25, 70))}, {"y": F}, inits))
