"""Helpers of the int8 tests: one-instruction programs built directly (no ONNX),
run in the C runtime, and numpy integer references of the kernels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import edgec
from edgec.format.writer import serialize
from edgec.plan import plan_arena
from edgec.program import Instruction, Program, Quantization, Tensor
from edgec.quant.kernels import qmul_from_double, requantize

U8, S8 = np.dtype(np.uint8), np.dtype(np.int8)


def qrange(dtype: np.dtype) -> tuple[int, int]:
    return (-128, 127) if np.dtype(dtype) == S8 else (0, 255)


@dataclass
class Builder:
    """A program with arena inputs (fed by name) and constants."""

    program: Program = field(default_factory=Program)
    feeds: dict[str, np.ndarray] = field(default_factory=dict)

    def _quant(self, scale: object, zp: object, axis: int) -> Quantization | None:
        if scale is None:
            return None
        s = np.atleast_1d(np.asarray(scale, np.float32))
        z = np.atleast_1d(np.asarray(zp if zp is not None else 0, np.int64))
        if z.size == 1 and s.size > 1:
            z = np.zeros(s.size, np.int64)
        return Quantization(scales=s, zero_points=z, axis=axis)

    def input(self, value: np.ndarray, scale: object = None, zp: object = None,
              axis: int = -1) -> int:
        name = f"in{len(self.feeds)}"
        self.feeds[name] = value
        return self.program.add_tensor(Tensor(name=name, dtype=value.dtype, shape=value.shape,
                                              quant=self._quant(scale, zp, axis)))

    def const(self, value: np.ndarray, scale: object = None, zp: object = None,
              axis: int = -1) -> int:
        value = np.ascontiguousarray(value)
        return self.program.add_tensor(Tensor(name=f"c{len(self.program.tensors)}",
                                              dtype=value.dtype, shape=value.shape, data=value,
                                              quant=self._quant(scale, zp, axis)))

    def output(self, dtype: np.dtype, shape: Sequence[int], scale: object = None,
               zp: object = None, axis: int = -1) -> int:
        return self.program.add_tensor(Tensor(name=f"out{len(self.program.tensors)}",
                                              dtype=np.dtype(dtype), shape=tuple(shape),
                                              quant=self._quant(scale, zp, axis)))

    def emit(self, opcode: int, inputs: list[int], outputs: list[int], options: object = None,
             variant: int = 0, scratch: int = 0) -> None:
        self.program.instructions.append(Instruction(opcode, inputs, outputs, options,
                                                     name=f"op{opcode}", variant=variant,
                                                     scratch_size=scratch))

    def run(self, outputs: list[int], threads: int = 1) -> list[np.ndarray]:
        prog = self.program
        prog.inputs = [i for i, t in enumerate(prog.tensors) if t.name in self.feeds]
        prog.outputs = outputs
        plan_arena(prog)
        session = edgec.Session(serialize(prog), threads=threads)
        return session.run(None, self.feeds)


def rand_q(rng: np.random.Generator, dtype: np.dtype, shape: Sequence[int]) -> np.ndarray:
    lo, hi = qrange(dtype)
    return rng.integers(lo, hi + 1, size=tuple(shape)).astype(dtype)


def requant_ref(acc: np.ndarray, real: np.ndarray | float, zp: int, lo: int,
                hi: int) -> np.ndarray:
    """Fixed-point requantization with per-element (broadcast) real multipliers,
    exactly as the kernels do it, clamped."""
    acc = np.asarray(acc, np.int64)
    real_b = np.broadcast_to(np.asarray(real, np.float64), acc.shape)
    out = np.empty(acc.shape, np.int64)
    for r in np.unique(real_b):
        m, s = qmul_from_double(float(r))
        mask = real_b == r
        out[mask] = requantize(acc[mask], m, s)
    return np.clip(out + zp, lo, hi)


def float_requant(acc: np.ndarray, real: np.ndarray | float, zp: int, lo: int,
                  hi: int) -> np.ndarray:
    """The float64 reference: round(acc * real) + zp, clamped."""
    return np.clip(np.round(np.asarray(acc, np.float64) * real) + zp, lo, hi)


def conv_int(x: np.ndarray, w: np.ndarray, strides: Sequence[int], pads: Sequence[int],
             dilations: Sequence[int], group: int) -> np.ndarray:
    """int64 NCHW 2-D convolution of already zero-point-shifted x (pads are
    zeros) with w [M, C/group, kh, kw]."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    xp = np.zeros((n, c, h + pads[0] + pads[2], wd + pads[1] + pads[3]), np.int64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, m, oh, ow), np.int64)
    mg = m // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * mg:(g + 1) * mg].astype(np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wg[:, :, i, j])
    return out
