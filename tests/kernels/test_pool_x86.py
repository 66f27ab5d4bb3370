"""MaxPool and AveragePool: the x86 rows (runtime_c/src/kernels/x86/pool_avx512.c)
against the portable reference (kernels/ref/pool.c), onnxruntime and float64
numpy, on seeded random inputs with odd plane sizes (1..40: vector tails and
planes narrower than a vector), every kernel 1..3 x 1..3 (and 7x7, global),
stride 1..3, pads, dilations, ceil_mode and count_include_pad, batch 2, 1 to 3
threads, NaN and -inf inputs. The family is forced through
Instruction.variant (kernel.h EC_VARIANT_*); one the CPU lacks falls back
(AVX-512 -> AVX2 -> ref, and the pools run the reference below AVX-512), so
the tests run everywhere and compare what this machine can run."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model, run_ort

import edgec
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import VARIANT_AVX512, VARIANT_BEST, VARIANT_FAMILY_MASK, VARIANT_REF

F = TensorProto.FLOAT
OPS = {Opcode.MAX_POOL, Opcode.AVERAGE_POOL}


def pool_model(op: str, shape: tuple[int, ...], **attrs: Any) -> onnx.ModelProto:
    return make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": (F, shape)},
                      {"y": F}, opset=19)


def run_families(model: onnx.ModelProto, x: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    """The pool's output under the reference and the AVX-512 family."""
    program = compile_program(model).program
    assert any(ins.opcode in OPS and ins.variant == VARIANT_BEST
               for ins in program.instructions), "the lowering asks for the best family"
    out = {}
    for name, family in {"ref": VARIANT_REF, "avx512": VARIANT_AVX512}.items():
        for ins in program.instructions:
            if ins.opcode in OPS:
                ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | family
        out[name] = edgec.Session(serialize(program), threads=threads).run(None, {"x": x})[0]
    return out


