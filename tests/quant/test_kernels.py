"""Every int8 kernel against a numpy integer reference: exact integers (the
fixed-point requantization mirrored in numpy), and within one unit of a float64
requantization. Each runs in the reference family and the blocked/AVX2 one, on
one, two and three threads, with shapes whose sizes are not multiples of the tiles."""

from __future__ import annotations

import numpy as np
import pytest
from qsupport import S8, U8, Builder, conv_int, float_requant, qrange, rand_q, requant_ref

from edgec.fb.Activation import Activation
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.PoolKind import PoolKind
from edgec.fb.PoolOptions import PoolOptionsT
from edgec.quant import kernels as qk

VARIANTS = [qk.VARIANT_REF, qk.VARIANT_BEST]


def _act_bounds(act: int, scale: float, zp: int, dtype: np.dtype) -> tuple[int, int]:
    lo, hi = qrange(dtype)
    if act == Activation.RELU:
        lo = max(lo, zp)
    elif act == Activation.CLIP:
        lo = max(lo, int(np.rint(zp + 0.0 / scale)))
        hi = min(hi, int(np.rint(zp + 6.0 / scale)))
    return lo, hi


# ---- QUANTIZE_LINEAR / DEQUANTIZE_LINEAR ----


@pytest.mark.parametrize("dtype", [U8, S8])
@pytest.mark.parametrize("axis", [-1, 1])
def test_quantize_linear(dtype: np.dtype, axis: int) -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 3, 37, 5)) * 4).astype(np.float32)
    x.flat[:6] = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5]
    lo, hi = qrange(dtype)
    scales = np.array([0.05, 0.02, 0.5], np.float32) if axis == 1 else np.float32(0.03)
    zps = np.array([3, lo + 10, (lo + hi) // 2], np.int64) if axis == 1 else np.int64(lo + 7)
    b = Builder()
    xi = b.input(x)
    yi = b.output(dtype, x.shape, scales, zps, axis)
    b.emit(Opcode.QUANTIZE_LINEAR, [xi], [yi])
    (y,) = b.run([yi], threads=2)
    shape = (1, 3, 1, 1) if axis == 1 else ()
    s = np.reshape(scales, shape).astype(np.float32)
    z = np.reshape(zps, shape)
    with np.errstate(invalid="ignore"):
        ref = np.rint(x / s).astype(np.float64) + z
    ref = np.where(np.isnan(ref), lo, np.clip(ref, lo, hi)).astype(dtype)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("dtype", [U8, S8, np.dtype(np.int32)])
@pytest.mark.parametrize("axis", [-1, 0])
def test_dequantize_linear(dtype: np.dtype, axis: int) -> None:
    rng = np.random.default_rng(2)
    if dtype == np.int32:
        q = rng.integers(-1 << 20, 1 << 20, size=(4, 33)).astype(np.int32)
        zps = np.zeros(4, np.int64) if axis == 0 else np.int64(0)
    else:
        q = rand_q(rng, dtype, (4, 33))
        lo, hi = qrange(dtype)
        zps = rng.integers(lo, hi + 1, 4) if axis == 0 else np.int64(lo + 5)
    scales = rng.uniform(0.01, 1, 4).astype(np.float32) if axis == 0 else np.float32(0.1)
    b = Builder()
    qi = b.input(q, scales, zps, axis)
    yi = b.output(np.float32, q.shape)
    b.emit(Opcode.DEQUANTIZE_LINEAR, [qi], [yi])
    (y,) = b.run([yi])
    shape = (4, 1) if axis == 0 else ()
    ref = (q.astype(np.int64) - np.reshape(zps, shape)).astype(np.float32) * \
        np.reshape(scales, shape).astype(np.float32)
    np.testing.assert_array_equal(y, ref)


# ---- QCONV ----

CONV_CASES = [
    # n, c, h, w, m, (kh, kw), strides, pads, dilations, group
    (1, 3, 17, 19, 13, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (2, 21, 9, 10, 18, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 16, 12, 11, 35, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 8, 13, 9, 8, (3, 3), (1, 1), (1, 0, 2, 1), (2, 1), 1),
    (1, 12, 15, 40, 12, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 12),  # depthwise
    (1, 12, 15, 70, 12, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 12),  # depthwise stride 2
    (2, 6, 7, 33, 6, (5, 5), (1, 1), (2, 2, 2, 2), (1, 2), 6),  # depthwise dilated
    (1, 8, 9, 9, 12, (3, 3), (1, 2), (0, 1, 1, 0), (1, 1), 4),  # grouped
    (1, 7, 1, 50, 9, (1, 5), (1, 3), (0, 2, 0, 1), (1, 1), 1),  # 1-D as 2-D
    (1, 300, 5, 6, 20, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),  # K beyond a group of 256
]


def _conv_case(case: tuple, x_dtype: np.dtype, y_dtype: np.dtype, act: int, full_range: bool,
               variant: int, threads: int, seed: int, rank: int = 4) -> None:
    n, c, h, w, m, (kh, kw), strides, pads, dil, group = case
    rng = np.random.default_rng(seed)
    x = rand_q(rng, x_dtype, (n, c, h, w))
    wmax = 127 if full_range else 64
    wt = rng.integers(-wmax, wmax + 1, size=(m, c // group, kh, kw)).astype(np.int8)
    if full_range:
        wt.flat[::7] = 127
        wt.flat[1::11] = -128
    bias = rng.integers(-5000, 5000, m).astype(np.int32)
    lo, hi = qrange(x_dtype)
    sx, zx = 0.02, int(rng.integers(lo, hi + 1))
    sw = rng.uniform(0.001, 0.01, m).astype(np.float32)
    ylo, yhi = qrange(y_dtype)
    sy, zy = 0.5, (ylo + yhi) // 2 - 20
    opts = ConvOptionsT(strides=list(strides), pads=list(pads), dilations=list(dil), group=group,
                        activation=act, actAlpha=0.0, actBeta=6.0)
    acc = conv_int(x.astype(np.int64) - zx, wt, strides, pads, dil, group) + bias[None, :, None,
                                                                                   None]
    if rank == 3:
        assert h == 1 and kh == 1
        x, wt = x[:, :, 0], wt[:, :, 0]
        opts.strides, opts.dilations = [strides[1]], [dil[1]]
        opts.pads = [pads[1], pads[3]]
        acc = acc[:, :, 0]
    b = Builder()
    xi = b.input(x, sx, zx)
    wi = b.const(wt, sw, 0, axis=0)
    bi = b.const(bias)
    pixels = int(np.prod(acc.shape[2:]))
    path = "depthwise" if group == c == m else (
        "pointwise" if (kh, kw) == (1, 1) and strides == (1, 1) and not any(pads) else "im2col")
    scratch = qk.qconv_workspace(path, c // group * kh * kw, pixels, acc.shape[-1], (h, w),
                                 (kh, kw), strides, pads, dil)
    if y_dtype == np.int32:
        yi = b.output(np.int32, acc.shape)
        opts.activation = Activation.NONE
    else:
        yi = b.output(y_dtype, acc.shape, sy, zy)
    b.emit(Opcode.QCONV, [xi, wi, bi], [yi], opts, variant=variant, scratch=scratch)
    (y,) = b.run([yi], threads=threads)
    if y_dtype == np.int32:
        np.testing.assert_array_equal(y, acc)
        return
    real = (sx * sw.astype(np.float64) / sy).reshape((1, m) + (1,) * (acc.ndim - 2))
    alo, ahi = _act_bounds(opts.activation, sy, zy, y_dtype)
    ref = requant_ref(acc, np.float32(sx) * sw.astype(np.float64).reshape(real.shape)
                      / np.float32(sy), zy, alo, ahi)
    np.testing.assert_array_equal(y.astype(np.int64), ref)
    fref = float_requant(acc, real, zy, alo, ahi)
    assert np.max(np.abs(y - fref)) <= 1


@pytest.mark.parametrize("case", CONV_CASES, ids=[f"conv{i}" for i in range(len(CONV_CASES))])
@pytest.mark.parametrize("variant", VARIANTS)
def test_qconv(case: tuple, variant: int) -> None:
    for i, (xd, yd, act, full) in enumerate([(U8, U8, Activation.NONE, True),
                                             (S8, S8, Activation.RELU, False),
                                             (U8, S8, Activation.CLIP, True),
                                             (S8, U8, Activation.NONE, False)]):
        _conv_case(case, xd, yd, act, full, variant, threads=1 + i % 3, seed=i)


@pytest.mark.parametrize("variant", VARIANTS)
def test_qconv_int32_output_and_1d(variant: int) -> None:
    _conv_case(CONV_CASES[2], U8, np.dtype(np.int32), Activation.NONE, True, variant, 2, 5)
    _conv_case(CONV_CASES[4], S8, np.dtype(np.int32), Activation.NONE, True, variant, 1, 6)
    _conv_case(CONV_CASES[8], U8, U8, Activation.RELU, True, variant, 2, 7, rank=3)


# ---- QGEMM / QMATMUL / DYNAMIC_QGEMM ----


@pytest.mark.parametrize("m,k,n", [(1, 37, 19), (3, 64, 40), (5, 129, 70), (67, 21, 33),
                                   (40, 300, 17)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_qgemm(m: int, k: int, n: int, variant: int) -> None:
    rng = np.random.default_rng(m * 1000 + k)
    for i, (xd, yd, ta, tb, full) in enumerate([(U8, U8, False, True, True),
                                                (S8, S8, False, False, False),
                                                (U8, np.dtype(np.int32), True, True, True),
                                                (S8, U8, True, False, True)]):
        a = rand_q(rng, xd, (k, m) if ta else (m, k))
        wmax = 127 if full else 64
        w = rng.integers(-wmax, wmax + 1, size=(n, k)).astype(np.int8)
        if full:
            w.flat[::5] = 127
        bias = rng.integers(-3000, 3000, n).astype(np.int32)
        lo, hi = qrange(xd)
        sa, za = 0.03, int(rng.integers(lo, hi + 1))
        sw = rng.uniform(0.002, 0.02, n).astype(np.float32)
        act = Activation.RELU if i == 1 else Activation.NONE
        b = Builder()
        ai = b.input(a, sa, za)
        wi = b.const(w if tb else np.ascontiguousarray(w.T), sw, 0, axis=0 if tb else 1)
        ci = b.const(bias)
        ylo, yhi = qrange(yd) if yd != np.int32 else (0, 0)
        sy, zy = 0.7, (ylo + yhi) // 2 + 9
        yi = b.output(yd, (m, n)) if yd == np.int32 else b.output(yd, (m, n), sy, zy)
        opts = GemmOptionsT(transA=ta, transB=tb, activation=act)
        b.emit(Opcode.QGEMM, [ai, wi, ci], [yi], opts, variant=variant,
               scratch=qk.qfc_workspace(m, k, False))
        (y,) = b.run([yi], threads=1 + i % 2)
        a2 = (a.T if ta else a).astype(np.int64) - za
        acc = a2 @ w.T.astype(np.int64) + bias
        if yd == np.int32:
            np.testing.assert_array_equal(y, acc)
            continue
        alo = max(ylo, zy) if act == Activation.RELU else ylo
        real = np.float32(sa) * sw.astype(np.float64) / np.float32(sy)
        np.testing.assert_array_equal(y, requant_ref(acc, real[None, :], zy, alo, yhi))
        assert np.max(np.abs(y - float_requant(acc, sa * sw.astype(np.float64) / sy, zy, alo,
                                               yhi))) <= 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_qmatmul(variant: int) -> None:
    rng = np.random.default_rng(7)
    # constant symmetric B (the QGEMM path), batch folded into M
    a = rand_q(rng, U8, (2, 7, 45))
    w = rng.integers(-127, 128, size=(45, 21)).astype(np.int8)
    sw = rng.uniform(0.01, 0.02, 21).astype(np.float32)
    b = Builder()
    ai = b.input(a, 0.05, 100)
    wi = b.const(w, sw, 0, axis=1)
    yi = b.output(S8, (2, 7, 21), 0.9, -3)
    b.emit(Opcode.QMATMUL, [ai, wi], [yi], variant=variant, scratch=qk.qfc_workspace(14, 45,
                                                                                      False))
    (y,) = b.run([yi], threads=2)
    acc = (a.astype(np.int64) - 100) @ w.astype(np.int64)
    real = np.float32(0.05) * sw.astype(np.float64) / np.float32(0.9)
    np.testing.assert_array_equal(y, requant_ref(acc, real, -3, -128, 127))
    # two activations with zero points and broadcast batch dims, int32 out (MatMulInteger)
    a = rand_q(rng, U8, (3, 1, 5, 9))
    bb = rand_q(rng, S8, (4, 9, 6))
    b = Builder()
    ai = b.input(a, 1.0, 17)
    bi = b.input(bb, 1.0, -4)
    yi = b.output(np.int32, (3, 4, 5, 6))
    b.emit(Opcode.QMATMUL, [ai, bi], [yi], variant=variant)
    (y,) = b.run([yi])
    ref = np.matmul(a.astype(np.int64) - 17, bb.astype(np.int64) + 4)
    np.testing.assert_array_equal(y, ref)
    # two activations, requantized int8 output
    b = Builder()
    ai = b.input(a, 0.1, 17)
    bi = b.input(bb, 0.2, -4)
    yi = b.output(U8, (3, 4, 5, 6), 2.0, 128)
    b.emit(Opcode.QMATMUL, [ai, bi], [yi], variant=variant)
    (y,) = b.run([yi], threads=2)
    real = np.float64(np.float32(0.1)) * np.float32(0.2) / np.float32(2.0)
    np.testing.assert_array_equal(y, requant_ref(ref, real, 128, 0, 255))


def _dynamic_ref(a: np.ndarray, w: np.ndarray, sw: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Row-wise uint8 quantization of a as the kernel does it (float32 steps),
    then the int32 product and the float epilogue."""
    rows = a.reshape(-1, a.shape[-1])
    out = []
    for r in rows:
        lo, hi = min(np.float32(0), r.min()), max(np.float32(0), r.max())
        s = np.float32((hi - lo) / np.float32(255))
        if not s > 0:
            s = np.float32(1)
        zp = int(np.clip(np.rint(-lo / s), 0, 255))
        v = np.clip(r * (np.float32(1) / s), -256, 256).astype(np.float32)
        q = np.clip(np.rint(v) + zp, 0, 255).astype(np.int64)
        acc = q @ w.T.astype(np.int64) - zp * w.astype(np.int64).sum(1)
        out.append(acc.astype(np.float32) * (s * sw) + bias)
    return np.stack(out).reshape(*a.shape[:-1], w.shape[0])


@pytest.mark.parametrize("m", [1, 3, 6, 50])
@pytest.mark.parametrize("variant", VARIANTS)
def test_dynamic_qgemm(m: int, variant: int) -> None:
    rng = np.random.default_rng(m)
    k, n = 77, 35
    a = rng.standard_normal((m, k)).astype(np.float32)
    if m > 1:
        a[1] = 0.0  # an all-zero row
    wf = rng.standard_normal((n, k)).astype(np.float32)
    sw = (np.abs(wf).max(1) / 127).astype(np.float32)
    w = np.clip(np.rint(wf / sw[:, None]), -127, 127).astype(np.int8)
    bias = rng.standard_normal(n).astype(np.float32)
    b = Builder()
    ai = b.input(a)
    wi = b.const(w, sw, 0, axis=0)
    ci = b.const(bias)
    yi = b.output(np.float32, (m, n))
    b.emit(Opcode.DYNAMIC_QGEMM, [ai, wi, ci], [yi], GemmOptionsT(transB=True),
           variant=variant, scratch=qk.qfc_workspace(m, k, True))
    (y,) = b.run([yi], threads=2)
    np.testing.assert_allclose(y, _dynamic_ref(a, w, sw, bias), rtol=1e-5, atol=1e-5)
    exact = a @ wf.T + bias
    cos = np.sum(y * exact) / np.linalg.norm(y) / np.linalg.norm(exact)
    assert cos > 0.999


# ---- QADD / QMUL ----


@pytest.mark.parametrize("op", [Opcode.QADD, Opcode.QMUL])
def test_qbinary(op: int) -> None:
    rng = np.random.default_rng(op)
    for ad, bd, yd, ashape, bshape in [(U8, U8, U8, (2, 5, 7, 9), (2, 5, 7, 9)),
                                       (S8, U8, S8, (3, 1, 40), (4, 1)),
                                       (S8, S8, U8, (1,), (6, 33))]:
        a, bb = rand_q(rng, ad, ashape), rand_q(rng, bd, bshape)
        (alo, ahi), (blo, bhi), (ylo, yhi) = qrange(ad), qrange(bd), qrange(yd)
        sa, za = 0.11, int(rng.integers(alo, ahi))
        sb, zb = 0.037, int(rng.integers(blo, bhi))
        sy, zy = (0.2, int(rng.integers(ylo, yhi))) if op == Opcode.QADD else (0.3, ylo + 40)
        b = Builder()
        ai, bi = b.input(a, sa, za), b.input(bb, sb, zb)
        shape = np.broadcast_shapes(ashape, bshape)
        yi = b.output(yd, shape, sy, zy)
        b.emit(op, [ai, bi], [yi])
        (y,) = b.run([yi], threads=2)
        fa, fb = np.float32(sa), np.float32(sb)
        av = np.broadcast_to(a.astype(np.int64) - za, shape)
        bv = np.broadcast_to(bb.astype(np.int64) - zb, shape)
        if op == Opcode.QADD:
            twice = 2.0 * max(float(fa), float(fb))
            x1 = requant_ref(av << 20, float(fa) / twice, 0, -(1 << 40), 1 << 40)
            x2 = requant_ref(bv << 20, float(fb) / twice, 0, -(1 << 40), 1 << 40)
            ref = requant_ref(x1 + x2, twice / ((1 << 20) * float(np.float32(sy))), zy, ylo, yhi)
            real = fa * av + fb * bv
        else:
            ref = requant_ref(av * bv, float(fa) * float(fb) / float(np.float32(sy)), zy, ylo,
                              yhi)
            real = (fa * av) * (fb * bv)
        np.testing.assert_array_equal(y, ref)
        fref = np.clip(np.round(real / np.float32(sy)) + zy, ylo, yhi)
        assert np.max(np.abs(y - fref)) <= 1


# ---- pools, LUT, concat ----


def _pool_ref(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], pads: tuple[int, ...],
              oshape: tuple[int, int], average: bool, count_pad: bool, zx: int, zy: int,
              real: float, same: bool, lo: int, hi: int) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros((n, c, *oshape), np.int64)
    for i in range(oshape[0]):
        for j in range(oshape[1]):
            h0, w0 = i * s[0] - pads[0], j * s[1] - pads[1]
            hs = [r for r in range(h0, h0 + k[0]) if 0 <= r < h]
            ws = [q for q in range(w0, w0 + k[1]) if 0 <= q < w]
            win = x[:, :, hs][:, :, :, ws].astype(np.int64).reshape(n, c, -1)
            if average:
                cnt = win.shape[-1]
                if count_pad:
                    cnt = len([r for r in range(h0, h0 + k[0]) if -pads[0] <= r < h + pads[2]]) * \
                        len([q for q in range(w0, w0 + k[1]) if -pads[1] <= q < w + pads[3]])
                out[:, :, i, j] = requant_ref((win - zx).sum(-1), real / cnt, zy, lo, hi)
            else:
                mx = win.max(-1)
                out[:, :, i, j] = mx if same else requant_ref(mx - zx, real, zy, lo, hi)
    return out


@pytest.mark.parametrize("average", [True, False])
def test_qpool(average: bool) -> None:
    rng = np.random.default_rng(11)
    for xd, yd, k, s, pads, cp, same in [(U8, U8, (3, 3), (2, 2), (1, 1, 1, 1), False, True),
                                         (S8, S8, (2, 3), (1, 2), (0, 1, 1, 0), True, False),
                                         (U8, S8, (7, 7), (1, 1), (0, 0, 0, 0), False, False)]:
        h, w = (7, 7) if k == (7, 7) else (11, 10)
        x = rand_q(rng, xd, (2, 5, h, w))
        (xlo, xhi), (ylo, yhi) = qrange(xd), qrange(yd)
        sx, zx = 0.1, int(rng.integers(xlo, xhi))
        sy, zy = (sx, zx) if same else (0.07, int(rng.integers(ylo, yhi)))
        oh = (h + pads[0] + pads[2] - k[0]) // s[0] + 1
        ow = (w + pads[1] + pads[3] - k[1]) // s[1] + 1
        b = Builder()
        xi = b.input(x, sx, zx)
        yi = b.output(yd, (2, 5, oh, ow), sy, zy)
        opts = PoolOptionsT(kind=PoolKind.AVERAGE if average else PoolKind.MAX, kernel=list(k),
                            strides=list(s), pads=list(pads), countIncludePad=cp)
        b.emit(Opcode.QAVERAGE_POOL if average else Opcode.QMAX_POOL, [xi], [yi], opts)
        (y,) = b.run([yi], threads=2)
        real = float(np.float32(sx)) / float(np.float32(sy))
        ref = _pool_ref(x, k, s, pads, (oh, ow), average, cp, zx, zy, real, same, ylo, yhi)
        np.testing.assert_array_equal(y, ref)


def test_qlut() -> None:
    rng = np.random.default_rng(3)
    for xd, yd in [(U8, S8), (S8, U8), (S8, S8)]:
        x = rand_q(rng, xd, (3, 1000))
        table = rand_q(rng, yd, (256,))
        b = Builder()
        xi = b.input(x, 0.1, 0)
        ti = b.const(table)
        yi = b.output(yd, x.shape, 0.1, 0)
        b.emit(Opcode.QLUT, [xi, ti], [yi])
        (y,) = b.run([yi], threads=2)
        np.testing.assert_array_equal(y, table[x.view(np.uint8)])


def test_qconcat() -> None:
    rng = np.random.default_rng(4)
    parts = [rand_q(rng, U8, (2, 3, 4)), rand_q(rng, S8, (2, 5, 4)), rand_q(rng, U8, (2, 1, 4))]
    quants = [(0.1, 10), (0.05, -3), (0.2, 128)]
    b = Builder()
    ins = [b.input(p, s, z) for p, (s, z) in zip(parts, quants, strict=True)]
    yi = b.output(U8, (2, 9, 4), 0.1, 10)
    b.emit(Opcode.QCONCAT, ins, [yi], AxisOptionsT(axis=1))
    (y,) = b.run([yi], threads=2)
    refs = []
    for p, (s, z) in zip(parts, quants, strict=True):
        if (s, z) == (0.1, 10) and p.dtype == U8:
            refs.append(p.astype(np.int64))
        else:
            real = float(np.float32(s)) / float(np.float32(0.1))
            refs.append(requant_ref(p.astype(np.int64) - z, real, 10, 0, 255))
    np.testing.assert_array_equal(y, np.concatenate(refs, axis=1))
