"""Lowering of Conv, ConvTranspose, Gemm and MatMul (float32, 1-D and 2-D convs).

Every spatial attribute is resolved here from the static shapes (auto_pad,
output_shape, defaults), so the runtime sees explicit strides, pads and
dilations. Activations are left NONE: edgec.passes.fuse_activation folds a
following Relu/Clip/... in afterwards.

The scratch sizes below mirror the kernels' block sizes in
runtime_c/src/kernels/ref (gemm_core.h, conv.c, conv_transpose.c, gemm.c);
a kernel refuses to load when its instruction declares less than it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from edgec.fb.Activation import Activation
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower.context import LoweringContext, Unsupported, lowers

# ---- workspace sizes (mirrors of the C kernels' blocking) -------------------

GEMM_MR, GEMM_NR, GEMM_KC, GEMM_MC, GEMM_NC = 6, 8, 256, 120, 1024
CONV_TILE_PIXELS = 256  # conv.c TP
CONVT_ROWS, CONVT_COL_FLOATS, CONVT_MIN_TILE = 1024, 262144, 16  # conv_transpose.c
FLOAT = 4


def _round_up(v: int, to: int) -> int:
    return (v + to - 1) // to * to


def gemm_workspace(m: int, n: int, k: int) -> int:
    """Bytes ec_sgemm needs to pack its operands (gemm_core.c ec_sgemm_workspace)."""
    if m <= 0 or n <= 0 or k <= 0:
        return 0
    kc = min(k, GEMM_KC)
    nc = min(_round_up(n, GEMM_NR), GEMM_NC)
    mc = min(_round_up(m, GEMM_MR), GEMM_MC)
    return _round_up(FLOAT * kc * nc, 64) + _round_up(FLOAT * mc * kc, 64)


def conv_workspace(mg: int, k: int, pixels: int, path: str) -> int:
    """conv.c: k = C/group * kernel size, pixels = output pixels per image."""
    tp = min(pixels, CONV_TILE_PIXELS)
    if path == "depthwise":
        return 0
    if path == "pointwise":
        return gemm_workspace(mg, tp, k)
    kc = min(k, GEMM_KC)
    return _round_up(FLOAT * kc * tp, 64) + gemm_workspace(mg, tp, kc)


def conv_transpose_workspace(mg: int, cg: int, kernel_size: int, in_pixels: int) -> int:
    """conv_transpose.c: blocks of output channels x kernel taps against pixel tiles."""
    mb = min(max(CONVT_ROWS // kernel_size, 1), mg)
    rows = mb * kernel_size
    tp = min(in_pixels, max(CONVT_MIN_TILE, CONVT_COL_FLOATS // max(rows, 1)))
    return _round_up(FLOAT * rows * tp, 64) + gemm_workspace(rows, tp, cg)


# ---- attributes --------------------------------------------------------------


@dataclass
class ConvGeometry:
    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pads: list[int]  # begin..., end...


def _ints(node: ir.Node, name: str, default: Sequence[int]) -> list[int]:
    value = node.attributes.get_ints(name, None)
    return [int(v) for v in value] if value is not None else list(default)


def _check_float(ctx: LoweringContext, node: ir.Node) -> None:
    for value in [*node.inputs, *node.outputs]:
        if value is not None and ctx.dtype(value) != np.float32:
            raise Unsupported(f"{ctx.dtype(value)} operand {value.name!r} (float32 only)")


def _spatial_rank(ctx: LoweringContext, x: ir.Value) -> int:
    rank = len(ctx.shape(x))
    if rank not in (3, 4):
        raise Unsupported(f"{rank - 2}-D convolution (1-D and 2-D only)")
    return rank - 2


def _kernel(node: ir.Node, weight_shape: tuple[int, ...]) -> list[int]:
    kernel = list(weight_shape[2:])
    attr = node.attributes.get_ints("kernel_shape", None)
    if attr is not None and [int(v) for v in attr] != kernel:
        raise Unsupported(f"kernel_shape {list(attr)} differs from the weight's {kernel}")
    return kernel


def _auto_pad(node: ir.Node) -> str:
    mode = node.attributes.get_string("auto_pad", "NOTSET")
    if mode not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise Unsupported(f"auto_pad={mode!r}")
    return mode


def _split_total(total: int, extra_at_end: bool) -> tuple[int, int]:
    """Splits a total padding; the odd pixel goes to the end or the beginning."""
    small, large = total // 2, total - total // 2
    return (small, large) if extra_at_end else (large, small)


def _conv_pads(node: ir.Node, in_size: list[int], g: ConvGeometry) -> list[int]:
    mode = _auto_pad(node)
    n = len(in_size)
    if mode == "VALID":
        return [0] * (2 * n)
    if mode == "NOTSET":
        return _ints(node, "pads", [0] * (2 * n))
    begins, ends = [], []
    for size, k, s, d in zip(in_size, g.kernel, g.strides, g.dilations, strict=True):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        b, e = _split_total(total, extra_at_end=mode == "SAME_UPPER")
        begins.append(b)
        ends.append(e)
    return begins + ends


def _base_geometry(ctx: LoweringContext, node: ir.Node) -> ConvGeometry:
    """Kernel, strides and dilations; pads are left for the op to work out."""
    w_shape = ctx.shape(node.inputs[1])
    n = _spatial_rank(ctx, node.inputs[0])
    g = ConvGeometry(kernel=_kernel(node, w_shape), strides=_ints(node, "strides", [1] * n),
                     dilations=_ints(node, "dilations", [1] * n), pads=[])
    if len(g.kernel) != n or len(g.strides) != n or len(g.dilations) != n:
        raise Unsupported("kernel, strides or dilations do not match the spatial rank")
    if min(g.kernel + g.strides + g.dilations, default=1) < 1:
        raise Unsupported("zero-sized kernel, stride or dilation")
    return g


def _group(node: ir.Node, channels: int) -> int:
    group = node.attributes.get_int("group", 1)
    if group < 1 or channels % group:
        raise Unsupported(f"group {group} does not divide {channels} input channels")
    return group


def _check_pads(g: ConvGeometry) -> None:
    if len(g.pads) != 2 * len(g.kernel) or min(g.pads, default=0) < 0:
        raise Unsupported(f"pads {g.pads} (need {2 * len(g.kernel)} non-negative values)")


def _conv_geometry(ctx: LoweringContext, node: ir.Node) -> ConvGeometry:
    g = _base_geometry(ctx, node)
    g.pads = _conv_pads(node, list(ctx.shape(node.inputs[0])[2:]), g)
    _check_pads(g)
    return g


def _conv_options(g: ConvGeometry, group: int) -> ConvOptionsT:
    return ConvOptionsT(strides=g.strides, pads=g.pads, dilations=g.dilations, group=group,
                        activation=Activation.NONE)


def _conv_path(g: ConvGeometry, group: int, channels: int, out_channels: int) -> str:
    if group == channels == out_channels:
        return "depthwise"
    if all(k == 1 for k in g.kernel) and all(s == 1 for s in g.strides) and not any(g.pads):
        return "pointwise"
    return "im2col"


def _inputs(ctx: LoweringContext, node: ir.Node) -> list[int]:
    """Tensor indices of the node's inputs, an absent trailing optional one dropped."""
    values = list(node.inputs)
    while values and values[-1] is None:
        values.pop()
    return [ctx.tensor(v) for v in values]