def pool64(op: str, x: np.ndarray, k: tuple[int, int], s: tuple[int, int],
           pads: tuple[int, int, int, int], d: tuple[int, int], out_hw: tuple[int, int],
           include_pad: bool) -> np.ndarray:
    """float64 pool with the runtime's rules: windows clipped to the input,
    max skipping NaN from the lowest float, averages over the valid taps or
    (include_pad) the taps inside the padded input."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, *out_hw))
    for oh, ow in itertools.product(range(out_hw[0]), range(out_hw[1])):
        rows = [oh * s[0] - pads[0] + i * d[0] for i in range(k[0])]
        cols = [ow * s[1] - pads[1] + j * d[1] for j in range(k[1])]
        vr = [r for r in rows if 0 <= r < h]
        vc = [q for q in cols if 0 <= q < w]
        win = x[:, :, vr][:, :, :, vc].astype(np.float64).reshape(n, c, -1)
        if op == "MaxPool":
            y[:, :, oh, ow] = np.max(np.where(np.isnan(win), -np.inf, win), axis=2,
                                     initial=-np.finfo(np.float32).max)
        else:
            cnt = len(vr) * len(vc)
            if include_pad:
                cnt = (sum(r < h + pads[2] for r in rows) *
                       sum(q < w + pads[3] for q in cols))
            y[:, :, oh, ow] = win.sum(axis=2) / cnt if cnt else 0.0
    return y


def check(op: str, shape: tuple[int, int, int, int], k: tuple[int, int], s: tuple[int, int],
          pads: tuple[int, int, int, int], d: tuple[int, int] = (1, 1), ceil: int = 0,
          include_pad: int = 0, threads: int = 1, seed: int = 0, special: bool = False,
          ort: bool = True) -> None:
    attrs: dict[str, Any] = dict(kernel_shape=list(k), strides=list(s), pads=list(pads),
                                 ceil_mode=ceil)
    if d != (1, 1):
        attrs["dilations"] = list(d)
    if op == "AveragePool":
        attrs["count_include_pad"] = include_pad
    model = pool_model(op, shape, **attrs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    if special:  # NaN and -inf inputs, and whole -inf planes
        x.flat[rng.choice(x.size, x.size // 7, replace=False)] = np.nan
        x.flat[rng.choice(x.size, x.size // 7, replace=False)] = -np.inf
        x[0, 0] = -np.inf
    out = run_families(model, x, threads)
    ref, fast = out["ref"], out["avx512"]
    assert fast.shape == ref.shape
    assert not np.isnan(fast).any() or special, "every output element is written"
    ohw = (ref.shape[2], ref.shape[3])
    if op == "MaxPool":
        np.testing.assert_array_equal(fast, ref)  # max: bit for bit (NaN where ref has NaN)
        if not special:
            np.testing.assert_array_equal(
                fast, pool64(op, x, k, s, pads, d, ohw, False).astype(np.float32))
    else:
        np.testing.assert_allclose(fast, ref, rtol=1e-6, atol=1e-6)
        if not special:
            np.testing.assert_allclose(fast, pool64(op, x, k, s, pads, d, ohw, bool(include_pad)),
                                       rtol=1e-5, atol=1e-6)
    if ort and not special:
        np.testing.assert_allclose(fast, run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


def _out_ok(n: int, k: int, s: int, pb: int, pe: int, d: int) -> bool:
    return n + pb + pe >= (k - 1) * d + 1 and pb < (k - 1) * d + 1 and pe < (k - 1) * d + 1


CASES = [
    # (k, s, pads, ceil) x every plane size below
    ((3, 3), (1, 1), (1, 1, 1, 1), 0),
    ((3, 3), (2, 2), (1, 1, 1, 1), 0),
    ((3, 3), (2, 2), (0, 0, 0, 0), 0),
    ((3, 3), (2, 2), (0, 0, 1, 1), 0),
    ((3, 3), (2, 2), (0, 0, 0, 0), 1),
    ((3, 3), (2, 2), (1, 1, 1, 1), 1),
    ((2, 2), (2, 2), (0, 0, 0, 0), 0),
    ((2, 2), (2, 2), (0, 0, 0, 0), 1),
    ((2, 2), (1, 1), (0, 0, 1, 1), 0),
    ((1, 1), (1, 1), (0, 0, 0, 0), 0),
    ((1, 3), (1, 2), (0, 1, 0, 1), 0),
    ((3, 2), (2, 1), (1, 0, 2, 1), 1),
    ((3, 3), (3, 3), (1, 1, 1, 1), 1),
]
SIZES = [(1, 1), (2, 5), (5, 3), (7, 7), (13, 14), (16, 17), (17, 31), (33, 40), (40, 33)]


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("case", CASES, ids=[f"k{c[0]}s{c[1]}p{c[2]}c{c[3]}" for c in CASES])
def test_pool_shapes(op: str, case: tuple) -> None:
    k, s, pads, ceil = case
    for i, (h, w) in enumerate(SIZES):
        if not (_out_ok(h, k[0], s[0], pads[0], pads[2], 1) and
                _out_ok(w, k[1], s[1], pads[1], pads[3], 1)):
            continue
        for include_pad in ([0, 1] if op == "AveragePool" else [0]):
            check(op, (2, 3, h, w), k, s, pads, ceil=ceil, include_pad=include_pad,
                  threads=1 + i % 3, seed=i)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("shape", [(2, 3, 7, 7), (2, 5, 13, 13), (1, 3, 6, 6), (2, 2, 40, 37)])
def test_pool_big_kernels(op: str, shape: tuple[int, int, int, int]) -> None:
    """7x7 (global on 7x7, and inception's 7x7 on 6x6 with end pads) and
    global pools (kernel covering the plane: the contiguous reduction)."""
    h, w = shape[2:]
    pads = (0, 0, 1, 1) if h == 6 else (0, 0, 0, 0)
    k = (7, 7) if h <= 7 else (h, w)
    check(op, shape, k, (1, 1), pads, include_pad=1 if h == 6 else 0)
    if op == "AveragePool" and h == 6:
        check(op, shape, k, (1, 1), pads, include_pad=0)
    for threads in (2, 3):
        check(op, shape, k, (1, 1), pads, threads=threads, seed=threads)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_dilations(op: str) -> None:
    for h, w in [(9, 11), (20, 37)]:
        check(op, (2, 3, h, w), (3, 3), (2, 2), (1, 1, 1, 1), d=(2, 2), include_pad=1)
        check(op, (2, 3, h, w), (3, 2), (1, 1), (0, 1, 0, 1), d=(1, 3))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_nan_and_inf(op: str) -> None:
    for (h, w), s in itertools.product([(7, 7), (19, 35)], [1, 2]):
        check(op, (2, 3, h, w), (3, 3), (s, s), (1, 1, 1, 1), special=True, threads=2)
    check(op, (2, 3, 9, 9), (9, 9), (1, 1), (0, 0, 0, 0), special=True)  # global


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_1d_and_declined_forms(op: str) -> None:
    """1-D pools run the rows with a unit H; strides above 2 and wide kernels
    decline to the reference (same results either way)."""
    model = make_model([helper.make_node(op, ["x"], ["y"], kernel_shape=[3], strides=[2],
                                         pads=[1, 1])], {"x": (F, (2, 3, 37))}, {"y": F},
                       opset=19)
    x = np.random.default_rng(1).standard_normal((2, 3, 37)).astype(np.float32)
    out = run_families(model, x, 2)
    np.testing.assert_allclose(out["avx512"], out["ref"], rtol=1e-6, atol=1e-6)
    check(op, (2, 3, 23, 40), (2, 17), (1, 1), (0, 0, 0, 0))
    check(op, (2, 3, 23, 40), (3, 4), (4, 4), (1, 1, 1, 1))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_3x3_stride2_wide_rows(op: str) -> None:
    """Rows of several 16-output vectors, whole blocks inside the row and
    masked ones at both ends (the 3x3/s2 pools after a stem: max runs
    columns-first), with and without pads, ceil mode, and a dilated H."""
    for i, (h, w) in enumerate([(9, 111), (6, 112), (5, 129), (4, 96), (3, 65)]):
        for pads, ceil in [((0, 0, 0, 0), 1), ((1, 1, 1, 1), 0), ((0, 1, 1, 0), 1)]:
            check(op, (1, 3, h, w), (3, 3), (2, 2), pads, ceil=ceil, threads=1 + i % 3, seed=i)
    check(op, (1, 3, 11, 70), (3, 3), (2, 2), (1, 1, 1, 1), d=(2, 1))
    check(op, (1, 3, 11, 70), (3, 3), (2, 2), (1, 1, 1, 1), special=True, threads=2)


def test_max_pool_3x3_stride2_last_vector() -> None:
    """Max 3x3/s2 (max3_s2_rows): a partial last output vector takes the
    column after its last even one from its own block, a full one from the
    next block (OW 15/16/17, 31/32/33, and SqueezeNet's 111->55, 55->27,
    27->13 planes); rows of 3 window rows and clipped ones (pads, ceil), 1 to
    3 threads, several planes per thread with rows split across them."""
    for i, w in enumerate([31, 33, 35, 63, 65, 67, 111, 55, 27]):
        for pads, ceil in [((0, 0, 0, 0), 0), ((0, 0, 0, 0), 1), ((1, 1, 1, 1), 0),
                           ((0, 1, 1, 0), 1)]:
            check("MaxPool", (1, 5, 7 + i % 4, w), (3, 3), (2, 2), pads, ceil=ceil,
                  threads=1 + i % 3, seed=i)
    check("MaxPool", (2, 3, 13, 27), (3, 3), (2, 2), (0, 0, 0, 0), ceil=1, special=True, threads=3)
