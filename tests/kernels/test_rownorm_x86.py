"""Softmax, LogSoftmax and LayerNormalization: each kernel family (the x86
rows of runtime_c/src/kernels/x86/rownorm_impl.h, and the portable
reference) against float64 numpy and against each other, on seeded random
inputs with row lengths that exercise the vector tails (1, 7, 15, 17, 33,
128, 1000), large magnitudes, -inf masks and NaNs. Families are forced through
Instruction.variant (kernel.h EC_VARIANT_*); one the CPU lacks falls back
(AVX-512 -> AVX2 -> ref), so the tests run everywhere and compare what this
machine can run."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model, run_ort

import edgec
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import (
    VARIANT_AVX2,
    VARIANT_AVX512,
    VARIANT_BEST,
    VARIANT_FAMILY_MASK,
    VARIANT_REF,
)

F = TensorProto.FLOAT
OPS = {Opcode.SOFTMAX, Opcode.LOG_SOFTMAX, Opcode.LAYER_NORM}
FAMILIES = {"ref": VARIANT_REF, "avx2": VARIANT_AVX2, "avx512": VARIANT_AVX512,
            "best": VARIANT_BEST}
LENGTHS = [1, 7, 15, 16, 17, 33, 128, 1000]


def run_families(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                 threads: int = 1) -> dict[str, np.ndarray]:
    """The model's (single) output under each family."""
    program = compile_program(model).program
    assert any(ins.opcode in OPS and ins.variant == VARIANT_BEST
               for ins in program.instructions), "the lowering asks for the best family"
    out = {}
    for name, family in FAMILIES.items():
        for ins in program.instructions:
            if ins.opcode in OPS:
                ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | family
        session = edgec.Session(serialize(program), threads=threads)
        out[name] = session.run(None, feeds)[0]
    return out


def softmax_model(op: str, shape: tuple[int, ...], axis: int = -1,
                  opset: int = 18) -> onnx.ModelProto:
    return make_model([helper.make_node(op, ["x"], ["y"], axis=axis)], {"x": (F, shape)},
                      {"y": F}, opset=opset)


def softmax64(x: np.ndarray, log: bool, axis: int = -1) -> np.ndarray:
    """float64 softmax of float32 x, from the float32 differences x - max (as
    the kernels compute them), so the comparison measures exp, sum and scale,
    not the rounding of the subtraction both sides share."""
    m = np.max(np.where(np.isnan(x), -np.inf, x), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        d = (x - m).astype(np.float64)
    e = np.exp(d)
    s = e.sum(axis=axis, keepdims=True)
    return d - np.log(s) if log else e / s


def assert_softmax_close(y: np.ndarray, ref: np.ndarray, log: bool, what: str,
                         rtol: float = 1e-6) -> None:
    """Relative error per element: a few ulp. Softmax values under FLT_MIN
    may flush to 0 (the reference keeps denormals): an absolute error below
    1.2e-38 on a row that sums to 1."""
    assert y.dtype == np.float32 and y.shape == ref.shape
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(y), nan), f"{what}: NaN positions differ"
    y, ref = y[~nan].astype(np.float64), ref[~nan]
    if log:
        inf = np.isinf(ref)
        assert np.array_equal(y[inf], ref[inf]), f"{what}: -inf positions differ"
        y, ref = y[~inf], ref[~inf]
    else:
        tiny = ref < np.finfo(np.float32).tiny
        assert np.all(np.abs(y[tiny] - ref[tiny]) < np.finfo(np.float32).tiny), what
        assert np.all(y[ref == 0] == 0), f"{what}: exact zeros (masked) are not 0"
        y, ref = y[~tiny], ref[~tiny]
    if ref.size:
        err = float(np.max(np.abs(y - ref) / np.abs(ref).clip(min=1e-30)))
        assert err <= rtol, f"{what}: max relative error {err:.3g}"


