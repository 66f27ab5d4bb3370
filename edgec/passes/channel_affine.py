"""Per-channel scale and shift chains folded into one BatchNormalization.

Caffe2-era exports (inception_v2, densenet121 among onnx's light models)
follow each BatchNormalization with a Mul and an Add by per-channel
constants, then a Relu: four passes over the activations where one would
do. These rules rewrite the ONNX graph (onnxscript's pattern rewriter):

- Mul(x, s) and Add(x, b), with s, b constants that vary only along axis 1
  of an input of rank 3 or more, become BatchNormalization(x, s, 0, 0, 1)
  and BatchNormalization(x, 1, b, 0, 1) with epsilon 0: the same values,
  since the kernel computes x * scale / sqrt(1 + 0) + bias.
- Two BatchNormalizations in a row become one (the composed affine).

onnxscript's BatchNormalization-into-Conv rule then folds what follows a
Conv into its weights; what remains (pre-activation blocks) runs as one
BATCH_NORM with the Relu fused (edgec.passes.fuse_activation).
Rank-2 inputs are left alone: there a bias Add belongs to its MatMul.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import onnx_ir as ir
import onnxscript.optimizer
from onnxscript.rewriter import pattern
from onnxscript.rewriter._basics import MatchResult

# A chain is folded in one application per link; this bounds the rounds.
_MAX_ROUNDS = 8


def _channel_vector(x: ir.Value, c: ir.Value) -> np.ndarray | None:
    """c as a vector over x's axis 1, when c is a float32 constant with one
    value per channel (C >= 2) that broadcasts against x along that axis
    only. Scalars are left alone: attention's scale is one and fuses there."""
    if c.const_value is None or x.shape is None or x.dtype != ir.DataType.FLOAT:
        return None
    rank = len(x.shape)
    channels = x.shape[1] if rank >= 3 else None
    if not isinstance(channels, int):
        return None
    value = c.const_value.numpy()
    if value.dtype != np.float32 or value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if channels < 2 or shape[1] != channels or any(d != 1 for i, d in enumerate(shape) if i != 1):
        return None
    return value.reshape(-1)


def _batch_norm(op: object, x: ir.Value, replaced: ir.Value, scale: np.ndarray,
                bias: np.ndarray) -> ir.Value:
    """BatchNormalization computing exactly x * scale + bias; its parameters
    are named after the value it replaces (unique in the graph)."""
    params = {"scale": scale, "bias": bias, "mean": np.zeros_like(scale),
              "var": np.ones_like(scale)}
    inits = [op.initializer(ir.tensor(v), name=f"{replaced.name}_{k}")  # type: ignore[attr-defined]
             for k, v in params.items()]
    return op.BatchNormalization(x, *inits, epsilon=0.0)  # type: ignore[attr-defined]


class _ChannelConstantRule(pattern.RewriteRuleClassBase):
    """op_type(x, c) with c a per-channel constant -> BatchNormalization."""

    op_type: ClassVar[str]

    def pattern(self, op: object, x: ir.Value, c: ir.Value) -> ir.Value:
        return getattr(op, self.op_type)(x, c, _outputs=["y"])  # type: ignore[no-any-return]

    def check(self, context: object, x: ir.Value, c: ir.Value, y: ir.Value) -> MatchResult:
        result = MatchResult()
        if x.const_value is not None:
            return result.fail("both operands are constants")
        if _channel_vector(x, c) is None:
            return result.fail("not a float32 per-channel constant over a rank >= 3 input")
        return result

    def rewrite(self, op: object, x: ir.Value, c: ir.Value, y: ir.Value) -> ir.Value:
        vector = _channel_vector(x, c)
        assert vector is not None
        if self.op_type == "Mul":
            return _batch_norm(op, x, y, vector, np.zeros_like(vector))
        return _batch_norm(op, x, y, np.ones_like(vector), vector)


class MulToBatchNorm(_ChannelConstantRule):
    op_type = "Mul"


class AddToBatchNorm(_ChannelConstantRule):
    op_type = "Add"


