"""Weights: the float weight of a lowered instruction in its ONNX layout (the
lowering may have packed it for the float kernels, edgec/lower/conv.py),
per-channel symmetric int8 quantization, and fp16 storage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.fb.Opcode import Opcode
from edgec.lower import conv as lconv
from edgec.program import Instruction, Program, Quantization, Tensor


def _unpack_a(packed: np.ndarray, rows: int) -> np.ndarray:
    """[S, K, MR] slivers -> (rows, K)."""
    s, k, mr = packed.shape
    return packed.transpose(0, 2, 1).reshape(s * mr, k)[:rows]


def conv_weight(program: Program, ins: Instruction) -> np.ndarray:
    """(M, C/group, [kh,] kw) float32 of a CONV, whatever layout it was lowered to."""
    w = program.tensors[ins.inputs[1]].data
    assert w is not None
    y_shape = program.tensors[ins.outputs[0]].shape
    x_shape = program.tensors[ins.inputs[0]].shape
    m, rank = y_shape[1], len(x_shape)
    if ins.variant & lconv.VARIANT_WINOGRAD_OTF:
        s_, _, c, mr = w.shape  # [ceil(M/6), 9, C, 6]
        return np.ascontiguousarray(w.transpose(0, 3, 2, 1).reshape(s_ * mr, c, 3, 3)[:m])
    if ins.variant & lconv.VARIANT_WINOGRAD:
        a2 = w.shape[0]
        r = {36: 4, 16: 2}[a2]
        g = np.asarray(lconv._WINO_G[r], np.float64)
        gp = np.linalg.pinv(g)
        u = np.stack([_unpack_a(w[i], m) for i in range(a2)]).reshape(r + 2, r + 2, m, -1)
        full = np.einsum("ai,ijmc,bj->mcab", gp, u.astype(np.float64), gp)
        return full.astype(np.float32)
    if ins.variant & lconv.VARIANT_PACKED:
        group = int(ins.options.group)
        mg = m // group
        per = -(-mg // lconv.PACK_MR)
        _, cg, kh, kw, mr = w.shape
        rows = [_unpack_a(w[g * per:(g + 1) * per].reshape(per, cg * kh * kw, mr), mg)
                for g in range(group)]
        full = np.concatenate(rows).reshape(m, cg, kh, kw)
        return full if rank == 4 else full.reshape(m, cg, kw)
    return np.asarray(w, np.float32)


def gemm_b(program: Program, ins: Instruction) -> np.ndarray:
    """B of a GEMM or MATMUL as the (K, N) matrix it multiplies by (trans_b applied)."""
    b = program.tensors[ins.inputs[1]].data
    assert b is not None
    n = program.tensors[ins.outputs[0]].shape[-1]
    if ins.variant & lconv.VARIANT_PACKED:
        return np.ascontiguousarray(b.transpose(1, 0, 2).reshape(b.shape[1], -1)[:, :n])
    if ins.opcode == Opcode.GEMM and ins.options.transB:
        return np.ascontiguousarray(b.T)
    return np.asarray(b, np.float32)


@dataclass
class QuantizedWeight:
    q: np.ndarray  # int8, same layout as the float weight
    scales: np.ndarray  # float32, one per channel along axis
    axis: int


def quantize_per_channel(w: np.ndarray, axis: int, qmax: int = 127) -> QuantizedWeight:
    """Symmetric int8 per channel along axis: scale = max|w| / qmax (1 for an all-zero
    channel), q = clip(round(w / scale), -qmax, qmax)."""
    w = np.asarray(w, np.float32)
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    amax = np.abs(moved).max(axis=1) if moved.size else np.zeros(w.shape[axis], np.float32)
    scales = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scales.reshape(shape)), -qmax, qmax).astype(np.int8)
    return QuantizedWeight(q=q, scales=scales, axis=axis)


def with_scales(w: np.ndarray, scales: np.ndarray, axis: int) -> QuantizedWeight:
    """Quantizes w with given per-channel scales (imported QDQ models): rounds back
    the integers the scales came with."""
    scales = np.asarray(scales, np.float32).reshape(-1)
    shape = [1] * w.ndim
    if scales.size > 1:
        shape[axis] = -1
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / safe.reshape(shape)), -128, 127).astype(np.int8)
    if scales.size == 1:
        return QuantizedWeight(q=q, scales=safe.copy(), axis=-1)
    return QuantizedWeight(q=q, scales=safe, axis=axis)


def weight_tensor(name: str, qw: QuantizedWeight) -> Tensor:
    return Tensor(name=name, dtype=np.dtype(np.int8), shape=tuple(qw.q.shape), data=qw.q,
                  quant=Quantization(scales=qw.scales, zero_points=np.zeros(qw.scales.size,
                                                                            np.int64),
                                     axis=qw.axis))


def snr_db(ref: np.ndarray, approx: np.ndarray) -> float:
    ref64 = np.asarray(ref, np.float64)
    noise = float(np.sum((ref64 - np.asarray(approx, np.float64)) ** 2))
    signal = float(np.sum(ref64 ** 2))
    if noise == 0:
        return float("inf")
    if signal == 0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


# ---- fp16 storage ----

FP16_MIN_BYTES = 1024


def _fp16_slots(ins: Instruction) -> range:
    """Inputs that may be read from an arena copy: every input of the float ops (the int8
    and sparse kernels, and BATCH_NORM, read their constants at load)."""
    if ins.opcode >= 300 or ins.opcode == Opcode.BATCH_NORM:
        return range(0)
    return range(len(ins.inputs))


def store_fp16(program: Program) -> int:
    """Float32 constants of 1 KB and more (weights, embeddings, ...) become float16
    constants, widened back by a CAST placed right before their first use (so the float32
    copy lives only while needed). Returns the bytes saved in the file."""
    saved = 0
    firsts: dict[int, int] = {}
    for pos, ins in enumerate(program.instructions):
        for slot in _fp16_slots(ins):
            if ins.inputs[slot] >= 0:
                firsts.setdefault(ins.inputs[slot], pos)
    casts: dict[int, int] = {}  # float constant -> its float32 arena copy
    inserts: list[tuple[int, Instruction]] = []
    for index, pos in sorted(firsts.items(), key=lambda kv: kv[1]):
        t = program.tensors[index]
        if t.data is None or t.dtype != np.float32 or t.nbytes < FP16_MIN_BYTES:
            continue
        if not np.all(np.isfinite(t.data)) or np.abs(t.data).max(initial=0) > 65504:
            continue
        half = program.add_tensor(Tensor(name=f"{t.name}/fp16", dtype=np.dtype(np.float16),
                                         shape=t.shape, data=t.data.astype(np.float16)))
        wide = program.add_tensor(Tensor(name=f"{t.name}/f32", dtype=np.dtype(np.float32),
                                         shape=t.shape))
        casts[index] = wide
        inserts.append((pos, Instruction(Opcode.CAST, [half], [wide], name=f"{t.name}/cast")))
        saved += t.nbytes // 2
    if not casts:
        return 0
    for ins in program.instructions:
        for slot in _fp16_slots(ins):
            if ins.inputs[slot] in casts:
                ins.inputs[slot] = casts[ins.inputs[slot]]
    at: dict[int, list[Instruction]] = {}
    for pos, ins in inserts:
        at.setdefault(pos, []).append(ins)
    out: list[Instruction] = []
    for pos, ins in enumerate(program.instructions):
        out.extend(at.get(pos, []))
        out.append(ins)
    program.instructions = out
    return saved
