"""Multiply-add counts of an ONNX model's Conv/ConvTranspose/Gemm/MatMul nodes
(2 FLOPs per multiply-add), from ONNX shape inference."""

from __future__ import annotations

import numpy as np
import onnx


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = tuple(d.dim_value for d in dims)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def model_flops(model: onnx.ModelProto) -> int:
    shapes = _shapes(model)
    total = 0
    for node in model.graph.node:
        out = shapes.get(node.output[0])
        if not out:
            continue
        if node.op_type in ("Conv", "ConvTranspose"):
            w = shapes[node.input[1]]
            per_output = int(np.prod(w[1:]))  # (C/group) * kernel
            if node.op_type == "ConvTranspose":
                x = shapes[node.input[0]]
                total += 2 * int(np.prod(x)) * int(np.prod(w[1:]))
            else:
                total += 2 * int(np.prod(out)) * per_output
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes[node.input[0]]
            k = a[-1] if not (node.op_type == "Gemm" and any(
                at.name == "transA" and at.i for at in node.attribute)) else a[0]
            total += 2 * int(np.prod(out)) * k
    return total
