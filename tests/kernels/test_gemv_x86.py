"""AVX-512: a batch-1 Gemm against a pre-packed B as one matrix-vector pass
over K (ec_x86_gemv_avx512, from ec_sgemm_ex when m == 1): K over one
256-deep block, odd, a tail of one; N with partial 16-column slivers; A a row
or a transposed column (its stride). Checked like test_x86_variants: every
family against the reference family, the reference against onnxruntime, at
one and two threads."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, helper, make_model
from test_x86_variants import check_families

F = TensorProto.FLOAT


@pytest.mark.parametrize(("n", "k"), [(1000, 1280), (17, 513), (64, 257), (1, 2049),
                                      (33, 1), (70, 256)])
@pytest.mark.parametrize("trans_a", [0, 1])
def test_gemv_one_pass_over_k(n: int, k: int, trans_a: int) -> None:
    rng = np.random.default_rng(n + k)
    b = rng.standard_normal((n, k)).astype(np.float32)
    c = rng.standard_normal((n,)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, transB=1,
                            alpha=0.5, beta=2.0)
    check_families(make_model([node], {"a": (F, (k, 1) if trans_a else (1, k))}, {"y": F},
                              {"b": b, "c": c}), threads=(1, 2))


@pytest.mark.parametrize("act", ["Relu", "Sigmoid"])
def test_gemv_fused_activation(act: str) -> None:
    """The epilogue (bias, activation) after the one pass, K = 600."""
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["h"], transB=1),
             helper.make_node(act, ["h"], ["y"])]
    inits = {"b": rng.standard_normal((100, 600)).astype(np.float32),
             "c": rng.standard_normal((100,)).astype(np.float32)}
    check_families(make_model(nodes, {"a": (F, (1, 600))}, {"y": F}, inits), threads=(1, 2))
