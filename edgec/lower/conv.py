"""Lowering of Conv, ConvTranspose, Gemm and MatMul (float32, 1-D and 2-D convs).

Every spatial attribute is resolved here from the static shapes (auto_pad,
output_shape, defaults), so the runtime sees explicit strides, pads and
dilations. Activations are left NONE: edgec.passes.fuse_activation folds a
following Relu/Clip/... in afterwards.

pack_weights (run by the compiler after every pass that reads weights) then
stores constant weights in the layout the kernels read: GEMM panels, or the
Winograd transform for the 3x3 stride-1 convs where it pays.

The scratch sizes below mirror the kernels' block sizes in
runtime_c/src/kernels/ref (gemm_core.h, conv.c, conv_transpose.c, gemm.c);
a kernel refuses to load when its instruction declares less than it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir

from edgec.fb.Activation import Activation
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.PadMode import PadMode
from edgec.fb.PadOptions import PadOptionsT
from edgec.fb.SliceOptions import SliceOptionsT
from edgec.fb.TransposeOptions import TransposeOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.program import BF16, Instruction, Program, Tensor

# ---- workspace sizes (mirrors of the C kernels' blocking) -------------------

PACK_MR, PACK_NR = 6, 16  # gemm_core.h EC_PACK_MR / EC_PACK_NR: sliver widths
GEMM_KC, GEMM_MC, GEMM_NC = 256, 240, 1024
CONV_TILE_PIXELS = 256  # conv.c TP
CONVT_ROWS, CONVT_COL_FLOATS, CONVT_MIN_TILE = 1024, 262144, 16  # conv_transpose.c
FLOAT = 4


def round_up(v: int, to: int) -> int:
    return (v + to - 1) // to * to


# ---- kernel variants and packed weights (kernel.h EC_VARIANT_*) ---------------

VARIANT_REF, VARIANT_BEST, VARIANT_AVX2, VARIANT_AVX512 = 0, 1, 2, 3
VARIANT_FAMILY_MASK = 0xFF
VARIANT_PACKED, VARIANT_WINOGRAD = 0x100, 0x200
# with VARIANT_WINOGRAD: the weight stays raw and the kernel transforms it per
# panel at run time (F(4x4), or F(2x2) with VARIANT_WINOGRAD_F2)
VARIANT_WINOGRAD_OTF, VARIANT_WINOGRAD_F2 = 0x400, 0x800
# a packed 1x1 conv of one image whose AVX-512 kernel sums the input channels in
# two halves (edgec.passes.split_input_channels)
VARIANT_KSPLIT = 0x1000


def pack_a(w: np.ndarray) -> np.ndarray:
    """(M, K) -> [ceil(M/6), K, 6]: the GEMM's A slivers (rows past M are zero)."""
    m, k = w.shape
    mp = round_up(max(m, 1), PACK_MR)
    padded = np.zeros((mp, k), np.float32)
    padded[:m] = w
    return np.ascontiguousarray(padded.reshape(mp // PACK_MR, PACK_MR, k).transpose(0, 2, 1))


def pack_b(b: np.ndarray) -> np.ndarray:
    """(K, N) -> [ceil(N/16), K, 16]: the GEMM's B slivers (columns past N are zero)."""
    k, n = b.shape
    np_ = round_up(max(n, 1), PACK_NR)
    padded = np.zeros((k, np_), np.float32)
    padded[:, :n] = b
    return np.ascontiguousarray(padded.reshape(k, np_ // PACK_NR, PACK_NR).transpose(1, 0, 2))


def pack_conv_weight(w: np.ndarray, group: int) -> np.ndarray:
    """(M, C/g, [kh,] kw) -> [g * ceil(M/g/6), C/g, kh, kw, 6] (conv.c, packed)."""
    kh = w.shape[2] if w.ndim == 4 else 1
    m, cg, kw = w.shape[0], w.shape[1], w.shape[-1]
    mg = m // group
    flat = w.reshape(group, mg, cg * kh * kw)
    packed = np.concatenate([pack_a(flat[g]) for g in range(group)])
    return packed.reshape(packed.shape[0], cg, kh, kw, PACK_MR)


# Winograd F(r x r, 3x3), r = 4 or 2: U = G g G^T per (output, input) channel pair
# (conv.c, gemm_core.h); a = r + 2, a^2 products per output tile.
_WINO_G = {
    4: np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                 [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
    2: np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
}
USE_WINOGRAD = True  # tests switch it off to compare with the direct conv


def winograd_weight(w: np.ndarray, r: int) -> np.ndarray:
    """(M, C, 3, 3) -> [a^2, ceil(M/6), C, 6]: the transformed matrices in A slivers."""
    g = _WINO_G[r]
    u = np.einsum("ia,mcab,jb->ijmc", g, w.astype(np.float64), g)
    a2 = (r + 2) ** 2
    u = u.reshape(a2, w.shape[0], w.shape[1]).astype(np.float32)
    return np.stack([pack_a(u[xi]) for xi in range(a2)])


def winograd_raw_weight(w: np.ndarray) -> np.ndarray:
    """(M, C, 3, 3) -> [ceil(M/6), 9, C, 6]: the raw taps in A slivers, tap-major, for
    the kernel's on-the-fly transform (conv.c, EC_VARIANT_WINOGRAD_OTF)."""
    m, c = w.shape[:2]
    mp = round_up(max(m, 1), PACK_MR)
    padded = np.zeros((mp, c, 9), np.float32)
    padded[:m] = w.reshape(m, c, 9)
    return np.ascontiguousarray(padded.reshape(mp // PACK_MR, PACK_MR, c, 9)
                                .transpose(0, 3, 2, 1))


def winograd_tile_block(a2: int, c: int, m: int, tiles: int, x86: bool = False) -> int:
    """conv.c wino_tile_block: output tiles per block. x86: as many blocks, made
    as equal as whole 16-tile slivers allow (49 tiles at 48: 32 + 17)."""
    tb = min(max((1 << 18) // (a2 * (c + m)) // 16 * 16, 16), 64)
    if x86:
        return round_up(-(-tiles // max(-(-tiles // tb), 1)), 16)
    return min(tb, round_up(tiles, 16))


WINO_PANEL, WINO_PAD = 12, 16  # conv.c WP, WPAD: the on-the-fly transform's panel


def winograd_x86_otf_block(r: int, c: int, tiles: int) -> int:
    """Tiles per block of the AVX-512 on-the-fly kernel (conv.c): it keeps one
    panel's products (WINO_PANEL rows), not M's."""
    return winograd_tile_block((r + 2) ** 2, c, WINO_PANEL, tiles, x86=True)


def winograd_workspace(r: int, c: int, m: int, tiles: int, otf: bool = False) -> int:
    """conv.c required_scratch, for the largest block any target's kernel uses."""
    a2 = (r + 2) ** 2
    tb = max(winograd_tile_block(a2, c, m, tiles),
             winograd_x86_otf_block(r, c, tiles) if otf else 0)
    panel = round_up(FLOAT * a2 * (c * WINO_PANEL + WINO_PAD), 64) if otf else 0
    return round_up(FLOAT * a2 * c * tb, 64) + round_up(FLOAT * a2 * m * tb, 64) + panel


def _winograd_tiles(r: int, y_shape: tuple[int, ...]) -> int:
    return y_shape[0] * -(-y_shape[2] // r) * -(-y_shape[3] // r)


# Rough single-core figures of this machine class for the choice below: AVX-512
# GEMM throughput (FLOP/s) and the rate weights stream in from DRAM inside a
# model whose weights do not stay cached (bytes/s; 9 GB/s measured on the
# flushed 7x7 512->512 F(2x2) layer, bench/RESULTS.md). Stored Winograd
# weights are a^2/9 times larger, which is what limits them on the deep
# layers (few tiles, many channels); the on-the-fly form streams the raw 9
# floats per channel pair and pays the transform (G g G^T: about
# _WINO_WEIGHT_FLOPS[r] FLOPs per pair) once per tile block.
_GEMM_FLOPS, _WEIGHT_BYTES_PER_S = 150e9, 9e9
_WINO_WEIGHT_FLOPS = {4: 160, 2: 84}


def _choose_winograd(g: ConvGeometry, group: int, x_shape: tuple[int, ...],
                     y_shape: tuple[int, ...]) -> tuple[int, bool] | None:
    """(r, on_the_fly) for a 3x3 stride-1 conv where Winograd pays (output tile
    size 4 or 2; weight stored transformed, or raw and transformed per panel
    at run time), else None; Winograd must beat the direct conv by 10%.

    Work is the GEMM FLOPs (pixel and tile counts padded to the 16-wide
    sliver as the kernels run them, plus the input and output transforms);
    weight traffic is its bytes at the DRAM rate. When the GEMM reads the
    weight itself (direct, Winograd stored) the hardware prefetcher overlaps
    the two: the larger plus a quarter of the smaller. The on-the-fly
    transform stalls on its stream instead, once per tile block (its own
    arithmetic hides under the stream), and the GEMMs follow: the sum.
    Calibrated on the flushed ResNet-18 layers (bench/RESULTS.md)."""
    if not USE_WINOGRAD or len(g.kernel) != 2 or g.kernel != [3, 3] or group != 1:
        return None
    if g.strides != [1, 1] or g.dilations != [1, 1]:
        return None
    n, c, m = x_shape[0], x_shape[1], y_shape[1]
    if c < 8 or m < 8:
        return None

    def overlapped(flops: float, weight_floats: float) -> float:
        a, b = flops / _GEMM_FLOPS, FLOAT * weight_floats / _WEIGHT_BYTES_PER_S
        return max(a, b) + 0.25 * min(a, b)

    direct = overlapped(2 * 9 * n * round_up(y_shape[2] * y_shape[3], 16) * m * c, 9 * m * c)
    best: tuple[int, bool] | None = None
    best_time = 0.9 * direct
    for r in (4, 2):
        tiles, a2 = _winograd_tiles(r, y_shape), (r + 2) ** 2
        blocks = -(-tiles // winograd_tile_block(a2, c, m, tiles))
        work = 2 * a2 * (round_up(tiles, 16) * m * c + 3 * tiles * (c + m))
        stream = max(FLOAT * 9 * m * c / _WEIGHT_BYTES_PER_S,
                     _WINO_WEIGHT_FLOPS[r] * m * c / _GEMM_FLOPS)
        for otf, t in ((False, overlapped(work, a2 * m * c)),
                       (True, blocks * stream + work / _GEMM_FLOPS)):
            if t < best_time:
                best, best_time = (r, otf), t
    if best == (4, False) and _x86_otf_pays(c, m, _winograd_tiles(4, y_shape)):
        best = (4, True)
    return best


def _x86_otf_pays(c: int, m: int, tiles: int) -> bool:
    """F(4x4) on the fly instead of stored where the stored weight does not fit
    a 1 MiB L2 but the raw one does, and the AVX-512 kernel runs two tile
    blocks: the raw weight streams from memory once and the second block
    re-reads it from L2, and at 2 threads each thread transforms the weight
    for its own block while the stored weight is one stream both threads wait
    on. (One block would split the output channels at 2 threads, each thread
    redoing the whole input transform: 0.62 ms; more blocks were not measured.) Measured
    on ResNet-18's 28x28 128 -> 128 convs (two blocks): 0.95 -> 0.97 ms at 1
    thread, 0.61 -> 0.51 at 2 (bench/RESULTS.md)."""
    l2 = 1 << 20
    blocks = -(-tiles // winograd_x86_otf_block(4, c, tiles))
    return FLOAT * 36 * m * c > l2 and FLOAT * 9 * m * c <= l2 and blocks == 2


def gemm_workspace(m: int, n: int, k: int) -> int:
    """Bytes ec_sgemm needs to pack its operands (gemm_core.c ec_sgemm_workspace)."""
    if m <= 0 or n <= 0 or k <= 0:
        return 0
    kc = min(k, GEMM_KC)
    nc = min(round_up(n, PACK_NR), GEMM_NC)
    mc = min(round_up(m, PACK_MR), GEMM_MC)
    return round_up(FLOAT * kc * nc, 64) + round_up(FLOAT * mc * kc, 64)


def depthwise_workspace(out_size: list[int], kernel: list[int], strides: list[int],
                        dilations: list[int]) -> int:
    """conv.c: the padded plane of the SIMD depthwise kernels (x86/dwconv_impl.h)."""
    if any(d != 1 for d in dilations) or any(s > 2 for s in strides):
        return 0
    oh, ow = (out_size if len(out_size) == 2 else [1, *out_size])
    kh, kw = (kernel if len(kernel) == 2 else [1, *kernel])
    sh, sw = (strides if len(strides) == 2 else [1, *strides])
    if oh * ow == 0:
        return 0
    row = round_up(ow + kw, 16) + 16
    return round_up(FLOAT * ((oh - 1) * sh + kh) * row * sw, 64)


def conv_workspace(mg: int, k: int, pixels: int, path: str) -> int:
    """conv.c: k = C/group * kernel size, pixels = output pixels per image."""
    tp = min(pixels, CONV_TILE_PIXELS)
    if path == "depthwise":
        raise ValueError("depthwise_workspace sizes the depthwise path")
    if path == "pointwise":
        return gemm_workspace(mg, tp, k)
    kc = min(k, GEMM_KC)
    return round_up(FLOAT * kc * round_up(tp, PACK_NR), 64) + gemm_workspace(mg, tp, kc)


def conv_transpose_workspace(mg: int, cg: int, kernel_size: int, in_pixels: int) -> int:
    """conv_transpose.c: blocks of output channels x kernel taps against pixel tiles."""
    mb = min(max(CONVT_ROWS // kernel_size, 1), mg)
    rows = mb * kernel_size
    tp = min(in_pixels, max(CONVT_MIN_TILE, CONVT_COL_FLOATS // max(rows, 1)))
    return round_up(FLOAT * rows * tp, 64) + gemm_workspace(rows, tp, cg)


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


F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
HALF = (np.dtype(np.float16), BF16)


def _check_float(ctx: LoweringContext, node: ir.Node, f64: bool = False) -> bool:
    """Checks the operands share one float dtype the kernels take: float32, float64 where
    f64 (Gemm and MatMul, computed in double), or float16/bfloat16, which run in the float32
    kernel between casts: returns True for those (see _inputs, _output, _cast_back)."""
    values = [v for v in [*node.inputs, *node.outputs] if v is not None]
    first = ctx.dtype(values[0])
    allowed = (F32, *HALF, *((F64,) if f64 else ()))
    for value in values:
        if ctx.dtype(value) != first or first not in allowed:
            names = "float32, float64, float16 or bfloat16" if f64 else \
                "float32, float16 or bfloat16"
            raise Unsupported(f"{ctx.dtype(value)} operand {value.name!r} ({names}, all "
                              f"of one dtype)")
    return first in HALF


def _as_f32(ctx: LoweringContext, value: ir.Value, name: str) -> int:
    """A float16/bfloat16 operand in float32: a constant converted here, else by a CAST."""
    data = ctx.const(value)
    if data is not None:
        return ctx.constant(np.asarray(data).astype(F32), f"{value.name or 'const'}/f32")
    dst = ctx.scratch_tensor(f"{value.name}/f32", F32, ctx.shape(value))
    ctx.emit(Opcode.CAST, [ctx.tensor(value)], [dst], name=name)
    return dst


def _output(ctx: LoweringContext, node: ir.Node, half: bool) -> int:
    out = node.outputs[0]
    if not half:
        return ctx.output(out)
    return ctx.scratch_tensor(f"{out.name}/f32", F32, ctx.shape(out))


def _cast_back(ctx: LoweringContext, node: ir.Node, y: int, half: bool) -> None:
    if half:
        ctx.emit(Opcode.CAST, [y], [ctx.output(node.outputs[0])], name=node.name)


def _spatial_rank(ctx: LoweringContext, x: ir.Value, most: int = 2) -> int:
    rank = len(ctx.shape(x))
    if not 3 <= rank <= most + 2:
        raise Unsupported(f"{rank - 2}-D convolution (1-D to {most}-D only)")
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


def _base_geometry(ctx: LoweringContext, node: ir.Node, most: int = 2) -> ConvGeometry:
    """Kernel, strides and dilations; pads are left for the op to work out."""
    w_shape = ctx.shape(node.inputs[1])
    n = _spatial_rank(ctx, node.inputs[0], most)
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
    g = _base_geometry(ctx, node, most=3)
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


def _inputs(ctx: LoweringContext, node: ir.Node, half: bool = False) -> list[int]:
    """Tensor indices of the node's inputs, an absent trailing optional one dropped;
    half: float16/bfloat16 ones converted to float32."""
    values = list(node.inputs)
    while values and values[-1] is None:
        values.pop()
    if half:
        return [-1 if v is None else _as_f32(ctx, v, node.name) for v in values]
    return [ctx.tensor(v) for v in values]


# ---- Conv / ConvTranspose ----------------------------------------------------


@lowers("Conv")
def lower_conv(ctx: LoweringContext, node: ir.Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    half = _check_float(ctx, node)
    g = _conv_geometry(ctx, node)
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    group = _group(node, x_shape[1])
    if len(x_shape) < 5:
        y = _output(ctx, node, half)
        _emit_conv(ctx, _inputs(ctx, node, half), y, x_shape, w_shape,
                   ctx.shape(node.outputs[0]), g, group, node.name)
        _cast_back(ctx, node, y, half)
        return
    _lower_conv3d(ctx, node, g, group, half)


def _emit_conv(ctx: LoweringContext, ins: list[int], y: int, x_shape: tuple[int, ...],
               w_shape: tuple[int, ...], y_shape: tuple[int, ...], g: ConvGeometry, group: int,
               name: str) -> None:
    mg, cg = w_shape[0] // group, w_shape[1]
    k = cg * int(np.prod(g.kernel))
    pixels = int(np.prod(y_shape[2:]))
    path = _conv_path(g, group, x_shape[1], w_shape[0])
    if path == "depthwise":
        scratch = depthwise_workspace(list(y_shape[2:]), g.kernel, g.strides, g.dilations)
    else:
        scratch = conv_workspace(mg, k, pixels, path)
    conv = ctx.emit(Opcode.CONV, ins, [y], _conv_options(g, group), name, scratch_size=scratch)
    conv.variant = VARIANT_BEST  # pack_weights lays out a constant weight for the kernels


def _view(ctx: LoweringContext, index: int, shape: tuple[int, ...], name: str) -> int:
    """Tensor `index` under another shape: the same bytes (an alias; a constant is reshaped)."""
    t = ctx.program.tensors[index]
    if t.data is not None:
        return ctx.constant(t.data.reshape(shape), name)
    root = t.alias_of if t.alias_of is not None else index
    return ctx.program.add_tensor(Tensor(name=name, dtype=t.dtype, shape=shape, alias_of=root))


def _lower_conv3d(ctx: LoweringContext, node: ir.Node, g: ConvGeometry, group: int,
                  half: bool) -> None:
    """3-D Conv as a sum of 2-D ones over the kernel's depth: the input, its depth moved
    next to the batch and zero-padded, is sliced at kernel depth kd's offsets (kd * dilation
    + stride * output depth) and the slices folded into the batch; weight[:, :, kd]
    convolves them (the bias joins the first); the sum goes back to (N, M, D, H, W)."""
    name, out = node.name, node.outputs[0]
    (n, c, d, h, w_), (m, cg, kd_n, kh, kw) = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    od, oh, ow = ctx.shape(out)[2:]
    ins = _inputs(ctx, node, half)
    pd0, pd1, dp = g.pads[0], g.pads[3], d + g.pads[0] + g.pads[3]

    def scratch(tag: str, shape: tuple[int, ...]) -> int:
        return ctx.scratch_tensor(f"{out.name}/{tag}", F32, shape)

    xt = scratch("ndchw", (n, d, c, h, w_))
    ctx.emit(Opcode.TRANSPOSE, [ins[0]], [xt], TransposeOptionsT(perm=[0, 2, 1, 3, 4]), name)
    if pd0 or pd1:
        xp = scratch("padded", (n, dp, c, h, w_))
        ctx.emit(Opcode.PAD, [xt], [xp], PadOptionsT(pads=[0, pd0, 0, 0, 0, 0, pd1, 0, 0, 0],
                                                     mode=PadMode.CONSTANT, value=0.0), name)
        xt = xp
    g2 = ConvGeometry(kernel=[kh, kw], strides=g.strides[1:], dilations=g.dilations[1:],
                      pads=[g.pads[1], g.pads[2], g.pads[4], g.pads[5]])
    wdata = ctx.program.tensors[ins[1]].data
    acc = -1
    for k in range(kd_n):
        xs = scratch(f"slice{k}", (n, od, c, h, w_))
        ctx.emit(Opcode.SLICE, [xt], [xs], SliceOptionsT(starts=[0, k * g.dilations[0], 0, 0, 0],
                                                         steps=[1, g.strides[0], 1, 1, 1]), name)
        if wdata is not None:
            wk = ctx.constant(np.ascontiguousarray(wdata[:, :, k]), f"{out.name}/w{k}")
        else:
            wk = scratch(f"w{k}", (m, cg, 1, kh, kw))
            ctx.emit(Opcode.SLICE, [ins[1]], [wk], SliceOptionsT(starts=[0, 0, k, 0, 0],
                                                                 steps=[1] * 5), name)
            wk = _view(ctx, wk, (m, cg, kh, kw), f"{out.name}/w{k}/2d")
        ops = [_view(ctx, xs, (n * od, c, h, w_), f"{out.name}/slice{k}/2d"), wk]
        if k == 0 and len(ins) > 2 and ins[2] >= 0:
            ops.append(ins[2])
        yk = scratch(f"part{k}", (n * od, m, oh, ow))
        _emit_conv(ctx, ops, yk, (n * od, c, h, w_), (m, cg, kh, kw), (n * od, m, oh, ow), g2,
                   group, name)
        if acc >= 0:
            total = scratch(f"sum{k}", (n * od, m, oh, ow))
            ctx.emit(Opcode.ADD, [acc, yk], [total], name=name)
            yk = total
        acc = yk
    y = _output(ctx, node, half)
    ctx.emit(Opcode.TRANSPOSE, [_view(ctx, acc, (n, od, m, oh, ow), f"{out.name}/ndmhw")], [y],
             TransposeOptionsT(perm=[0, 2, 1, 3, 4]), name)
    _cast_back(ctx, node, y, half)


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


def _conv_transpose_3d(ctx: LoweringContext, node: ir.Node, half: bool) -> None:
    """3-D ConvTranspose as a MatMul of the weights with every input pixel (the
    columns) and a Col2Im that sums the columns into the output (rewrite.py)."""
    from onnx import helper, numpy_helper

    from edgec.lower.misc import _lower_body  # local: misc imports this module's peers

    x, w, out = node.inputs[0], node.inputs[1], node.outputs[0]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    if half:
        raise Unsupported("3-D ConvTranspose in float16 (float32 only)")
    x_shape, w_shape, y_shape = ctx.shape(x), ctx.shape(w), ctx.shape(out)
    if _group(node, x_shape[1]) != 1:
        raise Unsupported("3-D ConvTranspose with groups")
    g = _base_geometry(ctx, node, most=3)
    g.pads = _transpose_pads(node, x_shape, y_shape, g)
    _check_pads(g)
    n = 3
    for d in range(n):
        padded = y_shape[2 + d] + g.pads[d] + g.pads[n + d]
        if (padded - g.dilations[d] * (g.kernel[d] - 1) - 1) // g.strides[d] + 1 != \
                x_shape[2 + d]:
            raise Unsupported(f"output {list(y_shape)} for input {list(x_shape)}")
    channels, maps, k = x_shape[1], w_shape[1], int(np.prod(g.kernel))
    pixels = int(np.prod(x_shape[2:]))
    p = f"{node.name or 'ConvTranspose'}/"

    def const(name: str, array: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [p + name],
                                value=numpy_helper.from_array(np.asarray(array)))

    nodes = [
        const("w_shape", np.array([channels, maps * k], np.int64)),
        helper.make_node("Reshape", [w.name, p + "w_shape"], [p + "w2"]),
        helper.make_node("Transpose", [p + "w2"], [p + "wt"], perm=[1, 0]),
        const("x_shape", np.array([x_shape[0], channels, pixels], np.int64)),
        helper.make_node("Reshape", [x.name, p + "x_shape"], [p + "x2"]),
        helper.make_node("MatMul", [p + "wt", p + "x2"], [p + "cols"]),
        const("image", np.array(y_shape[2:], np.int64)),
        const("block", np.array(g.kernel, np.int64)),
        helper.make_node("Col2Im", [p + "cols", p + "image", p + "block"],
                         [p + "sum" if bias is not None else out.name],
                         dilations=g.dilations, pads=g.pads, strides=g.strides),
    ]
    if bias is not None:
        nodes += [const("b_shape", np.array([1, maps, 1, 1, 1], np.int64)),
                  helper.make_node("Reshape", [bias.name, p + "b_shape"], [p + "b"]),
                  helper.make_node("Add", [p + "sum", p + "b"], [out.name])]
    _lower_body(ctx, node, nodes, {"": 18}, "rewrite")


@lowers("ConvTranspose")
def lower_conv_transpose(ctx: LoweringContext, node: ir.Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    half = _check_float(ctx, node)
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(x_shape) == 5:
        _conv_transpose_3d(ctx, node, half)
        return
    g = _base_geometry(ctx, node)
    g.pads = _transpose_pads(node, x_shape, ctx.shape(node.outputs[0]), g)
    _check_pads(g)
    group = _group(node, x_shape[1])
    kernel_size = int(np.prod(g.kernel))
    scratch = conv_transpose_workspace(w_shape[1], x_shape[1] // group, kernel_size,
                                       int(np.prod(x_shape[2:])))
    y = _output(ctx, node, half)
    ins = ctx.emit(Opcode.CONV_TRANSPOSE, _inputs(ctx, node, half), [y],
                   _conv_options(g, group), node.name, scratch_size=scratch)
    ins.variant = VARIANT_BEST
    _cast_back(ctx, node, y, half)


# ---- Gemm / MatMul -----------------------------------------------------------


@lowers("Gemm")
def lower_gemm(ctx: LoweringContext, node: ir.Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    half = _check_float(ctx, node, f64=True)
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
    y = _output(ctx, node, half)
    ins = ctx.emit(Opcode.GEMM, _inputs(ctx, node, half), [y], opts,
                   node.name, scratch_size=gemm_workspace(m, n, k))
    ins.variant = VARIANT_BEST
    _cast_back(ctx, node, y, half)


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
    half = _check_float(ctx, node, f64=True)
    a_shape, b_shape = ctx.shape(a), ctx.shape(b)
    if not a_shape or not b_shape:
        raise Unsupported("MatMul of a scalar")
    m, n, k = _matmul_dims(a_shape, b_shape)
    y = _output(ctx, node, half)
    ins = ctx.emit(Opcode.MATMUL, _inputs(ctx, node, half), [y],
                   name=node.name, scratch_size=gemm_workspace(m, n, k))
    ins.variant = VARIANT_BEST
    _cast_back(ctx, node, y, half)


# ---- weight layout for the kernels (the last pass before memory planning) ---------


def _geometry_of(ins: Instruction) -> ConvGeometry:
    o = ins.options
    return ConvGeometry(kernel=[], strides=list(o.strides or []),
                        dilations=list(o.dilations or []), pads=list(o.pads or []))


def _float_constant(program: Program, index: int) -> np.ndarray | None:
    t = program.tensors[index] if index >= 0 else None
    if t is None or t.data is None or t.dtype != np.float32:
        return None
    return t.data


def _constant(program: Program, data: np.ndarray, name: str) -> int:
    data = np.ascontiguousarray(data, np.float32)
    return program.add_tensor(Tensor(name=name, dtype=data.dtype, shape=tuple(data.shape),
                                     data=data))


def pack_weights(program: Program) -> int:
    """Stores the constant weights of CONV, GEMM and MATMUL in the layout their
    kernels read (kernel.h EC_VARIANT_PACKED / EC_VARIANT_WINOGRAD), choosing
    Winograd for the 3x3 stride-1 convs where it pays. Runs after every pass
    that reads weights in their ONNX layout (fusion, quantization, pruning),
    just before memory planning. Returns how many weights it laid out."""
    done = 0
    for ins in program.instructions:
        if ins.variant & ~VARIANT_FAMILY_MASK or len(ins.inputs) < 2:
            continue
        data = _float_constant(program, ins.inputs[1])
        if data is None:
            continue
        name = program.tensors[ins.inputs[1]].name
        if ins.opcode == Opcode.CONV:
            x_shape = program.tensors[ins.inputs[0]].shape
            y_shape = program.tensors[ins.outputs[0]].shape
            if data.ndim != len(x_shape):
                continue
            group = int(ins.options.group)
            if group == x_shape[1] == y_shape[1]:
                continue  # depthwise reads (C, 1, kh, kw) as it is
            g = _geometry_of(ins)
            g.kernel = list(data.shape[2:])
            n = len(g.kernel)
            g.strides = g.strides or [1] * n
            g.dilations = g.dilations or [1] * n
            wino = _choose_winograd(g, group, x_shape, y_shape)
            if wino is not None:
                r, otf = wino
                if otf:
                    ins.inputs[1] = _constant(program, winograd_raw_weight(data),
                                              f"{name}/winograd_raw")
                    ins.variant |= VARIANT_WINOGRAD | VARIANT_WINOGRAD_OTF
                    ins.variant |= VARIANT_WINOGRAD_F2 if r == 2 else 0
                else:
                    ins.inputs[1] = _constant(program, winograd_weight(data, r),
                                              f"{name}/winograd")
                    ins.variant |= VARIANT_WINOGRAD
                ins.scratch_size = winograd_workspace(r, x_shape[1], y_shape[1],
                                                      _winograd_tiles(r, y_shape), otf)
            else:
                ins.inputs[1] = _constant(program, pack_conv_weight(data, group), f"{name}/packed")
                ins.variant |= VARIANT_PACKED
        elif ins.opcode == Opcode.GEMM and data.ndim == 2:
            b_kn = data.T if ins.options.transB else data
            ins.inputs[1] = _constant(program, pack_b(b_kn), f"{name}/packed")
            ins.options.transB = False
            ins.variant |= VARIANT_PACKED
        elif ins.opcode == Opcode.MATMUL and data.ndim == 2 and \
                len(program.tensors[ins.inputs[0]].shape) >= 2:
            ins.inputs[1] = _constant(program, pack_b(data), f"{name}/packed")
            ins.variant |= VARIANT_PACKED
        else:
            continue
        done += 1
    return done
