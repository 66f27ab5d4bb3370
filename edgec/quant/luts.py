"""Unary float ops as 256-entry int8 tables (the QLUT kernel)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgec.fb.Opcode import Opcode

UnaryFn = Callable[[np.ndarray, object], np.ndarray]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _opt(options: object, name: str, default: float) -> float:
    return float(getattr(options, name, default)) if options is not None else default


def _gelu(x: np.ndarray, o: object) -> np.ndarray:
    if options_approximate(o):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def options_approximate(o: object) -> bool:
    return bool(getattr(o, "approximate", False)) if o is not None else False


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


FUNCTIONS: dict[int, UnaryFn] = {
    Opcode.RELU: lambda x, o: np.maximum(x, 0),
    Opcode.CLIP: lambda x, o: np.clip(x, _opt(o, "alpha", -np.inf), _opt(o, "beta", np.inf)),
    Opcode.LEAKY_RELU: lambda x, o: np.where(x >= 0, x, _opt(o, "alpha", 0.01) * x),
    Opcode.SIGMOID: lambda x, o: 1 / (1 + np.exp(-x)),
    Opcode.TANH: lambda x, o: np.tanh(x),
    Opcode.HARD_SIGMOID: lambda x, o: np.clip(_opt(o, "alpha", 0.2) * x + _opt(o, "beta", 0.5),
                                              0, 1),
    Opcode.HARD_SWISH: lambda x, o: x * np.clip(x / 6 + 0.5, 0, 1),
    Opcode.GELU: _gelu,
    Opcode.ELU: lambda x, o: np.where(x >= 0, x, _opt(o, "alpha", 1.0) * np.expm1(x)),
    Opcode.SELU: lambda x, o: _opt(o, "beta", 1.0507) * np.where(
        x > 0, x, _opt(o, "alpha", 1.6733) * np.expm1(x)),
    Opcode.SOFTPLUS: lambda x, o: _softplus(x),
    Opcode.SOFTSIGN: lambda x, o: x / (1 + np.abs(x)),
    Opcode.MISH: lambda x, o: x * np.tanh(_softplus(x)),
    Opcode.NEG: lambda x, o: -x,
    Opcode.ABS: lambda x, o: np.abs(x),
    Opcode.ERF: lambda x, o: _erf(x),
}


def table(opcode: int, options: object, in_dtype: np.dtype, in_scale: float, in_zp: int,
          out_dtype: np.dtype, out_scale: float, out_zp: int) -> np.ndarray:
    """table[byte] = quantize(f(dequantize(byte as in_dtype)))."""
    codes = np.arange(256, dtype=np.uint8).view(np.dtype(in_dtype)).astype(np.float64)
    x = (codes - in_zp) * float(np.float32(in_scale))
    with np.errstate(over="ignore", invalid="ignore"):
        y = FUNCTIONS[opcode](x, options)
    lo, hi = (-128, 127) if np.dtype(out_dtype) == np.int8 else (0, 255)
    q = np.rint(y / float(np.float32(out_scale))) + out_zp
    q = np.where(np.isnan(q), lo, np.clip(q, lo, hi))
    return q.astype(out_dtype)