# ---- Conv / ConvTranspose ----------------------------------------------------


@lowers("Conv")
def lower_conv(ctx: LoweringContext, node: ir.Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    _check_float(ctx, node)
    g = _conv_geometry(ctx, node)
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    group = _group(node, x_shape[1])
    y_shape = ctx.shape(node.outputs[0])
    mg, cg = w_shape[0] // group, w_shape[1]
    k = cg * int(np.prod(g.kernel))
    pixels = int(np.prod(y_shape[2:]))
    scratch = conv_workspace(mg, k, pixels, _conv_path(g, group, x_shape[1], w_shape[0]))
    ctx.emit(Opcode.CONV, _inputs(ctx, node), [ctx.output(node.outputs[0])],
             _conv_options(g, group), node.name, scratch_size=scratch)


def _transpose_pads(node: ir.Node, x_shape: tuple[int, ...], y_shape: tuple[int, ...],
                    g: ConvGeometry) -> list[int]:
    """Pads that make the (statically known) output size, as onnxruntime places them."""
    mode = _auto_pad(node)
    n = len(x_shape) - 2
    derived = mode.startswith("SAME") or node.attributes.get_ints("output_shape", None)
    if not derived:
        return [0] * (2 * n) if mode == "VALID" else _ints(node, "pads", [0] * (2 * n))
    adj = _ints(node, "output_padding", [0] * n)
    if len(adj) != n:
        raise Unsupported(f"output_padding {adj} does not match the spatial rank")
    begins, ends = [], []
    for i in range(n):
        natural = (x_shape[2 + i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1
        total = max(0, natural + adj[i] - y_shape[2 + i])
        # As onnxruntime (and the ONNX spec) place it: the odd pixel goes to
        # the end only for SAME_UPPER. A negative total shows up as output
        # rows that no input reaches, which the kernel fills with the bias.
        b, e = _split_total(total, extra_at_end=mode == "SAME_UPPER")
        begins.append(b)
        ends.append(e)
    return begins + ends


@lowers("ConvTranspose")
def lower_conv_transpose(ctx: LoweringContext, node: ir.Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    _check_float(ctx, node)
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    g = _base_geometry(ctx, node)
    g.pads = _transpose_pads(node, x_shape, ctx.shape(node.outputs[0]), g)
    _check_pads(g)
    group = _group(node, x_shape[1])
    kernel_size = int(np.prod(g.kernel))
    scratch = conv_transpose_workspace(w_shape[1], x_shape[1] // group, kernel_size,
                                       int(np.prod(x_shape[2:])))
    ctx.emit(Opcode.CONV_TRANSPOSE, _inputs(ctx, node), [ctx.output(node.outputs[0])],
             _conv_options(g, group), node.name, scratch_size=scratch)


# ---- Gemm / MatMul -----------------------------------------------------------


@lowers("Gemm")
def lower_gemm(ctx: LoweringContext, node: ir.Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    _check_float(ctx, node)
    a_shape, b_shape = ctx.shape(a), ctx.shape(b)
    if len(a_shape) != 2 or len(b_shape) != 2:
        raise Unsupported("A and B must be matrices")
    opts = GemmOptionsT(transA=bool(node.attributes.get_int("transA", 0)),
                        transB=bool(node.attributes.get_int("transB", 0)),
                        alpha=node.attributes.get_float("alpha", 1.0),
                        beta=node.attributes.get_float("beta", 1.0),
                        activation=Activation.NONE)
    m, k = a_shape[::-1] if opts.transA else a_shape
    n = b_shape[0] if opts.transB else b_shape[1]
    ctx.emit(Opcode.GEMM, _inputs(ctx, node), [ctx.output(node.outputs[0])], opts, node.name,
             scratch_size=gemm_workspace(m, n, k))


def _matmul_dims(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int]:
    """(m, n, k) of the product gemm.c runs: the batch folds into m when B has none."""
    m = a[-2] if len(a) >= 2 else 1
    n = b[-1] if len(b) >= 2 else 1
    k = a[-1]
    if len(a) >= 2 and all(d == 1 for d in b[:-2]):
        m *= int(np.prod(a[:-2], dtype=np.int64))
    return m, n, k


@lowers("MatMul")
def lower_matmul(ctx: LoweringContext, node: ir.Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    _check_float(ctx, node)
    a_shape, b_shape = ctx.shape(a), ctx.shape(b)
    if not a_shape or not b_shape:
        raise Unsupported("MatMul of a scalar")
    m, n, k = _matmul_dims(a_shape, b_shape)
    ctx.emit(Opcode.MATMUL, [ctx.tensor(a), ctx.tensor(b)], [ctx.output(node.outputs[0])],
             name=node.name, scratch_size=gemm_workspace(m, n, k))
