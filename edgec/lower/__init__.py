"""Lowering: onnx-ir nodes -> edgec instructions.

Each ONNX op has one lowering function, registered with @lowers("OpType").
It reads attributes and constant inputs, checks what the runtime kernel
supports, and emits instructions through the LoweringContext. Families of
ops live in the modules of this package; importing the package registers
them all.
"""

from __future__ import annotations

import edgec.lower.control  # If, Loop: nested blocks
import edgec.lower.quant  # noqa: F401  (QuantizeLinear, QLinearConv, ... : int8 kernels)
from edgec.lower import (  # noqa: F401
    conv,
    dynamic,
    einsum,
    elementwise,
    misc,
    pool_norm,
    rewrite,
    shape_ops,
    tensor,
)
from edgec.lower.context import LoweringContext, Unsupported, lower_graph, lowers, supported_ops

__all__ = ["LoweringContext", "Unsupported", "lower_graph", "lowers", "supported_ops"]
