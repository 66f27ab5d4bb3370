"""Every int8 kernel family against the reference one, bit for bit, on seeded
random shapes with odd sizes and tails: QCONV (pointwise, im2col, the direct
shifted-row path, depthwise, grouped, 1-D), QGEMM (dot products and the blocked
GEMM) and QMAX_POOL. Each instruction runs in the reference family (plain
loops, the oracle), capped at AVX2 (vpmaddubsw, weights split where pairs
could saturate), and AVX-512 / BEST (AVX-512 VNNI vpdpbusd where the CPU has
it; otherwise they fall back, so the test runs everywhere and compares what
this machine can run). Full-range 8-bit weights (-128 and 127 included), int8
and uint8 activations, fused clamps, multipliers below 1/2, in [1/2, 1) and
above 1 (a left shift), and biases large enough to saturate int32 (the
optimized kernels' scalar fallback). The reference family itself is checked
against numpy in test_kernels.py, and here too where the bias is small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qsupport import S8, U8, Builder, conv_int, qrange, rand_q, requant_ref

from edgec.fb.Activation import Activation
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.PoolKind import PoolKind
from edgec.fb.PoolOptions import PoolOptionsT
from edgec.quant import kernels as qk

REF, BEST, AVX2, AVX512 = 0, 1, 2, 3  # kernel.h EC_VARIANT_*
FAMILIES = [AVX2, AVX512, BEST]
I32 = np.dtype(np.int32)


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


HAS_VNNI = "avx512_vnni" in _cpu_flags()


def _scales(rng: np.random.Generator, kind: str, m: int) -> tuple[float, np.ndarray, float]:
    """(input scale, weight scales, output scale): real multipliers sx * sw / sy
    below 1/2 (shift < 0), in [1/2, 1) (shift 0), above 1 (a left shift), or a mix."""
    sx, sy = 0.02, 0.5
    if kind == "small":
        sw = rng.uniform(0.001, 0.01, m)
    elif kind == "half":
        sw = rng.uniform(0.51, 0.99, m) * sy / sx
    elif kind == "big":
        sw = rng.uniform(1.5, 40.0, m) * sy / sx
    else:
        sw = np.exp(rng.uniform(np.log(1e-4), np.log(3.0), m)) * sy / sx
    return sx, sw.astype(np.float32), sy


def _bias(rng: np.random.Generator, m: int, extreme: bool) -> np.ndarray:
    b = rng.integers(-20000, 20000, m).astype(np.int64)
    if extreme:  # channels whose sums may saturate int32 once the bias is added
        b[::3] = np.int64(2 ** 31 - 1) - rng.integers(0, 1000, b[::3].size)
        b[1::5] = np.int64(-(2 ** 31)) + rng.integers(0, 1000, b[1::5].size)
    return b.astype(np.int32)


def _run(b: Builder, out: int, threads: int) -> np.ndarray:
    return b.run([out], threads=threads)[0]


# ---- QCONV ----------------------------------------------------------------------------------


def _conv_case(rng: np.random.Generator, shape: str) -> dict:
    """Random geometry of one kind; sizes off the tiles (16 pixels, 4/8 rows, 48 columns)."""
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    if shape == "pointwise":
        c, m, h, w = r(1, 70), r(1, 45), r(1, 19), r(1, 23)
        return dict(c=c, m=m, h=h, w=w, k=(1, 1), s=(1, 1), p=(0, 0, 0, 0), d=(1, 1), g=1)
    if shape == "shift":  # stride 1, same width: the direct path (C/group a multiple of 4)
        g = r(1, 2)
        c, m = 4 * r(1, 10) * g, r(1, 12) * g
        kh, kw = [(3, 3), (3, 3), (5, 5), (1, 3), (3, 1), (2, 2)][r(0, 5)]
        dh, dw = r(1, 2), r(1, 2)
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1)
        pads = (ph, pw // 2, dh * (kh - 1) - ph + r(0, 1), pw - pw // 2)
        return dict(c=c, m=m, h=r(1, 17), w=r(1, 40), k=(kh, kw), s=(1, 1), p=pads,
                    d=(dh, dw), g=g)
    if shape == "im2col":
        c, m = r(1, 13), r(1, 37)
        kh, kw = r(1, 4), r(1, 4)
        return dict(c=c, m=m, h=r(kh, 18), w=r(kw, 25), k=(kh, kw), s=(r(1, 3), r(1, 3)),
                    p=(r(0, 2), r(0, 2), r(0, 2), r(0, 2)), d=(r(1, 2), 1), g=1)
    if shape == "depthwise":
        c = r(1, 9)
        kh, kw = [(3, 3), (3, 3), (5, 5), (3, 1), (1, 7), (2, 2)][r(0, 5)]
        sw = r(1, 2)
        dh, dw = r(1, 2), r(1, 3 if sw == 1 else 2)
        return dict(c=c, m=c, h=r(1, 20), w=r(1, 90), k=(kh, kw), s=(r(1, 2), sw),
                    p=(r(0, kh), r(0, kw), r(0, kh), r(0, kw)), d=(dh, dw), g=c)
    # grouped, not depthwise
    g = r(2, 3)
    c, m = g * r(1, 5), g * r(1, 6)
    return dict(c=c, m=m, h=r(3, 12), w=r(3, 15), k=(3, 3), s=(r(1, 2), 1), p=(1, 1, 1, 1),
                d=(1, 1), g=g)


def _conv_geometry(case: dict) -> tuple[int, int]:
    kh, kw = case["k"]
    oh = (case["h"] + case["p"][0] + case["p"][2] - case["d"][0] * (kh - 1) - 1) // case["s"][0] + 1
    ow = (case["w"] + case["p"][1] + case["p"][3] - case["d"][1] * (kw - 1) - 1) // case["s"][1] + 1
    return oh, ow


def _qconv(case: dict, x: np.ndarray, wt: np.ndarray, bias: np.ndarray, sx: float, zx: int,
           sw: np.ndarray, sy: float, zy: int, y_dtype: np.dtype, act: int, variant: int,
           threads: int) -> np.ndarray:
    n, c, h, w = x.shape
    m = wt.shape[0]
    (kh, kw), g = case["k"], case["g"]
    oh, ow = _conv_geometry(case)
    b = Builder()
    xi = b.input(x, sx, zx)
    wi = b.const(wt, sw, 0, axis=0)
    bi = b.const(bias)
    opts = ConvOptionsT(strides=list(case["s"]), pads=list(case["p"]),
                        dilations=list(case["d"]), group=g, activation=act, actAlpha=0.0,
                        actBeta=6.0)
    if y_dtype == I32:
        yi = b.output(I32, (n, m, oh, ow))
        opts.activation = Activation.NONE
    else:
        yi = b.output(y_dtype, (n, m, oh, ow), sy, zy)
    path = "depthwise" if g == c == m else (
        "pointwise" if (kh, kw) == (1, 1) and case["s"] == (1, 1) and not any(case["p"])
        else "im2col")
    scratch = qk.qconv_workspace(path, c // g * kh * kw, oh * ow, ow, (h, w), (kh, kw),
                                 case["s"], case["p"], case["d"])
    b.emit(Opcode.QCONV, [xi, wi, bi], [yi], opts, variant=variant, scratch=scratch)
    return _run(b, yi, threads)


@pytest.mark.parametrize("shape", ["pointwise", "shift", "im2col", "depthwise", "grouped"])
@pytest.mark.parametrize("seed", range(6))
def test_qconv_families(shape: str, seed: int) -> None:
    rng = np.random.default_rng(1000 * seed + len(shape))
    case = _conv_case(rng, shape)
    n = 1 + seed % 2
    x_dtype = [U8, S8][seed % 2]
    y_dtype = [U8, S8, U8, S8, I32, U8][seed]
    act = [Activation.NONE, Activation.RELU, Activation.CLIP][seed % 3]
    kind = ["small", "small", "half", "mixed", "big", "mixed"][seed]
    extreme = seed in (3, 5)
    x = rand_q(rng, x_dtype, (n, case["c"], case["h"], case["w"]))
    kh, kw = case["k"]
    wt = rng.integers(-128, 128, size=(case["m"], case["c"] // case["g"], kh, kw)).astype(np.int8)
    wt.flat[::7] = 127
    wt.flat[1::11] = -128
    bias = _bias(rng, case["m"], extreme)
    lo, hi = qrange(x_dtype)
    # an extreme bias only loads with the input zero point at the dtype's low end (folding
    # it into the bias, as the optimized paths do, must stay in int32)
    zx = lo if extreme else int(rng.integers(lo, hi + 1))
    sx, sw, sy = _scales(rng, kind, case["m"])
    ylo, yhi = qrange(y_dtype) if y_dtype != I32 else (0, 0)
    zy = int(rng.integers(ylo, yhi + 1)) if y_dtype != I32 else 0
    args = (case, x, wt, bias, sx, zx, sw, sy, zy, y_dtype, act)
    ref = _qconv(*args, REF, 1)
    for fam in FAMILIES:
        for threads in (1, 2):
            np.testing.assert_array_equal(_qconv(*args, fam, threads), ref,
                                          err_msg=f"family {fam}, {threads} threads, {case}")
    if not extreme:  # the reference against numpy
        acc = conv_int(x.astype(np.int64) - zx, wt, case["s"], case["p"], case["d"],
                       case["g"]) + bias[None, :, None, None]
        if y_dtype == I32:
            np.testing.assert_array_equal(ref, acc)
        else:
            alo, ahi = ylo, yhi
            if act == Activation.RELU:
                alo = max(ylo, zy)
            elif act == Activation.CLIP:
                alo, ahi = max(ylo, zy), min(yhi, int(np.rint(zy + 6.0 / sy)))
            real = np.float32(sx) * sw.astype(np.float64) / np.float32(sy)
            np.testing.assert_array_equal(ref.astype(np.int64),
                                          requant_ref(acc, real[None, :, None, None], zy, alo,
                                                      ahi))


@pytest.mark.parametrize("case", [
    # the zoo models' shapes, shrunk: ResNet's stem (7x7 stride 2 on 3 channels), a stride-2
    # 3x3 and 1x1 downsampling, MobileNetV2's stem, a 3x3 on 7-wide rows (pixel blocks across
    # several output rows)
    dict(c=3, m=16, h=30, w=38, k=(7, 7), s=(2, 2), p=(3, 3, 3, 3), d=(1, 1), g=1),
    dict(c=16, m=24, h=14, w=14, k=(3, 3), s=(2, 2), p=(1, 1, 1, 1), d=(1, 1), g=1),
    dict(c=16, m=8, h=14, w=14, k=(1, 1), s=(2, 2), p=(0, 0, 0, 0), d=(1, 1), g=1),
    dict(c=3, m=8, h=33, w=33, k=(3, 3), s=(2, 2), p=(1, 1, 1, 1), d=(1, 1), g=1),
    dict(c=32, m=40, h=7, w=7, k=(3, 3), s=(1, 1), p=(1, 1, 1, 1), d=(1, 1), g=1),
    dict(c=12, m=12, h=20, w=33, k=(3, 3), s=(2, 2), p=(1, 1, 1, 1), d=(1, 1), g=12),
], ids=["stem7x7s2", "3x3s2", "1x1s2", "stem3x3s2", "3x3w7", "dw3x3s2"])
def test_qconv_model_shapes(case: dict) -> None:
    rng = np.random.default_rng(len(str(case)))
    x = rand_q(rng, U8, (1, case["c"], case["h"], case["w"]))
    kh, kw = case["k"]
    wt = rng.integers(-128, 128, size=(case["m"], case["c"] // case["g"], kh, kw)).astype(np.int8)
    bias = _bias(rng, case["m"], False)
    sx, sw, sy = _scales(rng, "small", case["m"])
    args = (case, x, wt, bias, sx, 9, sw, sy, 3, U8, Activation.CLIP)
    ref = _qconv(*args, REF, 1)
    for fam in FAMILIES:
        np.testing.assert_array_equal(_qconv(*args, fam, 2), ref, err_msg=f"family {fam}")


def test_qconv_1d_families() -> None:
    rng = np.random.default_rng(5)
    for c, m, w, k, s, p in [(8, 13, 61, 3, 1, (1, 1)), (5, 7, 50, 5, 3, (2, 1)),
                             (12, 12, 77, 3, 2, (1, 1))]:
        group = c if c == m else 1
        x = rand_q(rng, U8, (1, c, w))
        wt = rng.integers(-128, 128, size=(m, c // group, k)).astype(np.int8)
        sw = rng.uniform(0.001, 0.01, m).astype(np.float32)
        ow = (w + p[0] + p[1] - k) // s + 1
        path = "depthwise" if group == c == m else "im2col"
        scratch = qk.qconv_workspace(path, c // group * k, ow, ow, (1, w), (1, k), (1, s),
                                     (0, p[0], 0, p[1]), (1, 1))
        outs = {}
        for fam in (REF, *FAMILIES):
            b = Builder()
            xi = b.input(x, 0.05, 7)
            wi = b.const(wt, sw, 0, axis=0)
            yi = b.output(S8, (1, m, ow), 0.3, -5)
            opts = ConvOptionsT(strides=[s], pads=list(p), dilations=[1], group=group,
                                activation=Activation.RELU)
            b.emit(Opcode.QCONV, [xi, wi], [yi], opts, variant=fam, scratch=scratch)
            outs[fam] = _run(b, yi, 2)
        for fam in FAMILIES:
            np.testing.assert_array_equal(outs[fam], outs[REF])


# ---- QGEMM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_qgemm_families(seed: int) -> None:
    rng = np.random.default_rng(77 + seed)
    m = [1, 2, 3, 4, 5, 7, 17, 33, 50, 70][seed]  # <= 4: dot products; more: blocked GEMM
    k, n = int(rng.integers(1, 300)), int(rng.integers(1, 90))
    xd, yd = [U8, S8][seed % 2], [U8, S8, I32][seed % 3]
    ta, tb = bool(seed & 2), bool(seed & 4)
    extreme = seed in (4, 9)
    a = rand_q(rng, xd, (k, m) if ta else (m, k))
    w = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    w.flat[::5] = 127
    bias = _bias(rng, n, extreme)
    lo, hi = qrange(xd)
    za = lo if extreme else int(rng.integers(lo, hi + 1))
    sa, sw, sy = _scales(rng, ["small", "mixed", "half", "big"][seed % 4], n)
    ylo, yhi = qrange(yd) if yd != I32 else (0, 0)
    zy = int(rng.integers(ylo, yhi + 1)) if yd != I32 else 0
    act = Activation.RELU if seed % 3 == 1 else Activation.NONE
    outs = {}
    for fam in (REF, *FAMILIES):
        b = Builder()
        ai = b.input(a, sa, za)
        wi = b.const(w if tb else np.ascontiguousarray(w.T), sw, 0, axis=0 if tb else 1)
        ci = b.const(bias)
        yi = b.output(I32, (m, n)) if yd == I32 else b.output(yd, (m, n), sy, zy)
        b.emit(Opcode.QGEMM, [ai, wi, ci], [yi],
               GemmOptionsT(transA=ta, transB=tb, activation=act if yd != I32 else 0),
               variant=fam, scratch=qk.qfc_workspace(m, k, False))
        outs[fam] = _run(b, yi, 1 + seed % 2)
    for fam in FAMILIES:
        np.testing.assert_array_equal(outs[fam], outs[REF], err_msg=f"family {fam}")
    if not extreme:
        acc = ((a.T if ta else a).astype(np.int64) - za) @ w.T.astype(np.int64) + bias
        if yd == I32:
            np.testing.assert_array_equal(outs[REF], acc)
        else:
            alo = max(ylo, zy) if act == Activation.RELU else ylo
            real = np.float32(sa) * sw.astype(np.float64) / np.float32(sy)
            np.testing.assert_array_equal(outs[REF], requant_ref(acc, real[None, :], zy, alo,
                                                                 yhi))


# ---- QADD -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_qadd_rows(seed: int) -> None:
    """QADD (no kernel families: the AVX-512 rows where the CPU has VNNI, else AVX2) on
    rows with tails and broadcasts, against the numpy form of the reference."""
    rng = np.random.default_rng(500 + seed)
    ad, bd, yd = [U8, S8][seed % 2], [U8, S8][(seed // 2) % 2], [U8, S8][(seed // 4) % 2]
    last = int(rng.integers(1, 150))
    ashape, bshape = [((3, 5, last), (3, 5, last)), ((2, 7, last), (7, 1)),
                      ((4, last), (1, last)), ((last,), (2, 3, last))][seed % 4]
    a, bb = rand_q(rng, ad, ashape), rand_q(rng, bd, bshape)
    (alo, ahi), (blo, bhi), (ylo, yhi) = qrange(ad), qrange(bd), qrange(yd)
    sa, za = float(rng.uniform(0.01, 0.3)), int(rng.integers(alo, ahi))
    sb, zb = float(rng.uniform(0.01, 0.3)), int(rng.integers(blo, bhi))
    # an output scale this small makes the sum's multiplier exceed 1 (the scalar rows)
    sy = 1e-8 if seed == 7 else float(rng.uniform(0.05, 0.5))
    zy = int(rng.integers(ylo, yhi))
    b = Builder()
    ai, bi = b.input(a, sa, za), b.input(bb, sb, zb)
    shape = np.broadcast_shapes(ashape, bshape)
    yi = b.output(yd, shape, sy, zy)
    b.emit(Opcode.QADD, [ai, bi], [yi])
    y = _run(b, yi, 1 + seed % 2)
    fa, fb = np.float32(sa), np.float32(sb)
    av = np.broadcast_to(a.astype(np.int64) - za, shape)
    bv = np.broadcast_to(bb.astype(np.int64) - zb, shape)
    twice = 2.0 * max(float(fa), float(fb))
    x1 = requant_ref(av << 20, float(fa) / twice, 0, -(1 << 40), 1 << 40)
    x2 = requant_ref(bv << 20, float(fb) / twice, 0, -(1 << 40), 1 << 40)
    ref = requant_ref(x1 + x2, twice / ((1 << 20) * float(np.float32(sy))), zy, ylo, yhi)
    np.testing.assert_array_equal(y.astype(np.int64), ref)


# ---- QMAX_POOL ------------------------------------------------------------------------------


def _max_pool_ref(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
                  pads: tuple[int, int, int, int], out: tuple[int, int]) -> np.ndarray:
    """The largest input of each window's valid taps; int64's minimum where a window
    is empty."""
    n, c, h, w = x.shape
    res = np.full((n, c, *out), np.iinfo(np.int64).min, np.int64)
    for i in range(out[0]):
        for j in range(out[1]):
            for ti in range(k[0]):
                ih = i * s[0] - pads[0] + ti * d[0]
                if not 0 <= ih < h:
                    continue
                for tj in range(k[1]):
                    iw = j * s[1] - pads[1] + tj * d[1]
                    if 0 <= iw < w:
                        res[:, :, i, j] = np.maximum(res[:, :, i, j], x[:, :, ih, iw])
    return res


@pytest.mark.parametrize("seed", range(8))
def test_qmax_pool_rows(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    k, s, d = (r(1, 4), r(1, 4)), (r(1, 3), r(1, 3)), (r(1, 2), r(1, 2))
    pads = (r(0, k[0] - 1), r(0, k[1] - 1), r(0, k[0] - 1), r(0, k[1] - 1))
    h, w = r(d[0] * (k[0] - 1) + 1, 20), r(d[1] * (k[1] - 1) + 1, 70)
    out = []
    for a in range(2):
        span = (h, w)[a] + pads[a] + pads[a + 2] - d[a] * (k[a] - 1) - 1
        ceil = seed % 2 == 1
        out.append((span + s[a] - 1) // s[a] + 1 if ceil else span // s[a] + 1)
    xd = [U8, S8][seed % 2]
    yd = xd if seed % 4 < 2 else [U8, S8][(seed // 2) % 2]
    x = rand_q(rng, xd, (2, 3, h, w))
    lo, hi = qrange(xd)
    zx = int(rng.integers(lo, hi + 1))
    same = yd == xd and seed % 4 < 2
    sy, zy = (0.1, zx) if same else (0.07, int(rng.integers(*qrange(yd))))
    b = Builder()
    xi = b.input(x, 0.1, zx)
    yi = b.output(yd, (2, 3, *out), sy, zy)
    b.emit(Opcode.QMAX_POOL, [xi], [yi],
           PoolOptionsT(kind=PoolKind.MAX, kernel=list(k), strides=list(s), pads=list(pads),
                        dilations=list(d)))
    y = _run(b, yi, 2)
    mx = _max_pool_ref(x.astype(np.int64), k, s, d, pads, tuple(out))
    ylo, yhi = qrange(yd)
    empty = mx == np.iinfo(np.int64).min
    if same:
        ref = np.where(empty, ylo, mx)
    else:
        real = float(np.float32(0.1)) / float(np.float32(sy))
        ref = np.where(empty, ylo, requant_ref(np.where(empty, 0, mx - zx), real, zy, ylo, yhi))
    np.testing.assert_array_equal(y.astype(np.int64), ref)


def test_vnni_present_or_skipped() -> None:
    """Says which int8 micro-kernels the families above ran on this machine."""
    if not HAS_VNNI:
        pytest.skip("no AVX-512 VNNI on this CPU: AVX512/BEST ran the AVX2 kernels")
