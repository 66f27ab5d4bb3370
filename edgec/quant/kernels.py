"""Mirrors of the int8 kernels' contracts (runtime_c/src/kernels/ref/q*.c).

Workspace sizes: a kernel refuses to load when its instruction declares less
scratch than it needs, so these follow the C formulas exactly. The
fixed-point requantization (qcommon.h) is mirrored too, for the tests and for
the compiler's own estimates.
"""

from __future__ import annotations

import math

import numpy as np

QMR, QNR, QKG = 4, 16, 4  # qgemm_core.h EC_QMR / EC_QNR / EC_QKG
QDOTK, QDOT_MAX_COLS = 32, 4  # EC_QDOTK, EC_QDOT_MAX_COLS
QCONV_PANEL, QCONV_TP_MAX = 131072, 512  # qconv.c
QFC_PANEL, QFC_TM_MAX, QFC_ROW_BLOCK = 131072, 512, 64  # qgemm.c

VARIANT_REF, VARIANT_BEST = 0, 1  # kernel.h EC_VARIANT_*


def _up(v: int, to: int) -> int:
    return (v + to - 1) // to * to


def _a64(v: int) -> int:
    return _up(v, 64)


def qconv_tile(kp: int, pixels: int) -> int:
    t = QCONV_PANEL // max(kp, 1) // QNR * QNR
    return min(pixels, min(max(t, QNR), QCONV_TP_MAX))


def qconv_workspace(path: str, k: int, pixels: int, out_width: int,
                    in_hw: tuple[int, int] = (0, 0), kernel: tuple[int, int] = (1, 1),
                    strides: tuple[int, int] = (1, 1), pads: tuple[int, int, int, int] = (0,) * 4,
                    dilations: tuple[int, int] = (1, 1)) -> int:
    """qconv.c: path in depthwise / pointwise / im2col; k = C/group * kh * kw. 2-D
    geometry (a 1-D conv has height 1); pads as (top, left, bottom, right)."""
    if path == "depthwise":
        pad_h = in_hw[0] + pads[0] + pads[2]
        pad_w = max(in_hw[1] + pads[1] + pads[3],
                    _up(out_width, 16) * strides[1] + (kernel[1] - 1) * dilations[1] + 32)
        return _a64(4 * out_width) + _a64(pad_h * pad_w)
    kp = _up(k, QKG)
    tp = qconv_tile(kp, pixels)
    size = _a64(kp * _up(tp, QNR)) + _a64(QMR * QNR * 4)
    if path == "im2col":
        size += _a64(k * tp)
    return size


def qfc_workspace(m: int, k: int, dynamic: bool) -> int:
    """qgemm.c (QGEMM, QMATMUL with a constant B, DYNAMIC_QGEMM), blocked paths;
    covers the reference path too."""
    kp, kd = _up(k, QKG), _up(k, QDOTK)
    if m <= QDOT_MAX_COLS:
        return _a64(m * kd) + _a64(4 * m * QFC_ROW_BLOCK) + _a64(8 * m)
    tm = min(m, min(max(QFC_PANEL // max(kp, 1) // QNR * QNR, QNR), QFC_TM_MAX))
    size = _a64(kp * _up(tm, QNR)) + 256 + _a64(8 * tm)
    if dynamic:
        size += _a64(tm * k)
    return max(size, _a64(k) if dynamic else 0)


# ---- fixed point ----


def qmul_from_double(real: float) -> tuple[int, int]:
    """(mantissa, shift) as ec_qmul_from_double."""
    if not real > 0 or not math.isfinite(real):
        return 0, 0
    frac, e = math.frexp(real)
    m = math.floor(frac * (1 << 31) + 0.5)  # llround (exact in double)
    if m == 1 << 31:
        m //= 2
        e += 1
    if e < -31:
        return 0, 0
    if e > 30:
        return (1 << 31) - 1, 30
    return m, e


def requantize(x: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """ec_requant over an int array (int64 arithmetic)."""
    x = np.asarray(x, dtype=np.int64)
    left, right = max(shift, 0), max(-shift, 0)
    if left:
        x = np.clip(x * (1 << left), -(1 << 31), (1 << 31) - 1)
    hi = (x * mult + (1 << 30)) >> 31
    mask = (1 << right) - 1
    rem = hi & mask
    threshold = (mask >> 1) + (hi < 0)
    return (hi >> right) + (rem > threshold)
