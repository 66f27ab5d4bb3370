"""Run convolutions and fully connected layers with sparse-enough constant
weights on the sparse kernels (SPARSE_CONV, SPARSE_GEMM).

Runs on the lowered program, after activation fusion. For every CONV of
group 1, GEMM and MATMUL (constant 2-D B) whose weight is a constant, the
dense weight is recovered (from the instruction's layout, or from the
pre-lowering weights the caller passes) and its density compared with the
break-even density of the sparse kernel for that shape of work (the
measured speed of the sparse kernel per stored weight relative to the dense
kernel per weight: bench/prune.py measures it). Where the sparse kernel wins
and the encoding (edgec.prune.encoding) is smaller than the dense weight,
the instruction is replaced; elsewhere the weight stays dense. A model
whose weights hold no zeros is left untouched, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower.conv import (
    VARIANT_BEST,
    VARIANT_FAMILY_MASK,
    VARIANT_KSPLIT,
    VARIANT_PACKED,
)
from edgec.program import Instruction, Program
from edgec.prune.encoding import SparseTensor, SparseWeight, best_encoding

# Mirrors of the kernels' blocking (kernels/ref/sparse_conv.c, sparse_gemm.c).
CONV_BAND_Q, CONV_TQ, CONV_RBLK, CONV_TP_PW = 1024, 128, 16, 128
CONV_SHIFT_TQ = 256  # kernels/x86/sparse_shift.c TQ
CONV_SHIFT_MAX_STRIDE, CONV_SHIFT_MAX_CLASSES = 8, 16  # kernels/ref/sparse_core.h
GEMM_GATHER_ROWS, GEMM_TB, GEMM_RB = 8, 64, 256

# Break-even densities (stored weights / dense weights) at or below which the
# sparse kernel is taken, by shape of work: where its time meets the dense
# kernel's, measured with `bench/prune.py --calibrate` (Xeon, AVX-512, 1 thread,
# against the dense kernels of the same tree; bench/RESULTS.md "Pruning and
# sparsity"). Convs other than pointwise stride 1 run the shift form on x86
# (kernels/x86/sparse_shift.c): a 3x3 stride-1 conv, against the dense Winograd
# kernel, ties near 0.27; strided convs (dense: im2col) near 0.47.
BREAK_EVEN = {
    "conv1x1": 0.35,  # 1x1 convs (dense: packed GEMM)
    "conv_winograd": 0.27,  # convs the dense side runs by Winograd
    "conv": 0.45,  # other convs (dense: im2col GEMM)
    "gemm_gather": 0.45,  # fully connected, < 8 rows
    "gemm_tiled": 0.40,  # fully connected, >= 8 rows
}
VARIANT_WINOGRAD = 0x200
MIN_WEIGHTS = 64  # smaller weights stay dense: nothing to gain


def _align64(n: int) -> int:
    return (n + 63) // 64 * 64


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m


def sparse_conv_workspace(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                          y_shape: tuple[int, ...], strides: list[int], pads: list[int],
                          dilations: list[int], shift: bool = True) -> int:
    """Bytes per thread SPARSE_CONV needs (sparse_conv.c): pointwise, 0, or where
    the plane is no multiple of 16 floats the x86 aligned copy of a pixel tile of
    every input channel (shift=False: 0, what files from before it were given);
    else a slab of padded, phase-split input rows plus a tile buffer; at least
    the x86 shift form's (shift=False: the slab path's alone, what files from
    before the shift form were given)."""
    sp = len(x_shape) - 2
    c = x_shape[1]
    strides = strides or [1] * sp
    dilations = dilations or [1] * sp
    pads = pads or [0] * (2 * sp)
    kernel = list(w_shape[2:])
    if all(v == 1 for v in kernel) and all(s == 1 for s in strides) and not any(pads) \
            and tuple(y_shape[2:]) == tuple(x_shape[2:]):
        p = int(np.prod(y_shape[2:], dtype=np.int64))
        if not shift or p % 16 == 0:
            return 0
        tiles = -(-p // CONV_TP_PW)
        return _align64(4 * c * _round_up(-(-p // tiles), 16))
    (kh, sh, dh, oh) = (kernel[0], strides[0], dilations[0], y_shape[2]) if sp == 2 \
        else (1, 1, 1, 1)
    kw, sw, dw, ow = kernel[-1], strides[-1], dilations[-1], y_shape[-1]
    ky, kx = (kh - 1) * dh // sh, (kw - 1) * dw // sw
    wp = ow + kx
    wa = (wp + 15) // 16 * 16
    aligned = (wa - wp) * 8 <= wa and kw <= 3
    wq, variants = (wa, kw) if aligned else (wp, sw)
    band = max(1, min(oh, -(-CONV_BAND_Q // wq)))
    slab_rows = band + ky
    tq = min(CONV_TQ, (band - 1) * wq + ow)
    if aligned:
        tq = (tq + 15) // 16 * 16
    slab = _align64(4 * variants * c * sh * slab_rows * wq) + _align64(4 * CONV_RBLK * tq)
    if not shift or max(sh, sw) > CONV_SHIFT_MAX_STRIDE or kw > CONV_SHIFT_MAX_CLASSES:
        return slab
    # on x86 (AVX2 / AVX-512) the shift form (kernels/x86/sparse_shift.c), taken only
    # where the scratch holds it: the larger of the two (every stride phase counted)
    w, pw = x_shape[-1], pads[sp - 1]  # width and its begin pad
    shifts = [(k * dw - pw) // sw for k in range(kw)]
    smin, smax = min(0, *shifts), max(0, *shifts)
    base = max(-(-w // sw) - smin, ow + smax)
    wq = _round_up(base, 8)
    if (_round_up(base, 16) - wq) * 8 <= _round_up(base, 16):
        wq = _round_up(base, 16)
    band = min(max(-(-CONV_BAND_Q // wq), 1), oh)
    trows = min(max(CONV_SHIFT_TQ // wq, 1), band)
    tqp = _round_up(trows * wq, 16)
    pitch = _round_up(-smin, 16) + tqp + _round_up(smax, 16) + 16
    shift_bytes = (_align64(4 * c * sh * sw * (band + ky) * wq) + _align64(4 * 2 * kw * pitch)
                   + _align64(4 * CONV_RBLK * tqp))
    return max(slab, shift_bytes)


def sparse_gemm_workspace(rows: int, n: int, k: int) -> int:
    """Bytes per thread SPARSE_GEMM needs (sparse_gemm.c) for rows x K inputs."""
    if rows < GEMM_GATHER_ROWS:
        return 0
    tb = min(rows, GEMM_TB)
    return _align64(4 * k * tb) + _align64(4 * min(n, GEMM_RB) * tb)


@dataclass
class Decision:
    """What the pass decided for one instruction (for reports)."""

    name: str  # instruction name
    weight: str  # weight tensor name
    work: str  # key of BREAK_EVEN
    numel: int
    nonzeros: int
    dense_bytes: int
    sparse: SparseWeight | None  # the encoding used, None = kept dense

    @property
    def density(self) -> float:
        return self.nonzeros / max(self.numel, 1)


# ---- recovering dense weights --------------------------------------------------


def _unpack_conv(packed: np.ndarray, m: int) -> np.ndarray:
    """[ceil(M/6), C, kh, kw, 6] (group 1) -> (M, C, kh, kw)."""
    slivers, cg, kh, kw, mr = packed.shape
    a = packed.reshape(slivers, cg * kh * kw, mr).transpose(0, 2, 1).reshape(slivers * mr, -1)
    return np.ascontiguousarray(a[:m]).reshape(m, cg, kh, kw)


def _unpack_b(packed: np.ndarray, n: int) -> np.ndarray:
    """[ceil(N/16), K, 16] -> the (K, N) it was packed from."""
    slivers, k, nr = packed.shape
    return np.ascontiguousarray(packed.transpose(1, 0, 2).reshape(k, slivers * nr)[:, :n])


def conv_weight(program: Program, ins: Instruction) -> np.ndarray | None:
    """The (M, C/g, [kh,] kw) weight of a CONV, if its layout is one this pass reads."""
    w = program.tensors[ins.inputs[1]]
    if w.data is None:
        return None
    flags = ins.variant & ~(VARIANT_FAMILY_MASK | VARIANT_KSPLIT)  # KSPLIT: not a layout
    y_shape = program.tensors[ins.outputs[0]].shape
    if flags == 0:
        return np.asarray(w.data, np.float32)
    if flags == VARIANT_PACKED and ins.options.group == 1 and w.data.ndim == 5:
        dense = _unpack_conv(np.asarray(w.data, np.float32), y_shape[1])
        return dense[:, :, 0, :] if len(y_shape) == 3 else dense
    return None


def fc_weight(program: Program, ins: Instruction) -> np.ndarray | None:
    """The (N, K) weight of a GEMM (B) or MATMUL (2-D constant B), if readable."""
    b = program.tensors[ins.inputs[1]]
    if b.data is None:
        return None
    flags = ins.variant & ~VARIANT_FAMILY_MASK
    n = program.tensors[ins.outputs[0]].shape[-1]
    if flags == VARIANT_PACKED and b.data.ndim == 3:
        return np.ascontiguousarray(_unpack_b(np.asarray(b.data, np.float32), n).T)
    if flags != 0 or b.data.ndim != 2:
        return None
    data = np.asarray(b.data, np.float32)
    trans_b = ins.opcode == Opcode.GEMM and bool(ins.options.transB)
    return np.ascontiguousarray(data if trans_b else data.T)


# ---- the pass -------------------------------------------------------------------------


def _conv_candidate(program: Program, ins: Instruction,
                    originals: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str, int] | None:
    x = program.tensors[ins.inputs[0]]
    if ins.options.group != 1 or len(x.shape) not in (3, 4) or x.dtype != np.float32:
        return None
    w = conv_weight(program, ins)
    y_shape = program.tensors[ins.outputs[0]].shape
    expect = (y_shape[1], x.shape[1])
    if w is None and program.tensors[ins.inputs[1]].is_constant:  # a layout we cannot read
        w = originals.get(ins.name)
    if w is None or w.shape[:2] != expect or w.ndim != len(x.shape):
        return None
    opts = ins.options
    strides, pads, dilations = (list(opts.strides or []), list(opts.pads or []),
                                list(opts.dilations or []))
    scratch = sparse_conv_workspace(tuple(x.shape), w.shape, tuple(y_shape), strides, pads,
                                    dilations)
    if all(k == 1 for k in w.shape[2:]):
        work = "conv1x1"
    elif ins.variant & VARIANT_WINOGRAD or (
            tuple(w.shape[2:]) == (3, 3) and all(v == 1 for v in strides + dilations)):
        work = "conv_winograd"  # (the dense side lays out Winograd weights after this pass)
    else:
        work = "conv"
    return w, work, scratch


def _fc_candidate(program: Program, ins: Instruction,
                  originals: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str, int] | None:
    a = program.tensors[ins.inputs[0]]
    y = program.tensors[ins.outputs[0]]
    if a.dtype != np.float32:  # float64 GEMM/MATMUL: no sparse kernel
        return None
    if ins.opcode == Opcode.GEMM:
        if ins.options.transA or len(a.shape) != 2 or len(ins.inputs) > 3:
            return None
        if len(ins.inputs) == 3 and ins.inputs[2] >= 0:
            c = program.tensors[ins.inputs[2]]
            if tuple(c.shape) not in ((y.shape[1],), (1, y.shape[1])):
                return None
    elif len(a.shape) < 2 or len(y.shape) != len(a.shape):
        return None
    w = fc_weight(program, ins)
    if w is None and program.tensors[ins.inputs[1]].is_constant:
        w = originals.get(ins.name)
    if w is None or w.shape != (y.shape[-1], a.shape[-1]):
        return None
    rows = int(np.prod(a.shape[:-1], dtype=np.int64))
    work = "gemm_gather" if rows < GEMM_GATHER_ROWS else "gemm_tiled"
    return w, work, sparse_gemm_workspace(rows, w.shape[0], w.shape[1])


def _replace(program: Program, ins: Instruction, sw: SparseWeight, name: str,
             scratch: int) -> None:
    index = program.add_tensor(SparseTensor(name, sw))
    ins.inputs = [ins.inputs[0], index, *ins.inputs[2:]]
    if ins.opcode == Opcode.CONV:
        ins.opcode = Opcode.SPARSE_CONV
    else:
        old = ins.options
        ins.options = GemmOptionsT()
        ins.options.transA, ins.options.transB = False, True
        if ins.opcode == Opcode.GEMM:
            ins.options.alpha, ins.options.beta = old.alpha, old.beta
            ins.options.activation = old.activation
            ins.options.actAlpha, ins.options.actBeta = old.actAlpha, old.actBeta
        ins.opcode = Opcode.SPARSE_GEMM
    ins.variant = VARIANT_BEST
    ins.scratch_size = scratch


def sparsify(program: Program, originals: Mapping[str, np.ndarray] | None = None,
             break_even: Mapping[str, float] | None = None) -> list[Decision]:
    """Rewrites qualifying instructions in place; returns a decision per
    candidate. originals: dense weights by instruction (node) name, for
    layouts this pass cannot read back."""
    originals = originals or {}
    limits = dict(BREAK_EVEN, **(break_even or {}))
    decisions: list[Decision] = []
    for ins in program.instructions:
        if ins.opcode == Opcode.CONV:
            found = _conv_candidate(program, ins, originals)
        elif ins.opcode in (Opcode.GEMM, Opcode.MATMUL):
            found = _fc_candidate(program, ins, originals)
        else:
            continue
        if found is None:
            continue
        w, work, scratch = found
        nonzeros = int(np.count_nonzero(w))
        stored = program.tensors[ins.inputs[1]]
        decision = Decision(ins.name, stored.name, work, int(w.size), nonzeros,
                            stored.nbytes, None)
        weight_name = stored.name
        decisions.append(decision)
        if w.size < MIN_WEIGHTS or nonzeros == w.size:
            continue
        sw = best_encoding(w)
        stored_density = sw.values.size / w.size
        if stored_density > limits[work] or sw.stored_bytes >= decision.dense_bytes:
            continue
        base = weight_name.removesuffix("/packed")
        _replace(program, ins, sw, f"{base}/sparse", scratch)
        decision.sparse = sw
    return decisions
