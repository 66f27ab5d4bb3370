"""Recognize the erf form of GELU that exporters emit as five ops,
x * 0.5 * (1 + Erf(x / sqrt(2))) in its usual orderings, and replace it with
one Gelu node (which lowering can then fuse into the producing Gemm)."""

from __future__ import annotations

import math

import onnx_ir as ir
from onnxscript.rewriter import pattern

_SQRT2 = math.sqrt(2.0)


def _half_outside(op, x):  # (x * (Erf(x / sqrt2) + 1)) * 0.5
    return op.Mul(op.Mul(x, op.Add(op.Erf(op.Div(x, _SQRT2)), 1.0)), 0.5)


def _half_inside(op, x):  # x * ((Erf(x / sqrt2) + 1) * 0.5)
    return op.Mul(x, op.Mul(op.Add(op.Erf(op.Div(x, _SQRT2)), 1.0), 0.5))


def _half_first(op, x):  # (0.5 * x) * (Erf(x / sqrt2) + 1)
    return op.Mul(op.Mul(x, 0.5), op.Add(op.Erf(op.Div(x, _SQRT2)), 1.0))


def _mul_inv_sqrt2(op, x):  # (x * (Erf(x * 1/sqrt2) + 1)) * 0.5
    return op.Mul(op.Mul(x, op.Add(op.Erf(op.Mul(x, 1.0 / _SQRT2)), 1.0)), 0.5)


def _gelu(op, x):
    return op.Gelu(x, approximate="none")


RULES = pattern.RewriteRuleSet(
    [pattern.RewriteRule(p, _gelu) for p in (_half_outside, _half_inside, _half_first,
                                             _mul_inv_sqrt2)],
    commute=True,
)


def fuse_gelu(model: ir.Model) -> int:
    """Rewrites in place; returns how many GELUs were found."""
    return RULES.apply_to_model(model)
