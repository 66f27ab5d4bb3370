"""AVX-512 1x1 convs with B read in place from the input rows
(kernels/x86/gemm_avx512.c, ec_x86_gemm_rows_avx512, called from conv.c's
pointwise path): no run-time packing, masked loads on the last partial
column tile, the last rows in a tile of mr rounded up to even, K in chunks
of 256 accumulating in the output, the last n % 16 <= 8 columns as
matrix-vector products. Checked like test_x86_variants (every family against
the reference family, the reference against onnxruntime), and the AVX-512
family against numpy in float64 on two inputs run one after the other in the
same session, so that an output element the kernel skipped keeps the first
run's value and fails."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto
from test_x86_variants import (
    ACTS,
    VARIANT_AVX512,
    check_families,
    conv_model,
    residual_epilogue_model,
    with_family,
)

import edgec
from edgec.compiler import compile_program

F = TensorProto.FLOAT


def check_f64(model: onnx.ModelProto, threads: tuple[int, ...] = (1,)) -> None:
    """Y = W . X + b per image and group against float64, every element written."""
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    w, b = inits["w"].astype(np.float64), inits.get("b")
    (node,) = model.graph.node
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    n, c = shape[0], shape[1]
    m, cg = w.shape[0], w.shape[1]
    mg = m // group
    data = with_family(compile_program(model).program, VARIANT_AVX512)
    for t in threads:
        session = edgec.Session(data, threads=t)
        for seed in (1, 2):
            x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
            (y,) = session.run(None, {"x": x})
            xs = x.reshape(n, c, -1).astype(np.float64)
            ref = np.empty((n, m, xs.shape[2]))
            for g in range(group):
                wg = w[g * mg:(g + 1) * mg].reshape(mg, cg)
                ref[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg,
                                                        xs[:, g * cg:(g + 1) * cg])
            if b is not None:
                ref += b.astype(np.float64)[None, :, None]
            scale = max(float(np.abs(ref).max()), 1e-30)
            err = float(np.abs(y.reshape(ref.shape) - ref).max()) / scale
            assert err <= 2e-6, f"threads={t} seed={seed}: max error {err:.3g} of the scale"


@pytest.mark.parametrize("k", range(1, 71, 2))
def test_rows_odd_k(k: int) -> None:
    """K 1..69 (odd), output channels and pixel counts varying with it."""
    m, pixels = 1 + k * 7 % 40, 1 + k * 13 % 60
    model = conv_model((1, k, 1, pixels), (m, k, 1, 1), k, bias=k % 3 != 0)
    check_families(model, seed=k)
    check_f64(model)


@pytest.mark.parametrize("m", [*range(1, 41), 1000])
def test_rows_output_channels(m: int) -> None:
    """M 1..40 and 1000: every remainder of the 12-row tile."""
    pixels = (1, 7, 17, 32, 33, 49, 60)[m % 7]
    model = conv_model((1, 23, 1, pixels), (m, 23, 1, 1), m)
    check_families(model, seed=m)
    check_f64(model)


@pytest.mark.parametrize(("c", "m", "hw"), [(16, 64, 55), (128, 16, 55), (256, 32, 27),
                                             (33, 37, 27), (64, 40, 13), (96, 29, 14),
                                             (300, 25, 7), (520, 7, 5), (512, 1000, 13),
                                             (257, 13, 3)])
def test_rows_planes(c: int, m: int, hw: int) -> None:
    """Plane sizes of the nets (3025, 729, 196, 169, 49 pixels), K over one
    256-deep chunk (accumulating, the epilogue on the last), 1-3 threads."""
    model = conv_model((1, c, hw, hw), (m, c, 1, 1), c)
    check_families(model, threads=(1, 2, 3))
    check_f64(model, threads=(1, 2, 3))


@pytest.mark.parametrize(("n", "group"), [(2, 1), (2, 3), (1, 2)])
def test_rows_batch_and_groups(n: int, group: int) -> None:
    """Batch 2 and grouped (not depthwise) 1x1 convs."""
    model = conv_model((n, 6 * group, 9, 11), (13 * group, 6, 1, 1), n + group, group=group)
    check_families(model, threads=(1, 2))
    check_f64(model, threads=(1, 2))


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("hw", [27, 55])
def test_rows_epilogue(act: str, hw: int) -> None:
    """Bias, residual addend (fused Add) and each activation on wide planes."""
    model = residual_epilogue_model(17, 20, hw, hw, act)
    check_families(model, threads=(1, 2))


@pytest.mark.parametrize("act", ["Relu", "Clip", None])
@pytest.mark.parametrize(("k", "m", "pixels"), [(16, 96, 341), (24, 144, 57), (16, 13, 33),
                                                  (7, 25, 31), (3, 11, 70), (300, 29, 49)])
def test_rows_bias_activation(act: str | None, k: int, m: int, pixels: int) -> None:
    """Bias and ReLU / Clip / nothing, the tile's short epilogue (MobileNetV2's
    K = 16 / 24 expands): odd M, N, K, row and column tails, K over a chunk
    (accumulating: the general epilogue), 1-3 threads, against the reference
    family and float64 with every element written."""
    post, inits, opset = ACTS[act] if act else ([], {}, 18)
    model = conv_model((1, k, 1, pixels), (m, k, 1, 1), k + m, post=post, inits=inits,
                       opset=opset)
    program = check_families(model, seed=m, threads=(1, 2, 3))
    assert len(program.instructions) == 1
    init = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    w = init["w"].astype(np.float64).reshape(m, k)
    data = with_family(program, VARIANT_AVX512)
    for t in (1, 2, 3):
        session = edgec.Session(data, threads=t)
        for seed in (1, 2):
            x = np.random.default_rng(seed).standard_normal((1, k, 1, pixels)).astype(np.float32)
            (y,) = session.run(None, {"x": x})
            ref = w @ x.reshape(k, pixels).astype(np.float64)
            ref += init["b"].astype(np.float64)[:, None]
            scale = max(float(np.abs(ref).max()), 1e-30)  # before the activation
            if act == "Relu":
                ref = np.maximum(ref, 0.0)
            elif act == "Clip":
                ref = np.clip(ref, float(init["lo"]), float(init["hi"]))
            err = float(np.abs(y.reshape(m, pixels) - ref).max()) / scale
            assert err <= 2e-6, f"threads={t} seed={seed}: max error {err:.3g} of the scale"