def _affine(node: ir.Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(a, b) with BatchNormalization(x) = a * x + b per channel, in float64;
    None unless every parameter is a constant and only Y is used."""
    params = [v.const_value for v in node.inputs[1:5]] if len(node.inputs) == 5 else []
    if len(params) != 4 or any(p is None for p in params):
        return None
    if node.attributes.get_int("training_mode", 0) or any(o.uses() for o in node.outputs[1:]):
        return None
    scale, bias, mean, var = (p.numpy().astype(np.float64) for p in params)  # type: ignore[union-attr]
    a = scale / np.sqrt(var + node.attributes.get_float("epsilon", 1e-5))
    return a, bias - mean * a


class BatchNormPair(pattern.RewriteRuleClassBase):
    def pattern(self, op: object, x: ir.Value) -> ir.Value:
        inner = op.BatchNormalization(x, _allow_other_inputs=True,  # type: ignore[attr-defined]
                                      _outputs=["inner"])
        return op.BatchNormalization(inner, _allow_other_inputs=True,  # type: ignore[attr-defined]
                                     _outputs=["outer"])

    def check(self, context: object, x: ir.Value, inner: ir.Value,
              outer: ir.Value) -> MatchResult:
        result = MatchResult()
        for value in (inner, outer):
            node = value.producer()
            if node is None or _affine(node) is None:
                return result.fail("a BatchNormalization with non-constant parameters")
        return result

    def rewrite(self, op: object, x: ir.Value, inner: ir.Value, outer: ir.Value) -> ir.Value:
        first, second = _affine(inner.producer()), _affine(outer.producer())  # type: ignore[arg-type]
        assert first is not None and second is not None
        scale = (second[0] * first[0]).astype(np.float32)
        bias = (second[0] * first[1] + second[1]).astype(np.float32)
        return _batch_norm(op, x, outer, scale, bias)


class ConvBatchNorm(pattern.RewriteRuleClassBase):
    """BatchNormalization(Conv(x, w, b)) -> Conv(x, w * a, b * a + c). Unlike
    onnxscript's rule it writes new initializers, so a weight that other
    Convs share (deduplicated constants) does not stop it."""

    def pattern(self, op: object, x: ir.Value) -> ir.Value:
        conv = op.Conv(x, _allow_other_inputs=True, _outputs=["conv"])  # type: ignore[attr-defined]
        return op.BatchNormalization(conv, _allow_other_inputs=True,  # type: ignore[attr-defined]
                                     _outputs=["outer"])

    def check(self, context: object, x: ir.Value, conv: ir.Value, outer: ir.Value) -> MatchResult:
        result = MatchResult()
        conv_node, bn_node = conv.producer(), outer.producer()
        assert conv_node is not None and bn_node is not None
        if any(v is None or v.const_value is None for v in conv_node.inputs[1:]):
            return result.fail("Conv weight or bias is not a constant")
        if _affine(bn_node) is None:
            return result.fail("a BatchNormalization with non-constant parameters")
        return result

    def rewrite(self, op: object, x: ir.Value, conv: ir.Value, outer: ir.Value) -> ir.Value:
        conv_node = conv.producer()
        affine = _affine(outer.producer())  # type: ignore[arg-type]
        assert conv_node is not None and affine is not None
        a, c = affine
        w = conv_node.inputs[1].const_value.numpy().astype(np.float64)  # type: ignore[union-attr]
        b = (conv_node.inputs[2].const_value.numpy().astype(np.float64)  # type: ignore[union-attr]
             if len(conv_node.inputs) > 2 else np.zeros_like(a))
        shape = (-1,) + (1,) * (w.ndim - 1)
        weight = op.initializer(  # type: ignore[attr-defined]
            ir.tensor((w * a.reshape(shape)).astype(np.float32)), name=f"{outer.name}_w")
        bias = op.initializer(  # type: ignore[attr-defined]
            ir.tensor((b * a + c).astype(np.float32)), name=f"{outer.name}_b")
        return op.Conv(x, weight, bias, **conv_node.attributes)  # type: ignore[attr-defined]


RULES = pattern.RewriteRuleSet(
    [MulToBatchNorm().rule(), AddToBatchNorm().rule(), BatchNormPair().rule(),
     ConvBatchNorm().rule()], commute=True)


def fold_channel_affine(model: ir.Model) -> int:
    """Rewrites until no rule applies; returns how many rewrites were made."""
    total = 0
    for _ in range(_MAX_ROUNDS):
        count = RULES.apply_to_model(model)
        if count == 0:
            break
        total += count
    onnxscript.optimizer.remove_unused_nodes(model)
    return total
