"""Ops that only reinterpret bytes: they become aliases and cost nothing."""

from __future__ import annotations

import onnx_ir as ir

from edgec.lower.context import LoweringContext, Unsupported, lowers


@lowers("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")
def lower_alias(ctx: LoweringContext, node: ir.Node) -> None:
    ctx.alias(node.outputs[0], node.inputs[0])


@lowers("Dropout")
def lower_dropout(ctx: LoweringContext, node: ir.Node) -> None:
    if len(node.outputs) > 1 and node.outputs[1].uses():
        raise Unsupported("the mask output is used (inference has no mask)")
    ctx.alias(node.outputs[0], node.inputs[0])