def check_softmax(op: str, x: np.ndarray, axis: int = -1, opset: int = 18, threads: int = 1,
                  rtol: float = 1e-6) -> dict[str, np.ndarray]:
    log = op == "LogSoftmax"
    outs = run_families(softmax_model(op, x.shape, axis, opset), {"x": x}, threads)
    if opset < 13:  # the input seen as 2-D at axis
        flat = x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)
        ref = softmax64(flat, log).reshape(x.shape)
    else:
        ref = softmax64(x, log, axis)
    for name, y in outs.items():
        assert_softmax_close(y, ref, log, f"{op} {name} shape={x.shape} axis={axis}", rtol)
    return outs


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("n", LENGTHS)
def test_softmax_row_lengths(op: str, n: int) -> None:
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((5, n)) * 4).astype(np.float32)
    outs = check_softmax(op, x)
    # the reference against onnxruntime too (the other families follow from numpy)
    (expected,) = run_ort(softmax_model(op, x.shape), {"x": x})
    np.testing.assert_allclose(outs["ref"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_softmax_random_shapes(seed: int) -> None:
    """Random ranks, axes (the inner ones run the reference in every family),
    magnitudes and thread counts."""
    rng = np.random.default_rng(100 + seed)
    rank = int(rng.integers(1, 5))
    shape = tuple(int(rng.choice([1, 2, 3, 7, 17, 33, 64])) for _ in range(rank))
    axis = int(rng.integers(-rank, rank))
    scale = float(rng.choice([0.1, 1.0, 10.0, 100.0]))
    x = (rng.standard_normal(shape) * scale + rng.standard_normal()).astype(np.float32)
    check_softmax("Softmax" if seed % 2 else "LogSoftmax", x, axis,
                  threads=1 + seed % 2)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_attention_shape(op: str) -> None:
    """BERT's [batch, heads, seq, seq] scores with an additive -10000 padding
    mask, over 2 threads."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((1, 12, 128, 128)) * 3).astype(np.float32)
    x[..., 100:] -= 10000.0
    check_softmax(op, x, threads=2)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_flattened_opset11(op: str) -> None:
    """opset < 13: the normalization runs over all the axes from axis on."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 5, 7)).astype(np.float32)
    check_softmax(op, x, axis=1, opset=11)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("scale", [1e3, 1e30])
def test_softmax_large_magnitudes(op: str, scale: float) -> None:
    """Most exps underflow; near FLT_MAX x - max overflows to -inf (exp 0)."""
    rng = np.random.default_rng(int(scale) % 1000)
    x = (rng.standard_normal((6, 37)) * scale).astype(np.float32)
    x[0] = 3e38
    x[1, ::2] = -3e38
    x[2] += np.float32(1e4)  # an offset: the differences keep their accuracy
    check_softmax(op, x)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("n", [1, 7, 17, 33, 128])
def test_softmax_inf_masks_and_nan(op: str, n: int) -> None:
    """-inf entries give exact 0 (Softmax) or -inf (LogSoftmax); as in the
    reference, a row that is all -inf, holds a NaN, or holds +inf is NaN."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((6, n)).astype(np.float32)
    x[0, ::3] = -np.inf      # a causal / padding mask
    x[1, 1:] = -np.inf       # one survivor: y = [1, 0, ...]
    x[2] = -np.inf           # all masked: NaN
    x[3, n // 2] = np.nan
    x[4, n - 1] = np.inf
    outs = check_softmax(op, x)
    for name, y in outs.items():
        assert np.all(np.isnan(y[2:5])), name
        if op == "Softmax":
            assert y[1, 0] == 1.0 and np.all(y[1, 1:] == 0), name
            if n > 1:  # (n == 1: row 0 is all -inf)
                assert np.all(y[0, ::3] == 0), name


def test_softmax_rows_of_equal_values() -> None:
    x = np.full((3, 1000), 5.0, np.float32)
    outs = check_softmax("Softmax", x)
    for y in outs.values():
        np.testing.assert_allclose(y, 1e-3, rtol=1e-6)


# ---- LayerNormalization ------------------------------------------------------------


def layer_norm_model(shape: tuple[int, ...], axis: int, bias: bool,
                     seed: int) -> tuple[onnx.ModelProto, np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    norm_shape = shape[axis:]
    scale = rng.uniform(0.5, 1.5, norm_shape).astype(np.float32)
    b = rng.standard_normal(norm_shape).astype(np.float32) if bias else None
    inits = {"scale": scale} | ({"bias": b} if bias else {})
    node = helper.make_node("LayerNormalization", ["x", "scale", *(["bias"] if bias else [])],
                            ["y"], axis=axis, epsilon=1e-5)
    return make_model([node], {"x": (F, shape)}, {"y": F}, inits), scale, b


def layer_norm64(x: np.ndarray, axis: int, scale: np.ndarray, bias: np.ndarray | None,
                 eps: float = 1e-5) -> np.ndarray:
    axes = tuple(range(axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + eps) * scale
    return y + bias if bias is not None else y


def check_layer_norm(shape: tuple[int, ...], axis: int, bias: bool, seed: int,
                     offset: float = 0.0, spread: float = 1.0, threads: int = 1) -> None:
    model, scale, b = layer_norm_model(shape, axis, bias, seed)
    rng = np.random.default_rng(seed + 1)
    x = (rng.standard_normal(shape) * spread + offset).astype(np.float32)
    outs = run_families(model, {"x": x}, threads)
    ref = layer_norm64(x, axis, scale, b)
    out_scale = max(float(np.abs(ref).max()), 1e-30)
    # Every family rounds the row's mean to float before x - mean (the
    # reference's formula): up to half an ulp of the mean, over the row's
    # standard deviation, times the scale; plus a few ulp of the output.
    axes = tuple(range(axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    std = np.sqrt(x64.var(axis=axes, keepdims=True) + 1e-5)
    mean_err = 0.5 * np.spacing(np.abs(mean).astype(np.float32)).astype(np.float64) / std
    tol = 2e-6 * out_scale + 2 * mean_err * float(scale.max())
    for name, y in outs.items():
        err = np.abs(y.astype(np.float64) - ref)
        assert np.all(err <= tol), \
            f"{name} shape={shape} axis={axis}: error {float(err.max()) / out_scale:.3g}"
        # and the families against each other: the same formulas, other summation orders
        err_ref = float(np.abs(y.astype(np.float64) - outs["ref"]).max()) / out_scale
        assert err_ref <= 2e-6, f"{name} vs ref shape={shape}: {err_ref:.3g}"


@pytest.mark.parametrize("cols", [*LENGTHS, 384])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_row_lengths(cols: int, bias: bool) -> None:
    check_layer_norm((3, 5, cols), -1, bias, cols)


@pytest.mark.parametrize("seed", range(8))
def test_layer_norm_random_shapes(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    rank = int(rng.integers(1, 5))
    shape = tuple(int(rng.choice([1, 2, 3, 7, 17, 33, 48])) for _ in range(rank))
    axis = int(rng.integers(-rank, rank))
    check_layer_norm(shape, axis, bool(seed % 2), seed,
                     offset=float(rng.choice([0.0, 3.0, -50.0])),
                     spread=float(rng.choice([0.01, 1.0, 100.0])), threads=1 + seed % 2)


@pytest.mark.parametrize(("offset", "spread"), [(1e4, 1.0), (-3e3, 1e-2), (0.0, 1e-20),
                                                (0.0, 1e15)])
def test_layer_norm_large_magnitudes(offset: float, spread: float) -> None:
    """A mean far from 0 against the spread (the corrected two-pass variance
    keeps it), tiny and huge spreads."""
    check_layer_norm((4, 1000), -1, True, 5, offset=offset, spread=spread)
    check_layer_norm((4, 33), -1, False, 6, offset=offset, spread=spread)


def test_layer_norm_bert_shape() -> None:
    check_layer_norm((1, 128, 384), -1, True, 9, threads=2)


def test_layer_norm_constant_rows() -> None:
    """Zero variance: y = bias (x - mean = 0 exactly)."""
    model, _, b = layer_norm_model((2, 17), -1, True, 3)
    x = np.full((2, 17), 7.25, np.float32)
    for name, y in run_families(model, {"x": x}).items():
        assert b is not None
        np.testing.assert_array_equal(y, np.broadcast_to(b, y.shape), err_msg=name)


@pytest.mark.parametrize("hw", [(1, 1), (3, 5), (4, 4), (9, 13)])
def test_instance_norm_per_channel(hw: tuple[int, int]) -> None:
    """InstanceNormalization runs LAYER_NORM's per-channel form."""
    rng = np.random.default_rng(hw[0] * 31 + hw[1])
    shape = (2, 5, *hw)
    scale = rng.uniform(0.5, 1.5, 5).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    model = make_model([helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])],
                       {"x": (F, shape)}, {"y": F}, {"s": scale, "b": bias})
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    outs = run_families(model, {"x": x})
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(2, 3), keepdims=True)
    var = x64.var(axis=(2, 3), keepdims=True)
    ref = (x64 - mean) / np.sqrt(var + 1e-5) * scale[:, None, None] + bias[:, None, None]
    (expected,) = run_ort(model, {"x": x})
    # (onnxruntime rounds more: at 1x1, where y = bias, it is 2e-5 off)
    np.testing.assert_allclose(outs["ref"], expected, rtol=1e-4, atol=1e-4)
    for name, y in outs.items():
        err = float(np.abs(y - ref).max()) / float(np.abs(ref).max())
        assert err <= 2e-6, f"{name}: {err:.3g}"


def test_unknown_variant_refused() -> None:
    """A family byte past AVX512 is a format error, not a silent fallback."""
    program = compile_program(softmax_model("Softmax", (2, 3))).program
    for ins in program.instructions:
        if ins.opcode in OPS:
            ins.variant = 0x7
    with pytest.raises(edgec.EdgecError, match="variant"):
        edgec.Session(serialize(program))
